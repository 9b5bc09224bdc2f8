"""Loaders: RouteLLM's evaluation rows and decontamination, checksums, training-side sets, and the
user-supplied Arena / gpt4_dataset files (fixtures in tests/fixtures with the real schemas)."""
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ragrouter_lib.data import loading

FIX = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("bench,n_raw,n_kept,w,s", [("mmlu", 14042, 14037, 68.09, 80.59),
                                                      ("gsm8k", 1319, 1307, 63.73, 85.77)])
def test_eval_rows_decontaminated(bench, n_raw, n_kept, w, s):
    ev = loading.load_eval(bench)
    assert len(ev) == n_kept and ev.attrs["n_raw"] == n_raw
    assert round(100 * ev.weak_correct.mean(), 2) == w
    assert round(100 * ev.strong_correct.mean(), 2) == s
    assert not set(ev.prompt) & loading._contaminated(bench)
    assert len(loading.load_eval(bench, decontaminate=False)) == n_raw


def test_eval_limit_is_seeded_subset():
    a, b = loading.load_eval("gsm8k", limit=50, seed=3), loading.load_eval("gsm8k", limit=50, seed=3)
    assert len(a) == 50 and a.prompt.tolist() == b.prompt.tolist()
    assert a.prompt.tolist() != loading.load_eval("gsm8k", limit=50, seed=4).prompt.tolist()


