"""Clean delivered logs: the executed notebooks in outputs/executed/ carry no error output, no
warning on stderr, no progress-bar fragments and no absolute path of the machine that ran them.

Each check has a planted counter-example on a synthetic notebook. A traceback printed on purpose
to stdout (notebook 01 shows RouteLLM's evaluate.py crash) is not an error output; a traceback on
stderr or an ``error`` output is.
"""
import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from ragrouter_lib.core.config import ROOT

MACHINE_PATH = re.compile(r"(?<![\w.~-])/(work|root|tmp|home)/[^\s'\"]*")
PROGRESS = re.compile(r"\d+(\.\d+)?\s?(it/s|s/it)\]|\d+%\|")


def _texts(output):
    """(channel, text) pairs of one output: the stream name or the mime type."""
    if output.get("output_type") == "stream":
        yield output.get("name", "stdout"), output.get("text", "")
    elif output.get("output_type") == "error":
        yield "error", "\n".join(output.get("traceback", [])) + f"\n{output.get('ename')}: {output.get('evalue')}"
    for mime, val in output.get("data", {}).items():
        yield mime, val if isinstance(val, str) else "".join(val) if isinstance(val, list) else str(val)


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def output_problems(nb) -> list[str]:
    """One line per cell and kind of problem: where (cell index), what, the first offending text
    (shortened) and how many more of the same kind the cell has."""
    first, count = {}, {}

    def add(where, kind, text):
        first.setdefault((where, kind), text.strip()[:120])
        count[(where, kind)] = count.get((where, kind), 0) + 1

    for i, cell in enumerate(nb.get("cells", [])):
        where = f"cell {i}"
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                add(where, "error output", f"{o.get('ename')}: {o.get('evalue')}")
            for channel, text in _texts(o):
                if channel == "stderr" and "Traceback" in text:
                    add(where, "traceback on stderr", text)
                if channel == "stderr" and "Warning" in text:
                    add(where, "warning", text)
                if channel == "application/vnd.jupyter.widget-view+json":
                    add(where, "progress widget", text)
                if channel != "error" and ("\r" in text or PROGRESS.search(text)):
                    add(where, "progress-bar fragment", text.replace("\r", "\\r")[:120])
        for s in _strings({"source": cell.get("source", ""), "outputs": cell.get("outputs", [])}):
            for m in MACHINE_PATH.finditer(s):
                add(where, "machine path", m.group(0))
    for s in _strings(nb.get("metadata", {})):
        for m in MACHINE_PATH.finditer(s):
            add("metadata", "machine path", m.group(0))
    return [f"{w}: {k}: {first[w, k]!r}" + (f" (+{count[w, k] - 1} more)" if count[w, k] > 1 else "")
            for w, k in first]


EXECUTED = sorted((ROOT / "outputs" / "executed").glob("[0-9][0-9]_*.ipynb"))
SUMMARY = ROOT / "outputs" / "results" / "run_summary.json"
LAST_RUN = json.loads(SUMMARY.read_text())["notebooks"] if SUMMARY.exists() else {}
# the logs the last run_all.sh invocation wrote (run_summary.json); an older log left beside them must
# be declared stale in README's status section, by name
DELIVERED = [p for p in EXECUTED if LAST_RUN.get(p.name, {}).get("status") == "ok"]


def test_there_are_delivered_logs():
    assert len(EXECUTED) == 7, [p.name for p in EXECUTED]
    assert DELIVERED, "the last run (outputs/results/run_summary.json) delivered no log"


def test_logs_not_from_the_last_run_are_declared_stale():
    readme = (ROOT / "README.md").read_text()
    status = readme.split("## Status", 1)[1].split("\n## ", 1)[0] if "## Status" in readme else ""
    undeclared = [p.name for p in EXECUTED if p not in DELIVERED and p.stem not in status]
    assert not undeclared, f"logs older than the last run, not declared stale in README's status: {undeclared}"


@pytest.mark.parametrize("path", DELIVERED, ids=lambda p: p.name)
def test_delivered_log_is_clean(path):
    found = output_problems(nbformat.read(path, as_version=4))
    assert not found, f"{path.name}: {len(found)} problems\n" + "\n".join(found)


# ---------------------------------------------------------------- planted counter-examples
def _nb(*outputs, metadata=None, source="x = 1"):
    nb = new_notebook(metadata=metadata or {})
    nb.cells.append(new_code_cell(source, outputs=list(outputs)))
    return nb


CLEAN = [new_output("stream", name="stdout", text="wrote results/table1.csv (9 rows)\n"),
         new_output("execute_result", data={"text/plain": "   apgr\n0  0.51"}, execution_count=1),
         new_output("stream", name="stdout",  # a traceback printed on purpose (notebook 01)
                    text='Traceback (most recent call last):\n  File "routellm/evals/evaluate.py", line 36\n')]

PLANTED = {
    "error output": new_output("error", ename="ValueError", evalue="boom", traceback=["Traceback ...", "ValueError: boom"]),
    "traceback on stderr": new_output("stream", name="stderr", text="Traceback (most recent call last):\n  x\n"),
    "warning": new_output("stream", name="stderr", text="pandas FutureWarning: the default will change\n"),
    "progress-bar fragment": new_output("stream", name="stderr", text="encode:  40%|####      | 4/10 [00:01<00:02, 3.1it/s]"),
    "progress widget": new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "ab"}}),
    "machine path": new_output("stream", name="stdout", text="wrote /work/main/outputs/results/x.csv\n"),
}


def test_clean_synthetic_notebook_passes():
    assert output_problems(_nb(*CLEAN, metadata={"papermill": {"input_path": "notebooks/01_x.py"}})) == []


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_planted_problem_is_found(kind):
    found = output_problems(_nb(*CLEAN, PLANTED[kind]))
    assert found and all(f": {kind}: " in f for f in found), found


def test_carriage_return_progress_is_found():
    found = output_problems(_nb(new_output("stream", name="stdout", text="step 1\rstep 2\n")))
    assert [f.split(": ")[1] for f in found] == ["progress-bar fragment"]


@pytest.mark.parametrize("where", ["/root/.cache/x", "/tmp/ragrouter-abc/in.jsonl", "/home/u/x"])
def test_machine_paths_in_metadata_and_source_are_found(where):
    assert output_problems(_nb(metadata={"papermill": {"input_path": where}}))[0].startswith("metadata: machine path")
    assert output_problems(_nb(source=f'open("{where}")'))[0].startswith("cell 0: machine path")


def test_urls_and_relative_paths_are_not_machine_paths():
    text = "see https://example.org/home/index and outputs/results/tmp/x.csv and ./work/y\n"
    assert output_problems(_nb(new_output("stream", name="stdout", text=text))) == []
