"""The Chinese a reader hands in (``report.zh``): no English component or column name inside a Chinese
sentence, every cited function exists, the deviation list matches README's English table item for item,
and each notebook's conclusion repeats the deviations its English cells state. Each check is run on a
planted counter-example that must fail."""
import re

import numpy as np
import pandas as pd
import pytest

import ragrouter_lib as rr
from ragrouter_lib.core.config import ROOT
from ragrouter_lib.evaluation import verdicts
from ragrouter_lib.report import zh

OUT, RES = ROOT / "outputs", ROOT / "outputs" / "results"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # Chinese characters and punctuation
# Latin words a Chinese sentence may carry: proper names of models, datasets, tools and metrics (the thesis
# writes them so), never a component, a column or a plain English word.
NAMES = set("""APGR CPT AUC ROC-AUC RAGRouter RouteLLM MMLU MMLU-Pro GSM8K Random Oracle SW Ranking Matrix
Factorization BERT BERT-base Causal LLM KNN KMeans SVM MiniLM MiniLM-L6 SmolLM2 SmolLM2-135M spaCy GraphSAGE FAISS
RAG CPU WordNet ConceptNet Stanza Qwen Qwen-7B DeBERTa DeBERTa-v3-base GPT-2 GPT-2-large GPT-4 DeepSeek-671B
Llama-3-8B OpenAI MPNet Adam LoRA QLoRA Lesk Debian RouterBench RouterDC Chatbot Arena Hugging Face Hub AlpacaEval
H_sem K Zhang notebook bootstrap README""".split())
VERDICT_GLOSS = re.compile(r'"(beats|is beaten by|holds|hurts|inconclusive)"')  # RULE_ZH names the English words


def english_in_chinese(text: str) -> list[str]:
    """Latin words outside NAMES in the lines of ``text`` that contain Chinese (code spans and RULE_ZH's
    quoted verdict words aside), as 'word in "<line>"'."""
    out = []
    for line in text.splitlines():
        if not CJK.search(line):
            continue
        bare = VERDICT_GLOSS.sub("", re.sub(r"`[^`]*`", "", line))
        out += [f"{w!r} in {line.strip()[:80]!r}" for w in re.findall(r"(?<![A-Za-z0-9_\-])[A-Za-z][A-Za-z0-9_\-]*", bare)
                if w not in NAMES]
    return out


def _markdown_cells(source: str) -> list[str]:
    cells = re.split(r"^# %%.*$", source, flags=re.M)
    heads = re.findall(r"^# %%.*$", source, flags=re.M)
    return ["\n".join(ln.removeprefix("# ").removeprefix("#") for ln in body.splitlines())
            for head, body in zip(heads, cells[1:]) if "[markdown]" in head]


NOTEBOOKS = {int(p.name[:2]): p for p in sorted((ROOT / "notebooks").glob("0*_*.py"))}


@pytest.fixture(scope="module")
def results_with_03_verdicts(tmp_path_factory):
    """The committed result tables plus a notebook-03 verdict table (the committed run predates it): every
    row of 03_baselines_* minus Random, with each verdict word once, so every branch of the text runs."""
    out = tmp_path_factory.mktemp("out")
    (out / "results").mkdir()
    for p in RES.glob("*.csv"):
        (out / "results" / p.name).write_bytes(p.read_bytes())
    words = ["beats", "inconclusive", "is beaten by"]
    rows = [{"benchmark": b, "model_a": m, "model_b": "Random", "metric": k, "diff": 0.01, "ci_low": -0.01,
             "ci_high": 0.02, "verdict": words[(i + j) % 3]}
            for b in ("mmlu", "gsm8k") for i, m in enumerate(pd.read_csv(RES / f"03_baselines_{b}.csv").model)
            if m != "Random" for j, k in enumerate(("apgr", "cpt50", "cpt80"))]
    pd.DataFrame(rows).to_csv(out / "results" / "03_verdicts_vs_random.csv", index=False)
    return out


def _chinese_blocks(out) -> dict[str, str]:
    blocks = {f"conclusion {n}": zh.conclusion_zh(n, out) for n in range(1, 8)}
    blocks["summary_zh"] = zh.summary_zh(out / "results")
    for n, p in NOTEBOOKS.items():
        blocks[f"notebook {n:02d} markdown"] = "\n".join(c for c in _markdown_cells(p.read_text(encoding="utf-8"))
                                                          if CJK.search(c))
    return blocks


