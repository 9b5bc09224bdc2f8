"""Turn data/PROVENANCE.md (the upstream provenance table) into data/MANIFEST.csv.

Run once when data is (re)vendored:  python scripts/build_manifest.py
The manifest is what `ragrouter_lib.data` verifies on every load (sha256, and the size in bytes
so that a truncated file is reported as truncated).
"""
import csv
import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1] / "data"
rows = []
for line in (ROOT / "PROVENANCE.md").read_text().splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 7 or not re.fullmatch(r"[0-9a-f]{64}", cells[5]):
        continue
    path, repo, commit, src_path, licence, sha, note = cells
    blob = (ROOT / "raw" / path).read_bytes()
    real = hashlib.sha256(blob).hexdigest()
    if real != sha:
        raise SystemExit(f"{path}: sha256 {real} differs from provenance {sha}")
    rows.append(dict(path=f"raw/{path}", sha256=sha, source_repo=repo, commit=commit,
                     source_path=src_path, licence=licence, note=note, bytes=len(blob)))
with open(ROOT / "MANIFEST.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
print(f"{len(rows)} files in data/MANIFEST.csv")
