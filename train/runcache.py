"""Training runs cached by their settings, shared by the benchmark scripts.

A run is `train/run.py` with a list of command-line arguments. Its directory is `ROOT/<key>`, key a hash
of the arguments (order-insensitive for `--flag value` pairs; the label is only for the log), so
- an interrupted benchmark resumes where it stopped (finished runs have `summary.json` and are not redone);
- adding a method to a comparison runs only that method;
- two benchmarks asking for the same settings (bench_budget's `learned` and compare's `terse`) share one run.
The key also hashes the code (not the docstrings or comments) of the files that make the base model every
run starts from (the embedded task's generator and the warm start), so a change to the warm-start data does
not silently reuse runs trained from the old base model. Delete a run's directory to redo it. Each run
writes its log next to its directory (`<key>.<label>.log`).
"""

from __future__ import annotations

import ast
import fcntl
import functools
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOT = Path(os.environ.get("TERSE_RUN_CACHE", REPO / "runs" / "cache"))  # long CPU runs: keep them outside the work tree


# Where a run logs to and how many threads it uses do not change what it learns (threads can change the
# last bits of floating-point sums, not the figures a benchmark reports).
UNKEYED = {"--report_to", "--torch_threads"}
# The files that determine the base model (its cache key hashes the data they generate): those of every
# task, and a later task's own generator for its runs only, so that adding a task does not invalidate
# the cached runs of the others.
BASE_MODEL_SOURCES = ("train/tasks/arith.py", "train/tasks/chain.py", "train/tasks/chain_graded.py",
                      "train/base_model.py")
TASK_SOURCES = {"chain_easy": ("train/tasks/chain_easy.py",)}


WARMUP = 5
# 0.35 × 60 base tokens = 21: the mean length of the shortest traces the base model writes reliably (every
# step written out; launch/research/check_oracle_reach.py), so the budget binds without being infeasible.
BUDGET_RATIO = 0.35

def common_args(max_steps: int, seed: int, budget_ratio: float, config: str | None = None) -> list[str]:
    """Settings every benchmark run shares (compare, the schedule bench and the budget bench pass these, so identical runs are shared).
    `config`: the recipe (default: the embedded arith recipe)."""
    path = Path(config).resolve() if config else None
    recipe = ["--config", str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)] if config else []
    return [*recipe, "--max_steps", str(max_steps), "--seed", str(seed), "--budget_ratio", str(budget_ratio),
            "--report_to", "wandb", "--save_steps", "40", "--eval_every", "40", "--dual_warmup_steps", str(WARMUP)]



def _code_without_docs(source: str) -> str:
    """The module's syntax tree without docstrings (comments are not in it): an edit to the prose does not
    invalidate hours of cached runs, an edit to the code does."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@functools.cache
def base_model_digest(task: str = "arith") -> str:
    """Read once per process: every run a benchmark starts is keyed against the same code, even if the
    files are edited while it runs."""
    digest = hashlib.sha256()
    for name in BASE_MODEL_SOURCES + TASK_SOURCES.get(task, ()):
        digest.update(_code_without_docs((REPO / name).read_text()).encode())
    return digest.hexdigest()


def setting_of(args: list[str], name: str, default):
    """A run's setting `name` as a string: its `--name` argument, else its recipe's `name:`, else `default`."""
    import yaml

    if f"--{name}" in args[:-1]:
        return args[args.index(f"--{name}") + 1]
    if "--config" in args[:-1]:
        recipe = yaml.safe_load((REPO / args[args.index("--config") + 1]).read_text()) or {}
        return str(recipe.get(name, default))
    return str(default)


def task_of(args: list[str]) -> str:
    """The task a run's arguments train on: `--task`, else its recipe's `task:`, else the default's."""
    return setting_of(args, "task", "arith")


def conditioned_args(args: list[str]) -> bool:
    """Whether a run's arguments (or its recipe) turn on `budget_conditioned`."""
    return setting_of(args, "budget_conditioned", False).lower() == "true"


def served_at_ratio(task: str) -> bool:
    """Whether a run on `task` ends served through an allocator at `--budget_ratio` (a budget-conditioned task)."""
    from train import tasks

    try:
        return isinstance(tasks.get(task), tasks.BudgetConditioned)
    except (KeyError, ValueError):
        return False


def settings_key(args: list[str]) -> str:
    pairs, i = [], 0
    while i < len(args):
        if args[i].startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--"):
            pairs.append((args[i], args[i + 1]))
            i += 2
        else:
            pairs.append((args[i], ""))
            i += 1
    pairs = [p for p in pairs if p[0] not in UNKEYED]
    # Without a token budget (no controller, or one holding an accuracy floor) the token target changes
    # nothing the run learns: one run serves every budget's contest. Not so a budget-conditioned run: its
    # final figures are served through its allocator at the ratio, so each ratio is its own run's result.
    conditioned = served_at_ratio(task_of(args)) or conditioned_args(args)
    if (("--constraint", "none") in pairs or ("--constraint", "em_floor") in pairs) and not conditioned:
        pairs = [p for p in pairs if p[0] not in ("--budget_ratio", "--budget_tokens")]
    return hashlib.sha256(json.dumps([sorted(pairs), base_model_digest(task_of(args))]).encode()).hexdigest()[:12]


def run_dir(args: list[str], root: Path = ROOT) -> Path:
    return root / settings_key(args)


def cached_run(label: str, args: list[str], root: Path = ROOT, env: dict | None = None) -> dict:
    """The run's summary.json, training it first unless a finished run with these settings exists."""
    out = run_dir(args, root)
    summary = out / "summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Two benchmarks running at once (say the contests at two budgets, which share the EM-only run) must
    # not train the same run into the same directory twice: the second waits for the first, then reads it.
    with open(f"{out}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not summary.exists():
            cmd = [sys.executable, str(REPO / "train" / "run.py"), *args, "--output_dir", str(out)]
            print(f"[{label}] {' '.join(args)}", flush=True)
            started = time.time()
            with open(f"{out}.{label}.log", "w") as log:
                proc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                      env={**os.environ, **(env or {})})
            if proc.returncode != 0:
                raise RuntimeError(f"[{label}] failed (exit {proc.returncode}); see {out}.{label}.log")
            print(f"[{label}] done in {time.time() - started:.0f} s", flush=True)
    result = json.loads(summary.read_text())
    result["dir"] = str(out)
    return result


def dual_trace(run: dict) -> list[tuple[int, float, float]]:
    """(step, smoothed constraint, target) per logged step, from the run's last checkpoint's trainer state."""
    out = Path(run["dir"])
    states = sorted(out.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    history = json.loads(states[-1].read_text())["log_history"] if states else []
    return [(h["step"], h["dual/constraint"], h["dual/target"]) for h in history if "dual/constraint" in h]