def test_no_english_component_name_inside_chinese(results_with_03_verdicts):
    blocks = _chinese_blocks(results_with_03_verdicts)
    assert "随机路由" in blocks["conclusion 3"] and "不能下结论" in blocks["conclusion 3"]
    assert {k: v for k, b in blocks.items() if (v := english_in_chinese(b))} == {}
    for t, part in zh.PARTS_ZH.items():  # the thesis's own terms, in every ablation's sentence
        assert f"表 {t}（消融：{part}" in blocks["conclusion 7"] and part in blocks["summary_zh"]


def test_planted_english_component_names_are_found(results_with_03_verdicts, monkeypatch):
    for bad in ("- 表 3（消融：multi-source data augmentation）：APGR 有该部件 0.545", "strong_needed 比例 0.384",
                "RAGRouter（MiniLM + spaCy，knowledge base）"):
        assert english_in_chinese(bad), bad
    assert english_in_chinese("消融的data sampling") == ["'data' in '消融的data sampling'", "'sampling' in '消融的data sampling'"]
    assert english_in_chinese("`rr.zh.conclusion_zh` 与 CPT(50%)、\"holds\"（成立）") == []
    monkeypatch.setitem(zh.PARTS_ZH, 4, "data sampling")
    assert any("'sampling'" in h for h in english_in_chinese(zh.conclusion_zh(7, results_with_03_verdicts)))
    monkeypatch.delitem(zh.STAGES_ZH, "augmented rows")  # an unknown stage falls back to its English name
    assert any("'augmented'" in h for h in english_in_chinese(zh.conclusion_zh(4, results_with_03_verdicts)))
    monkeypatch.delitem(zh.NAMES_ZH, "semantic router")
    assert any("'semantic'" in h for h in english_in_chinese(zh.conclusion_zh(3, results_with_03_verdicts)))


CITED = re.compile(r"`(rr(?:\.\w+)+)")


def missing_citations(text: str) -> list[str]:
    """Every `rr.a.b` cited in ``text`` that does not resolve on the package."""
    bad = []
    for ref in CITED.findall(text):
        obj = rr
        for part in ref.split(".")[1:]:
            if not hasattr(obj, part):
                bad.append(ref)
                break
            obj = getattr(obj, part)
    return bad


def test_every_cited_function_exists():
    headers = [zh.conclusion_zh(n, OUT).split("\n", 1)[0] for n in range(1, 8)]
    assert all("`rr.zh.conclusion_zh(" in h for h in headers)
    sources = [p.read_text(encoding="utf-8") for p in NOTEBOOKS.values()]
    assert missing_citations("\n".join(headers + sources)) == []
    # the cell that prints the conclusion calls the function its header cites
    assert all(f"Markdown(rr.zh.conclusion_zh({n}, cfg.out))" in s for n, s in zip(NOTEBOOKS, sources))


def test_planted_missing_citation_is_found():
    assert missing_citations("### 结论（由 `rr.report.conclusion_zh(7, cfg.out)` 生成）") == ["rr.report.conclusion_zh"]
    assert missing_citations("见 `rr.prose.conclusion_zh` 与 `rr.zh.conclusion_zh`") == ["rr.prose.conclusion_zh"]


def readme_deviation_keys(readme: str) -> list[str]:
    """The "what" column of README's "Deviations from the thesis" table, in order."""
    section = readme[readme.index("## Deviations from the thesis"):]
    section = section[: section.index("\n## ", 5)]
    rows = [r for r in section.splitlines() if r.startswith("| ") and not r.startswith("| what ")]
    return [r.split(" | ")[0].removeprefix("| ").strip() for r in rows]


