"""Generated README prose: every number in a result table, every comparison word confirmed by the
verdict tables, Chinese summaries filled from the same tables, no cited file the package lacks.
Each check is run on a planted counter-example that must fail."""
import re

import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.core.config import ROOT
from ragrouter_lib.evaluation import verdicts
from ragrouter_lib.report import prose, readme, zh
from ragrouter_lib.routers import THESIS_NAMES

BERT, MF = THESIS_NAMES["bert"], THESIS_NAMES["mf"]
COLS = ["model", "cpt50", "cpt80", "apgr", "cpt50_sd", "cpt80_sd", "apgr_sd", "n_seeds"]


def _table(rows, extra=None):
    df = pd.DataFrame(rows, columns=COLS)
    if extra is not None:
        df["extra"] = extra
    return df


@pytest.fixture
def results(tmp_path):
    """A small results folder: Tables 1-3, a pool card, verdicts from planted per-prompt scores."""
    res = tmp_path / "results"
    res.mkdir()
    rng = np.random.default_rng(0)
    n = 1500
    weak = rng.random(n) < 0.6
    strong = weak | (rng.random(n) < 0.5)
    ev = pd.DataFrame({"weak_correct": weak, "strong_correct": strong})
    gain = (strong & ~weak).astype(float)
    verdicts.save_scores(tmp_path, "mmlu", "ragrouter", [0, 1], rng.random((2, n)) + 0.7 * gain)
    verdicts.save_scores(tmp_path, "mmlu", "bert", [0, 1], rng.random((2, n)))
    verdicts.save_scores(tmp_path, "mmlu", "mf", [0, 1], rng.random((2, n)) + 4 * gain)
    verdicts.save_scores(tmp_path, "mmlu", verdicts.ablation_key(3), [0, 1], rng.random((2, n)))
    _, ver = verdicts.comparison_verdicts(tmp_path, "mmlu", {"mmlu": ev}, n_boot=100)
    ver.to_csv(res / "verdicts_tables_1_2.csv", index=False)
    verdicts.ablation_verdicts(tmp_path, {"mmlu": ev}, tables=(3,), n_boot=100).to_csv(
        res / "verdicts_tables_3_6.csv", index=False)
    _table([["RAGRouter", 41.234, 70.111, 0.6123, 1.1, 0.9, 0.0041, 2],
            [BERT, 49.876, 79.222, 0.5031, 0.8, 0.7, 0.0052, 2],
            [MF, 20.555, 33.444, 0.8765, 0.4, 0.3, 0.0063, 2]],
           extra=[False, False, False]).to_csv(res / "table1.csv", index=False)
    _table([["without multi-source data augmentation", 48.2, 77.3, 0.5077, 2.0, 1.5, 0.0141, 2],
            ["with multi-source data augmentation", 41.234, 70.111, 0.6123, 1.1, 0.9, 0.0041, 2]]
           ).to_csv(res / "table3.csv", index=False)
    pd.DataFrame({"panel": ["routerbench", "routerdc", "All"], "source": ["arc", "gsm8k-train", None],
                  "All": [400, 300, 700]}).to_csv(res / "02_pool_card.csv", index=False)
    return res


def _readme(res):
    return "\n".join(["# x", zh.summary_zh(res), "## Results", readme.results_block(res),
                      "### Reading the results (plainly)", prose.reading_block(res), "## Data", "fine."])


def test_generated_readme_passes(results):
    text = _readme(results)
    assert readme.check_readme_claims(text, results) == []
    # the planted scores: ours beats BERT, is beaten by the near-oracle MF, part of Table 3 holds
    assert f"- APGR: beats {BERT}; is beaten by {MF}." in text
    assert ("expectation (RAGRouter ahead of every thesis row on every metric, each by an interval that "
            "excludes zero): not met.") in text  # MF's interval excludes zero against ours
    assert re.search(r"- APGR: holds \(with - without \+0\.\d{3}", text)
    assert "0.612" in text and f"优于 {zh.name_zh(BERT)}" in text and f"劣于 {zh.name_zh(MF)}" in text


def test_planted_wrong_number_fails(results):
    text = _readme(results).replace("0.612 ± 0.004", "0.641 ± 0.004", 1)
    assert any("0.641" in p for p in readme.check_readme_claims(text, results))
    text = _readme(results).replace("### Reading the results (plainly)",
                                    "### Reading the results (plainly)\nRAGRouter reaches 0.733 APGR.")
    assert any("0.733" in p for p in readme.check_readme_claims(text, results))


def test_planted_wrong_verdict_fails(results):
    good = _readme(results)
    swapped = good.replace(f"- APGR: beats {BERT}; is beaten by {MF}.", f"- APGR: beats {BERT}, {MF}.")
    assert swapped != good
    assert any(MF in p and "'beats'" in p for p in readme.check_readme_claims(swapped, results))
    for said in ("met", "not shown"):
        flipped = good.replace("excludes zero): not met.", f"excludes zero): {said}.")
        assert flipped != good and any("expectation" in p for p in readme.check_readme_claims(flipped, results))
    abl = re.sub(r"- APGR: holds", "- APGR: hurts", good)
    assert any("Table 3" in p for p in readme.check_readme_claims(abl, results))
    prose = good.replace("### Reading the results (plainly)",
                         "### Reading the results (plainly)\nOn MMLU RAGRouter clearly outperforms MF.")
    assert any("outperforms" in p for p in readme.check_readme_claims(prose, results))
    # outside the results sections nothing is checked
    assert readme.check_readme_claims(good.replace("fine.", "RAGRouter beats 0.999."), results) == []


