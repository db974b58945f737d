"""Mutation testing of the core with mutmut: plant small bugs, run the tests that cover each, count the kills.

    pip install mutmut                       # once (a dev tool: not in CI, ~10 minutes on 2 cores)
    python launch/mutation.py                # mutmut run, then the score per module
    python launch/mutation.py --report       # the score of the last run, without running again
    python -m mutmut show <mutant>           # what one surviving mutant changed

What is mutated, and by which tests, is `[tool.mutmut]` in pyproject.toml: the dual controller, the
rewards (budget and token penalties, the numeric and the other answer checks), checkpoint selection and
recipe validation, each mutant run against the fast tests that cover it (mutmut selects them from
coverage). The score is killed / (mutants − equivalent), where the equivalent mutants, whose change no
caller can observe, are listed with why in docs/mutation.md; a mutant that times out counts as killed
(the tests noticed), one no test reaches counts as survived.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EQUIVALENT_DOC = REPO / "docs" / "mutation.md"
KILLED = {1, 3, 24, -24, 36, 152, 255}  # mutmut's exit codes for killed and timed out (mutmut/stats.py)
SURVIVED = {0, 5, 33}  # survived, and no test covers the line


def equivalent() -> set[str]:
    """Mutant names listed as equivalent in docs/mutation.md (lines "- `name`: why")."""
    if not EQUIVALENT_DOC.exists():
        return set()
    return set(re.findall(r"^- `([^`]+__mutmut_\d+)`", EQUIVALENT_DOC.read_text(), flags=re.MULTILINE))


def scores(root: Path) -> dict[str, Counter]:
    """Per module: killed, survived, equivalent, not checked, from mutmut's `*.py.meta` files."""
    listed = equivalent()
    out: dict[str, Counter] = defaultdict(Counter)
    for meta in sorted((root / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(root / "mutants"))[: -len(".py.meta")].replace(os.sep, "/") + ".py"
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if name in listed:
                out[module]["equivalent"] += 1
            elif code in KILLED:
                out[module]["killed"] += 1
            elif code in SURVIVED:
                out[module]["survived"] += 1
            else:
                out[module]["not checked"] += 1
    return out


def report(root: Path) -> int:
    table = scores(root)
    if not table:
        print("no mutmut results under mutants/: run `python launch/mutation.py` first", file=sys.stderr)
        return 2
    print("| module | mutants | killed | survived | equivalent | score |\n|---|---|---|---|---|---|")
    total = Counter()
    for module, c in table.items():
        total.update(c)
        n = sum(c.values())
        live = c["killed"] + c["survived"] + c["not checked"]
        print(f"| {module} | {n} | {c['killed']} | {c['survived']} | {c['equivalent']} | "
              f"{c['killed'] / live:.1%} |" if live else f"| {module} | {n} | 0 | 0 | {c['equivalent']} | – |")
    live = total["killed"] + total["survived"] + total["not checked"]
    print(f"| all | {sum(total.values())} | {total['killed']} | {total['survived']} | {total['equivalent']} | "
          f"{total['killed'] / live:.1%} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="only print the last run's score")
    parser.add_argument("mutants", nargs="*", help="mutmut name globs (default: everything configured)")
    args = parser.parse_args()
    if not args.report:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
        proc = subprocess.run([sys.executable, "-m", "mutmut", "run", *args.mutants], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL)
        if proc.returncode not in (0, 1):
            print(f"mutmut run failed (exit {proc.returncode})", file=sys.stderr)
            return proc.returncode
    return report(REPO)


if __name__ == "__main__":
    sys.exit(main())