def test_deviation_list_matches_readme_item_for_item(results_with_03_verdicts):
    keys = readme_deviation_keys((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(keys) >= 15 and list(zh.DEVIATIONS_ZH) == keys
    summary = zh.summary_zh(results_with_03_verdicts / "results")
    items = re.findall(r"^(\d+)\. ", summary[summary.index("与论文的差异及原因"):], flags=re.M)
    assert [int(i) for i in items] == list(range(1, len(keys) + 1))
    for k in keys:
        assert zh.DEVIATIONS_ZH[k].format(pool=6754).split("：")[0] in summary, k
    for must in ("交叉拟合", "SmolLM2-135M", "GPT-2-large", "ablation_seeds", "结构特征", "Qwen-7B", "Stanza",
                 "ConceptNet", "继承", "CPU"):
        assert must in summary, must
    assert {k for ks in zh.NB_DEVIATIONS.values() for k in ks} <= set(keys)


def test_planted_readme_row_breaks_the_match():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    extra = readme.replace("| evaluation |", "| tokenizer | A | B | C |\n| evaluation |", 1)
    assert "tokenizer" in readme_deviation_keys(extra) and readme_deviation_keys(extra) != list(zh.DEVIATIONS_ZH)


# English phrases of a notebook's cells that state a deviation -> the README row it belongs to
TRIGGERS = {"evaluate.py": "evaluation", "Arena 55k": "training data", "judge": "labels (judge)",
            "label-alignment": "label alignment across sources (our extension)",
            "released checkpoints": "baselines", "text-embedding-3-small": "SW ranking, MF embeddings",
            "OpenAI embeddings": "SW ranking, MF embeddings", "BERT-base": "BERT router",
            "Llama-3-8B": "Causal-LLM router", "Stanza": "augmentation parser", "ConceptNet": "knowledge graph",
            "inherit": "augmented labels", "175k": "augmentation scale", "GPT-2": "perplexity model",
            "DeBERTa": "H_sem encoder", "Qwen": "RAGRouter final model", "70/30": "KB / final-model split",
            "cross-fit": "KB / final-model split", "quartiles": "perplexity levels",
            "source-grouped": "tuning and selection", "ablation_seeds": "ablations (Tables 3–6)",
            "one draw shared": "augmentation draws", "one seeded draw": "Random router", "derived data": "SmolLM2 passes"}


def stated_deviations(source: str) -> set[str]:
    text = " ".join(" ".join(_markdown_cells(source)).split())
    return {row for phrase, row in TRIGGERS.items() if phrase in text}


def uncovered(nb_deviations: dict) -> dict[int, set]:
    out = {n: stated_deviations(p.read_text(encoding="utf-8")) - set(nb_deviations[n]) for n, p in NOTEBOOKS.items()}
    return {n: s for n, s in out.items() if s}


def test_each_conclusion_repeats_the_deviations_its_notebook_states():
    assert set(TRIGGERS.values()) <= set(zh.DEVIATIONS_ZH)
    assert uncovered(zh.NB_DEVIATIONS) == {}
    for n, keys in zh.NB_DEVIATIONS.items():
        text = zh.conclusion_zh(n, OUT)
        assert all(zh.DEVIATIONS_ZH[k].split("：")[0] in text for k in keys), n


def test_planted_missing_notebook_deviation_is_found():
    planted = {n: [k for k in ks if k != "KB / final-model split"] for n, ks in zh.NB_DEVIATIONS.items()}
    assert set(uncovered(planted)) >= {5, 6, 7}


def test_inconclusive_reads_cannot_conclude_with_the_reason():
    d = pd.Series({"metric": "apgr", "diff": -0.0057, "ci_low": -0.0121, "ci_high": 0.0008, "verdict": "inconclusive"})
    assert zh.verdict_zh(d) == "不能下结论（差值 -0.006，95% 区间 [-0.012, +0.001]，包含零）"
    assert zh.verdict_zh(d.copy().replace({"inconclusive": "hurts"})).startswith("不成立（该部件有害；差值 -0.006")
    assert zh.name_zh("RAGRouter (CPU stand-in: MiniLM + spaCy, attention network)") == \
        "RAGRouter（CPU 替代实现：MiniLM + spaCy，注意力网络）"


def test_notebook_03_saves_its_verdicts_for_the_chinese_conclusion(tmp_path):
    """reference_verdicts (notebook 03's reading) writes the long table the Chinese conclusion reads."""
    rng = np.random.default_rng(0)
    n = 300
    weak = rng.random(n) < 0.6
    ev = pd.DataFrame({"weak_correct": weak, "strong_correct": weak | (rng.random(n) < 0.5)})
    gain = (ev.strong_correct & ~ev.weak_correct).to_numpy(float)
    verdicts.save_scores(tmp_path, "mmlu", "random", [0, 1], rng.random((2, n)))
    verdicts.save_scores(tmp_path, "mmlu", "bert", [0, 1], rng.random((2, n)) + 3 * gain)
    verdicts.save_scores(tmp_path, "mmlu", "ragrouter", [0, 1], rng.random((2, n)) + 3 * gain)  # 05's, of a past run
    shown = rr.experiments.reference_verdicts(tmp_path, {"mmlu": ev}, "random")
    saved = pd.read_csv(tmp_path / "results" / "03_verdicts_vs_random.csv")
    assert len(shown) == 1 and len(saved) == 3 and set(saved.verdict) == {"beats"}
    assert rr.routers.THESIS_NAMES["ragrouter"] not in set(saved.model_a)  # 03 reads only what 03 trains
    for p in RES.glob("03_baselines_*.csv"):
        (tmp_path / "results" / p.name).write_bytes(p.read_bytes())
    text = zh.conclusion_zh(3, tmp_path)
    assert f"{zh.name_zh(rr.routers.THESIS_NAMES['bert'])} 优于随机路由" in text and english_in_chinese(text) == []