def test_without_verdicts_no_comparison_word(results):
    for f in ("verdicts_tables_1_2.csv", "verdicts_tables_3_6.csv"):
        (results / f).unlink()
    text = _readme(results)
    assert readme.check_readme_claims(text, results) == []
    assert not re.search(r"- APGR: (beats|holds)", text)


def test_chinese_summary_keeps_metric_names_and_the_pool_size(results):
    text = zh.summary_zh(results)
    assert text.startswith(zh.ZH_START) and "## 中文摘要" in text
    for term in ("APGR", "CPT(50%)", "RAGRouter", "表 1", "判定规则", "与论文的差异"):
        assert term in text
    assert "700 条" in text  # the pool size from 02_pool_card.csv, not typed


def test_notebook_conclusions_from_real_results():
    res = ROOT / "outputs" / "results"
    if not (res / "table1.csv").exists():
        pytest.skip("no outputs/results")
    for nb in range(1, 8):
        text = zh.conclusion_zh(nb, ROOT / "outputs")
        assert text.startswith("### 结论") and re.search(r"[\u4e00-\u9fff]", text)
        assert readme.check_readme_claims("## Results\n" + text, res) == [], nb
    with pytest.raises(ValueError):
        zh.conclusion_zh(8)


def test_readme_claims_match_outputs():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.check_readme_claims(text, ROOT / "outputs" / "results") == []


def test_no_reference_to_files_not_shipped():
    assert readme.external_references(ROOT) == []


def test_planted_references_are_found(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "here.csv").write_text("x\n")
    (tmp_path / "README.md").write_text("See `data/here.csv` and `data/gone.csv`.\nRules: MISSION.md\n")
    (tmp_path / "notebooks" / "01_x.py").write_text("# read ../shared/brief.txt\n")
    bad = readme.external_references(tmp_path)
    assert len(bad) == 3 and any("gone.csv" in b for b in bad) and not any("here.csv" in b for b in bad)


def test_plot_styles_distinct_and_ours_on_top():
    from ragrouter_lib.evaluation import plots
    from ragrouter_lib.routers import EXTRA_NAMES, OURS, THESIS_NAMES
    # our two final models (offline / paper) never share a run; both are drawn in our style
    names = [n for n in {**THESIS_NAMES, **EXTRA_NAMES} if n != "random" and n not in OURS[1:]]
    styles = {n: plots.style(n) for n in names}
    pairs = [(s["color"], s["marker"]) for s in styles.values()]
    assert len(set(pairs)) == len(pairs) and len({c for c, _ in pairs}) == len(pairs)
    assert max(styles, key=lambda n: styles[n]["zorder"]) == "ragrouter"
    assert plots.style("random")["ls"] == ":" and plots.style("Random") == plots.style("random")


def test_progress_is_plain_lines_outside_a_terminal(capsys):
    from ragrouter_lib.features.encoders import progress_bar
    assert list(progress_bar(range(10), 10, "encode", True)) == list(range(10))
    out = capsys.readouterr()
    assert "\r" not in out.out + out.err and out.err == ""
    lines = out.out.strip().splitlines()
    assert 2 <= len(lines) <= 5 and lines[-1].startswith("encode: 10/10 (100%)")


def test_run_block_is_generated_from_the_run_summary_and_the_manifest(tmp_path):
    import json
    (tmp_path / "run_summary.json").write_text(json.dumps({
        "profile": "offline", "commit": "abc123", "start": "t0", "cache_at_start": "cold", "status": "ok",
        "total_seconds": 5430.0, "budget_minutes": 100, "within_budget": True,
        "notebooks": {"01_x.ipynb": {"seconds": 6.0, "status": "ok"}, "02_y.ipynb": {"seconds": 5424.0, "status": "ok"}}}))
    man = tmp_path / "MANIFEST.json"
    man.write_text(json.dumps({"built_by": "scripts/build_derived.py", "commit": "def456", "total_seconds": 600.0,
                               "sets": [{"set": "mmlu", "pass": "lm_states", "n": 10, "seconds": 540.0}]}))
    block = readme.run_block(tmp_path, man)
    assert "commit `abc123`" in block and "**cold**" in block and "90.5 min in total" in block and "within" in block
    assert "| `02_y` | 90.4 | ok |" in block and "10.0 min from scratch" in block and "mmlu lm_states (10 prompts, 9.0 min, 0.0 prompts/s)" in block
    over = json.loads((tmp_path / "run_summary.json").read_text()) | {"within_budget": False}
    (tmp_path / "run_summary.json").write_text(json.dumps(over))
    assert "OVER" in readme.run_block(tmp_path, man)
    assert "Last run from a **cold** cache" not in readme.run_block(tmp_path, man)  # the last run was cold
    warm = over | {"cache_at_start": "warm", "commit": "fed987", "budget_minutes": 15}
    (tmp_path / "run_summary.json").write_text(json.dumps(warm))
    (tmp_path / "run_summary_cold.json").write_text(json.dumps(over | {"within_budget": True}))
    block = readme.run_block(tmp_path, man)
    assert "commit `fed987`" in block and "**warm**" in block
    assert "Last run from a **cold** cache: commit `abc123`" in block and "90.5 min in total (budget 100 min: within)" in block
