"""The ``paper`` profile end to end on stand-ins (issue 15): ``runner.dry_run`` executes every notebook
through papermill with the profile ``paper``, every Hub model and dataset replaced by a tiny randomly
initialised stand-in or a synthetic file (``hub.stand_ins``, no network), tiny sizes
(``config.PAPER_DRY_RUN``). Its numbers mean nothing; what is checked is that each ``paper`` code path
ran and left its trace in the result tables: the Hub datasets in the pool, RouteLLM's released
routers through the installed ``routellm`` package, the DeBERTa encoder and the Qwen + LoRA final
model (``ragrouter_llm``) in notebook 05, its ablations in notebook 07 and its row in Tables 1-2.
(The two-process ``accelerate`` launch has its own test in ``test_paper.py``.) Slow: ~15-20 min."""
import json

import pandas as pd
import pytest

from ragrouter_lib import runner
from ragrouter_lib.data import hub


@pytest.fixture(scope="module")
def dry(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper-dry-run")
    summary = runner.dry_run(out_dir=str(out))
    return out / "results", summary


def test_every_notebook_runs_in_the_paper_profile(dry):
    _, summary = dry
    failed = {k: v for k, v in summary["notebooks"].items() if v["status"] != "ok"}
    assert summary["status"] == "ok" and not failed, failed
    assert set(summary["notebooks"]) == {p.stem + ".ipynb" for p in runner.notebooks()}
    assert summary["profile"] == "paper" and summary["dry_run"]


def test_hub_datasets_enter_the_pool(dry):
    res, _ = dry
    card = pd.read_csv(res / "02_pool_card.csv")
    assert {"arena", "gpt4_dataset"} <= set(card.panel)


def test_released_routers_ran_or_say_why_not(dry):
    res, _ = dry
    st = pd.read_csv(res / "03_released_status.csv").set_index("router")
    assert set(st.index) == {f"released_{k}" for k in hub.RELEASED_CONFIG}
    assert st.loc["released_bert", "status"] == "ran", st.loc["released_bert", "reason"]  # routellm's own BERTRouter
    missing = st[st.status == "missing"]
    assert all(isinstance(r, str) and r for r in missing.reason)  # every missing row names its reason (OpenAI key, CUDA)
    runs = pd.read_csv(res / "03_released_runs.csv")
    assert {"mmlu", "gsm8k"} <= set(runs[runs.router == "released_bert"].benchmark)


def test_llm_final_model_with_the_paper_encoder_trains_and_is_tabled(dry):
    res, _ = dry
    runs = pd.read_csv(res / "05_ragrouter_per_seed.csv")
    assert set(runs.router) == {"ragrouter_llm"}
    hp = json.loads(runs.hp.iloc[0])
    assert hp["encoder"] == "deberta-v3-base" and hp["llm_path"]  # the DeBERTa stand-in, the Qwen stand-in
    for t in ("table1", "table2"):
        assert "RAGRouter (LLM final model)" in set(pd.read_csv(res / f"{t}.csv").model)
    abl = pd.read_csv(res / "07_ablation_per_seed.csv")
    assert set(abl.table) == {3, 4, 5, 6}
    assert all(json.loads(h)["encoder"] == "deberta-v3-base" for h in abl.hp)