def test_unknown_benchmark():
    with pytest.raises(ValueError, match="unknown benchmark"):
        loading.load_eval("hellaswag")


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A private copy of data/ the test may damage."""
    yield from _private_data(tmp_path, monkeypatch, ["raw/routellm_evals/gsm8k"])


def _private_data(tmp_path, monkeypatch, rels):
    """Copy ``rels`` (files or folders under data/) and the manifest to ``tmp_path`` and point the
    loaders there for the test (a generator for fixtures)."""
    for rel in rels:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (loading.DATA_DIR / rel).is_dir() else shutil.copy)(loading.DATA_DIR / rel, tmp_path / rel)
    shutil.copy(loading.DATA_DIR / "MANIFEST.csv", tmp_path / "MANIFEST.csv")
    monkeypatch.setattr(loading, "DATA_DIR", tmp_path)
    monkeypatch.setattr(loading, "_verified", {})
    loading.manifest.cache_clear()
    yield tmp_path
    loading.manifest.cache_clear()


def test_altered_file_is_named(data_copy):
    f = data_copy / "raw/routellm_evals/gsm8k/gsm8k_responses.csv"
    f.write_bytes(f.read_bytes().replace(b"True", b"False", 1))
    with pytest.raises(loading.DataIntegrityError, match="gsm8k_responses.csv was altered"):
        loading.load_eval("gsm8k")


def test_missing_file_is_named(data_copy):
    (data_copy / "raw/routellm_evals/gsm8k/contaminated_prompts.jsonl").unlink()
    with pytest.raises(loading.DataIntegrityError, match="contaminated_prompts.jsonl is missing"):
        loading.load_eval("gsm8k")


def test_verify_all_covers_every_manifest_file():
    checks = loading.verify_all()
    assert sum(n for n, _ in checks.values()) == len(loading.manifest()) == 190  # 188 + 2 pair sources


def test_routerbench_rows():
    rb = loading.load_routerbench()
    assert len(rb) == 1039 + 299 + 887
    assert set(loading.ROUTERBENCH_PAIR.values()) <= set(rb.columns)
    assert not rb.prompt.str.startswith("['").any()  # list reprs were turned into text
    assert set(rb["gpt-4-1106-preview"].dropna().unique()) <= {0.0, 1.0}


def test_routerdc_rows():
    dc = loading.load_routerdc()
    assert len(dc) == 1663 + 713 + 1000 + 833 + 115 + 49 + 164
    assert {"meta-llama/Meta-Llama-3-8B", "mistralai/Mistral-7B-v0.1"} <= set(dc.columns)


def test_gsm8k_train_and_mmlu_questions():
    assert len(loading.load_gsm8k_train()) == 7473
    dev = loading.load_mmlu_questions("dev")
    assert len(dev) == 57 * 5 and dev.subject.nunique() == 57
    assert len(loading.load_mmlu_questions("val")) > 1000


# ----------------------------------------------------------------- user-supplied training sets
def test_arena_fixture_loads():
    df = loading.load_arena(FIX / "arena_train.csv")
    assert df.winner.tolist() == ["a", "b", "tie"]
    assert df.prompt_text.iloc[0].startswith("Is it morally right") and "\n" in df.prompt_text.iloc[0]


def test_gpt4_fixture_loads():
    df = loading.load_gpt4_dataset(FIX / "gpt4_dataset.jsonl")
    assert df.mixtral_score.tolist() == [5, 2, 4]


def _arena(tmp_path, edit):
    df = pd.read_csv(FIX / "arena_train.csv", dtype=str)
    df = edit(df)
    p = tmp_path / "train.csv"
    df.to_csv(p, index=False)
    return p


def test_arena_missing_column(tmp_path):
    p = _arena(tmp_path, lambda d: d.drop(columns=["winner_tie"]))
    with pytest.raises(loading.DataFormatError, match=r"missing column\(s\) \['winner_tie'\]"):
        loading.load_arena(p)


def test_arena_bad_label_names_row(tmp_path):
    def edit(d):
        d.loc[1, "winner_model_a"] = "1"  # two winners
        return d
    with pytest.raises(loading.DataFormatError, match=r"row 2 \(id=53567\).*one-hot"):
        loading.load_arena(_arena(tmp_path, edit))


def test_arena_empty_prompt_names_row(tmp_path):
    def edit(d):
        d.loc[2, "prompt"] = '["  "]'
        return d
    with pytest.raises(loading.DataFormatError, match=r"row 3 \(id=65089\): empty prompt"):
        loading.load_arena(_arena(tmp_path, edit))


def test_wrong_encoding_names_line(tmp_path):
    p = tmp_path / "train.csv"
    text = (FIX / "arena_train.csv").read_text().replace("koala-13b", "koala-13b-caf\u00e9")
    p.write_bytes(text.encode("latin-1"))
    with pytest.raises(loading.DataFormatError, match=r"not UTF-8 .*line 3"):
        loading.load_arena(p)


@pytest.mark.parametrize("score", [0, 6, "three", 2.5])
def test_gpt4_bad_score_names_row(tmp_path, score):
    df = pd.read_json(FIX / "gpt4_dataset.jsonl", lines=True)
    df["mixtral_score"] = df["mixtral_score"].astype(object)
    df.loc[1, "mixtral_score"] = score
    p = tmp_path / "g.jsonl"
    df.to_json(p, orient="records", lines=True)
    with pytest.raises(loading.DataFormatError, match="row 2: mixtral_score"):
        loading.load_gpt4_dataset(p)


def test_gpt4_empty_prompt(tmp_path):
    df = pd.read_json(FIX / "gpt4_dataset.jsonl", lines=True)
    df.loc[0, "prompt"] = ""
    p = tmp_path / "g.csv"
    df.to_csv(p, index=False)
    with pytest.raises(loading.DataFormatError, match="row 1: empty prompt"):
        loading.load_gpt4_dataset(p)


# ----------------------------------------------------------------------------- pair sources (pool v2)
def test_pair_sources_load():
    ae, mp = loading.load_alpaca_eval(), loading.load_mmlu_pro()
    assert len(ae) == 803 and ae.preference.value_counts().to_dict() == {1.0: 620, 2.0: 182, 1.5: 1}
    assert len(mp) == 5222
    assert mp.groupby(["weak_correct", "strong_correct"]).size().to_dict() == {
        (0, 0): 1229, (0, 1): 2048, (1, 0): 208, (1, 1): 1737}  # shared/data/PROVENANCE.md counts
    assert "CC BY-NC 4.0" in loading.manifest().at[loading.ALPACA_FILE, "licence"]


@pytest.fixture
def pair_copy(tmp_path, monkeypatch):
    """A private copy of data/ holding the two pair-source files, to damage."""
    yield from _private_data(tmp_path, monkeypatch, [loading.ALPACA_FILE, loading.MMLU_PRO_FILE])


LOADERS = [(loading.ALPACA_FILE, loading.load_alpaca_eval), (loading.MMLU_PRO_FILE, loading.load_mmlu_pro)]


@pytest.mark.parametrize("rel,load", LOADERS)
def test_pair_source_missing_truncated_altered(pair_copy, rel, load):
    f = pair_copy / rel
    blob = f.read_bytes()
    f.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(loading.DataIntegrityError, match=rf"{Path(rel).name} is truncated: \d+ of {len(blob)} bytes"):
        load()
    f.write_bytes(blob.replace(b"1", b"2", 1))
    with pytest.raises(loading.DataIntegrityError, match=f"{Path(rel).name} was altered"):
        load()
    f.unlink()
    with pytest.raises(loading.DataIntegrityError, match=f"{Path(rel).name} is missing"):
        load()


def test_alpaca_row_faults_name_the_record(tmp_path):
    import json
    recs = json.loads((loading.DATA_DIR / loading.ALPACA_FILE).read_text())[:3]
    f = tmp_path / "a.json"
    f.write_text(json.dumps(recs)[:-300])
    with pytest.raises(loading.DataFormatError, match="a.json: not valid JSON at line"):
        loading.load_alpaca_eval(f)
    bad = [dict(r) for r in recs]
    bad[1]["preference"] = 3
    f.write_text(json.dumps(bad))
    with pytest.raises(loading.DataFormatError, match="a.json: record 2: preference must be 1, 1.5 or 2"):
        loading.load_alpaca_eval(f)
    del bad[2]["instruction"]
    bad[1]["preference"] = 1.0
    f.write_text(json.dumps(bad))
    with pytest.raises(loading.DataFormatError, match=r"record 3: missing field\(s\) \['instruction'\]"):
        loading.load_alpaca_eval(f)
    bad[2]["instruction"] = "ok"
    f.write_text(json.dumps(bad))
    assert loading.load_alpaca_eval(f).preference.tolist() == [r["preference"] for r in bad]
    with pytest.raises(loading.DataIntegrityError, match="none.json is missing"):
        loading.load_alpaca_eval(tmp_path / "none.json")


def test_mmlu_pro_row_faults_name_the_row(tmp_path):
    df = pd.read_csv(loading.DATA_DIR / loading.MMLU_PRO_FILE, dtype=str, keep_default_na=False).head(5)
    f = tmp_path / "m.csv"
    df.drop(columns="gpt4o_correct").to_csv(f, index=False)
    with pytest.raises(loading.DataFormatError, match=r"m.csv: missing column\(s\) \['gpt4o_correct'\]"):
        loading.load_mmlu_pro(f)
    bad = df.copy()
    bad.loc[3, "mixtral_correct"] = ""  # e.g. a row cut short
    bad.to_csv(f, index=False)
    with pytest.raises(loading.DataFormatError, match=f"m.csv: row 4 \\(question_id={df.question_id[3]}\\): mixtral_correct"):
        loading.load_mmlu_pro(f)
    df.to_csv(f, index=False)
    assert len(loading.load_mmlu_pro(f)) == 5
