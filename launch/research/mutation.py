"""Mutation testing of the core with mutmut: plant small bugs, run the tests that cover each, count the kills.

    pip install mutmut                       # once (a dev tool: not in CI, ~10 minutes on 2 cores)
    python -m launch.research.mutation                # mutmut run, then the score per module
    python -m launch.research.mutation --report       # the score of the last run, without running again
    python -m mutmut show <mutant>           # what one surviving mutant changed
    python -m launch.research.mutation --named        # the bugs the mutation issue named, planted one at a time

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

REPO = Path(__file__).resolve().parents[2]
EQUIVALENT_DOC = REPO / "docs" / "mutation.md"
KILLED = {1, 3, 24, -24, 36, 152, 255}  # mutmut's exit codes for killed and timed out (mutmut/stats.py)
SURVIVED = {0, 5, 33}  # survived, and no test covers the line


# The bugs the mutation-testing issue named as passing every test then; each must now fail one.
NAMED = [
    ("dual: drop the proportional term", "train/dual.py",
     "self.lam = min(max(s.kp * self.error + self.integral, 0.0), s.lambda_max)",
     "self.lam = min(max(self.integral, 0.0), s.lambda_max)"),
    ("dual: double the proportional term", "train/dual.py",
     "self.lam = min(max(s.kp * self.error + self.integral, 0.0), s.lambda_max)",
     "self.lam = min(max(2 * s.kp * self.error + self.integral, 0.0), s.lambda_max)"),
    ("dual: error from the raw measurement", "train/dual.py",
     "self.error = self.error_of(self.smoothed)", "self.error = self.error_of(measured)"),
    ("budget_penalty: the first prompt's budget for all", "rewards/budget_penalty.py",
     "budgets = token_budget if token_budget is not None else [budget_tokens] * len(completions)",
     "budgets = [token_budget[0]] * len(completions) if token_budget is not None else [budget_tokens] * len(completions)"),
    ("budget_penalty: ignore correct_only", "rewards/budget_penalty.py",
     "if correct_only and ", "if True and "),
    ("numeric check: no 'The answer is / Answer: / A:' rule", "rewards/numeric.py",
     '    re.compile(r"(?:[Tt]he (?:final )?answer is|[Aa]nswer\\s*:|\\bA\\s*:)\\s*\\**\\s*(" + _NUMBER + ")"),\n', ""),
]

NAMED_TESTS = ["tests/test_dual.py", "tests/test_core_laws.py", "tests/test_rewards.py", "tests/test_exact_match.py",
               "tests/test_answer_check.py"]


def named(root: Path = REPO) -> int:
    """Plant each NAMED bug in a copy of the repository and run the tests: every one must fail a test."""
    import shutil
    import tempfile

    survivors = 0
    print("| planted bug | result | pytest |\n|---|---|---|")
    for name, path, old, new in NAMED:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "repo"
            shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".venv", ".git", "mutants", "scratch", "runs", ".cache"))
            source = (copy / path).read_text()
            if old not in source:
                print(f"| {name} | the code it changes is gone: update NAMED | |")
                survivors += 1
                continue
            (copy / path).write_text(source.replace(old, new, 1))
            proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *NAMED_TESTS],
                                  cwd=copy, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            lines = [line for line in proc.stdout.splitlines() if line.strip()]
            survivors += proc.returncode == 0
            print(f"| {name} | {'killed' if proc.returncode else 'SURVIVED'} | {lines[-1] if lines else ''} |", flush=True)
    return 1 if survivors else 0


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
            if code in KILLED:  # a listed mutant that a test now kills is simply killed
                out[module]["killed"] += 1
            elif name in listed:
                out[module]["equivalent"] += 1
            elif code in SURVIVED:
                out[module]["survived"] += 1
            else:
                out[module]["not checked"] += 1
    return out


def report(root: Path) -> int:
    table = scores(root)
    if not table:
        print("no mutmut results under mutants/: run `python -m launch.research.mutation` first", file=sys.stderr)
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
    parser.add_argument("--named", action="store_true", help="plant the named bugs one at a time (1 minute)")
    parser.add_argument("mutants", nargs="*", help="mutmut name globs (default: everything configured)")
    args = parser.parse_args()
    if args.named:
        return named()
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
