"""Where the test command's time goes: prints figures, asserts nothing (issue 24's 10-minute target).

    .venv/bin/python benchmarks/test_timings.py [pytest arguments, e.g. tests/test_routers.py]

Runs pytest (README's command: ``-q`` over ``testpaths``, or the arguments given) and prints
1. wall seconds per test file (setup + call + teardown of its tests; a module- or session-scoped
   fixture counts in the file whose test first asked for it), largest first, with the total;
2. the 15 slowest single tests (phase included);
3. wall seconds per notebook of every notebook series the tests ran (the smoke series and the
   paper dry run: ``run_summary.json`` under pytest's base temp folder).
The two cores are often shared: compare the relative costs, and run it alone for absolute ones.
"""
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest


class Timings:
    def __init__(self):
        self.per_file = defaultdict(float)
        self.per_test = defaultdict(float)

    def pytest_runtest_logreport(self, report):
        self.per_file[report.nodeid.split("::")[0]] += report.duration
        self.per_test[(report.nodeid, report.when)] += report.duration


def main(argv) -> int:
    base = Path(tempfile.mkdtemp(prefix="rr-test-timings-"))
    t = Timings()
    code = pytest.main(["-q", "-p", "no:cacheprovider", f"--basetemp={base}", *argv], plugins=[t])
    total = sum(t.per_file.values())
    print(f"\nper file (wall s, total {total:.0f} s = {total / 60:.1f} min):")
    for f, s in sorted(t.per_file.items(), key=lambda kv: -kv[1]):
        print(f"  {s:8.1f}  {f}")
    print("\nslowest tests:")
    for (node, when), s in sorted(t.per_test.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {s:8.1f}  {node} ({when})")
    for summary in sorted(base.rglob("results/run_summary.json")):
        s = json.loads(summary.read_text())
        if len(s.get("notebooks", {})) < 2:  # a runner unit test's one-notebook series
            continue
        label = "paper dry run" if s.get("profile") == "paper" else f"{s.get('profile')} series"
        print(f"\n{label} ({summary.parent.parent.relative_to(base)}): {s.get('total_seconds')} s, {s.get('status')}")
        for name, nb in s.get("notebooks", {}).items():
            print(f"  {nb['seconds']:8.1f}  {name}  {nb['status']}")
    print(f"\n(pytest's temporary folders, executed notebooks included: {base})")
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
