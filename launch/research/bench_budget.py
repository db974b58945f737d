"""Benchmark: learned per-prompt budget vs one global budget, the accuracy-floor mode, and PI vs plain
dual ascent — same task, seed, steps and token target — printed side by side in one table.

    python -m launch.research.bench_budget                      # all runs (~15 min on a 2-core CPU, cached base)
    python -m launch.research.bench_budget --only global,learned --max_steps 150

Each run is `train/run.py` in a subprocess, cached by its settings under `runs/cache/` (`train/runcache.py`):
a finished run is not redone, and `launch/compare.py` reuses the runs it shares with this benchmark. Reported:
val EM and mean tokens per difficulty level (base, global, learned), the Spearman correlation of the
budget model's predictions with the oracle length on held-out test prompts, and for each controller
the largest overshoot of the smoothed constraint after warm-up and its worst deviation from the target
over the last 30% of steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

from train.runcache import BUDGET_RATIO, WARMUP, cached_run, common_args, dual_trace

# Everything else is the default recipe (configs/arith.yaml): budget_penalty, PI controller, EMA smoothing.
RUNS = {
    # name: extra CLI arguments on top of the default recipe
    "global": ["--learned_budget", "false"],
    "learned": ["--learned_budget", "true"],
    "plain_dual": ["--learned_budget", "true", "--dual_kp", "0", "--dual_ema", "0.0"],
    "em_floor": ["--learned_budget", "true", "--constraint", "em_floor", "--em_tolerance", "0.02"],
}


def controller_figures(trace: list[tuple], warmup: int, mode: str) -> dict:
    """Overshoot: after the smoothed constraint first reaches its target (past warm-up), its largest
    excursion beyond the target on the other side, relative to the target. Tail: the worst |deviation|
    over the last 30% of steps."""
    if not trace:
        return {}
    steps = np.array([t[0] for t in trace])
    rel = np.array([t[1] for t in trace]) / trace[-1][2] - 1.0
    after = rel[steps > warmup]
    start = np.sign(after[0]) if after.size and after[0] != 0 else 1.0
    crossed = np.nonzero(np.sign(after) != start)[0]
    overshoot = float(max(0.0, (-start * after[crossed[0]:]).max())) if crossed.size else 0.0
    tail = rel[steps >= steps.max() * 0.7]
    return {"max_overshoot": overshoot, "reached": bool(crossed.size), "tail_max_abs_dev": float(np.abs(tail).max())}


def spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def budget_spearman(run_dir: Path, seed: int) -> float:
    from rewards.budgets import predict_budget
    from train.tasks import arith, word_count

    test = arith.build_split("test", seed, word_count)
    pred = predict_budget(run_dir / "adapter", [r["prompt"] for r in test])
    return spearman(pred, [r["oracle_tokens"] for r in test])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(RUNS), help="comma-separated subset of " + ",".join(RUNS))
    parser.add_argument("--max_steps", type=int, default=120)
    parser.add_argument("--budget_ratio", type=float, default=BUDGET_RATIO)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch threads per run (default: all cores)")
    args = parser.parse_args()
    common = common_args(args.max_steps, args.seed, args.budget_ratio)
    common += ["--torch_threads", str(args.threads)] if args.threads else []
    group = {"WANDB_RUN_GROUP": "bench_budget"}
    results = {name: cached_run(name, common + RUNS[name], env=group) for name in args.only.split(",")}
    for r in results.values():
        r["trace"] = dual_trace(r)

    first = next(iter(results.values()))
    print(f"\nbase model: val EM {first['base']['em']:.3f}, mean tokens {first['base']['mean_tokens']:.1f}, "
          f"oracle {first['oracle_mean_tokens']:.1f}; steps {args.max_steps}, seed {args.seed}\n")
    print("| run | target | val EM | mean tokens | tokens/oracle | final λ |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        f = r["final"]
        print(f"| {name} | {r['constraint']['mode']} {r['constraint']['target']:.2f} | {f['em']:.3f} | "
              f"{f['mean_tokens']:.1f} | {f['tokens_over_oracle']:.2f} | {r['lambda']:.3f} |")
    print("\nper difficulty (val EM / mean tokens):\n")
    levels = sorted(first["base"]["by_difficulty"])
    print("| model | " + " | ".join(f"d={d}" for d in levels) + " |")
    print("|---|" + "---|" * len(levels))
    rows = [("base", first["base"])] + [(n, r["final"]) for n, r in results.items()]
    for name, res in rows:
        cells = [f"{res['by_difficulty'][d]['em']:.2f} / {res['by_difficulty'][d]['mean_tokens']:.1f}" for d in levels]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\ncontroller (smoothed constraint relative to its target):\n")
    print("| run | reached target | max overshoot past target | max \\|deviation\\| over last 30% |")
    print("|---|---|---|---|")
    for name, r in results.items():
        c = controller_figures(r["trace"], WARMUP, r["constraint"]["mode"])
        if c:
            print(f"| {name} | {c['reached']} | {c['max_overshoot']:.3f} | {c['tail_max_abs_dev']:.3f} |")
    for name in ("learned", "em_floor"):
        if name in results and (Path(results[name]["dir"]) / "adapter" / "budget_model.json").exists():
            print(f"\nbudget model of '{name}': Spearman vs oracle on test prompts "
                  f"{budget_spearman(Path(results[name]['dir']), args.seed):.3f}")


if __name__ == "__main__":
    main()
