"""``python -m ragrouter_lib.report``: rewrite README.md's generated blocks from outputs/results."""
import sys

from .readme import update_readme

print("README results block", "updated" if update_readme() else "unchanged")
sys.exit(0)
