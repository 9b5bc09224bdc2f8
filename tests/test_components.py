"""The component card (``runs.components``): every line computed from the run's result CSVs, with
its target and ``met``; a missing file reads "not measured", never a made-up number."""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.runs import components


def _write(res, name, frame):
    frame.to_csv(res / f"{name}.csv", index=False)


def _plant(res, *, error_rate=0.06, ok=93, rho_lo=0.01, chosen="smollm2", fused_lo=-0.01, kb_auc=0.6, p50=(30.0, 14.0)):
    n_err = int(round(error_rate * 150))
    _write(res, "04_augmentation_check", pd.DataFrame({"error": [True] * n_err + [False] * (150 - n_err)}))
    _write(res, "04_augmentation_audit", pd.DataFrame({"verdict": ["ok"] * ok + ["broken"] * (100 - ok)}))
    _write(res, "04_difficulty_signal", pd.DataFrame([
        {"signal": "smollm2", "rows": 6000, "rho_level": 0.03, "lo": rho_lo, "hi": 0.05, "chosen": chosen == "smollm2"},
        {"signal": "gemma", "rows": 600, "rho_level": 0.02, "lo": -0.05, "hi": 0.1, "chosen": chosen == "gemma"},
        {"signal": "off", "rows": 6000, "rho_level": 0.0, "lo": 0.0, "hi": 0.0, "chosen": chosen == "off"}]))
    _write(res, "07_feature_check", pd.DataFrame([{"check": "logistic probe", "value": 0.02, "ci_low": fused_lo,
                                                   "ci_high": 0.05, "met": fused_lo > 0}]))
    _write(res, "05_kb_held_out", pd.DataFrame({"kb": "chosen", "source": list("abcdefgh"),
                                                "AUC": kb_auc + np.linspace(-0.02, 0.02, 8)}))
    _write(res, "05_latency", pd.DataFrame({"router": ["ragrouter", "bert"], "p50_ms": list(p50)}))


def test_missing_files_read_not_measured(tmp_path):
    c = components.card(tmp_path)
    assert c.met.isna().all() and c.check.str.contains(components.NOT_MEASURED).all()
    assert set(c.table) == {0, 3, 4, 5, 6}


def test_each_line_follows_its_numbers_and_target(tmp_path):
    _plant(tmp_path)
    c = components.card(tmp_path).set_index("file")
    assert c.loc["04_augmentation_check.csv", "value"] == pytest.approx(0.06, abs=0.01)
    assert c.loc["04_augmentation_check.csv", "met"] is True
    assert c.loc["04_augmentation_audit.csv", "value"] == pytest.approx(0.93) and c.loc["04_augmentation_audit.csv", "met"]
    assert c.loc["04_difficulty_signal.csv", "met"] is True and "smollm2" in c.loc["04_difficulty_signal.csv", "check"]
    assert c.loc["07_feature_check.csv", "met"] is False
    assert c.loc["05_kb_held_out.csv", "ci_low"] > 0.5 and c.loc["05_kb_held_out.csv", "met"] is True
    assert c.loc["05_latency.csv", "value"] == pytest.approx(30 / 14) and c.loc["05_latency.csv", "met"] is False


def test_planted_failures_are_not_met(tmp_path):
    _plant(tmp_path, error_rate=0.2, ok=85, chosen="off", kb_auc=0.5, p50=(20.0, 14.0))
    c = components.card(tmp_path).set_index("file")
    assert c.loc["04_augmentation_check.csv", "met"] is False and c.loc["04_augmentation_audit.csv", "met"] is False
    assert c.loc["04_difficulty_signal.csv", "met"] is False  # "off" chosen: no difficulty signal
    assert c.loc["05_kb_held_out.csv", "met"] is False  # interval reaches 0.5
    assert c.loc["05_latency.csv", "met"] is True  # 20 / 14 <= 2


def test_for_table_gives_the_parts_lines(tmp_path):
    _plant(tmp_path)
    c = components.card(tmp_path)
    assert len(components.for_table(c, 3)) == 2 and list(components.for_table(c, 5).table) == [5]
