"""Layer-wise learning rates against one learning rate: LoRA+ and per-layer decay on chain_easy, 3 seeds.

    python -m launch.research.bench_layerwise                      # trains what is not cached (~4 min a run, 2 cores)

The recipe is the benchmark's best RL method (`terse_monotone` of launch/compare.py, T = 0.4 × base, 120
steps, evaluations every 40), with the same settings as the contest's runs — so its single-learning-rate
runs are the contest's own, shared through the run cache — plus `--lora_plus_ratio 16` (LoRA+, the paper's
ratio), `--lora_plus_ratio 4` or `--layer_lr_decay 0.8`. Reported per seed: the first evaluation within 1.05·T (the steps to
reach the budget, at the evaluations' 40-step resolution), the shipped val EM and tokens; then a paired
bootstrap of each option against one learning rate over all seeds' val prompts.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from launch.compare import METHODS, fill_ratio
from train.ab_test import paired_bootstrap
from train.runcache import cached_run, common_args
from train.selection import BUDGET_TOLERANCE

CONFIG = "configs/benchmark_easy.yaml"
VARIANTS = {"one learning rate": [], "LoRA+ (ratio 16)": ["--lora_plus_ratio", "16"],
            "LoRA+ (ratio 4)": ["--lora_plus_ratio", "4"], "per-layer decay 0.8": ["--layer_lr_decay", "0.8"]}


def steps_to_budget(summary: dict) -> int | None:
    """The first evaluated step whose greedy val tokens are within 1.05·T (None: never)."""
    target = summary["constraint"]["target"]
    for e in sorted(summary["evaluations"], key=lambda e: e["step"]):
        if e["mean_tokens"] <= target * (1 + BUDGET_TOLERANCE):
            return e["step"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    runs: dict[str, list[dict]] = {}
    for name, extra in VARIANTS.items():
        for seed in seeds:
            cmd = (common_args(120, seed, 0.4, CONFIG) + ["--torch_threads", str(args.threads)]
                   + fill_ratio(METHODS["terse_monotone"][1], 0.4) + extra)
            slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
            runs.setdefault(name, []).append(cached_run(f"layerwise-{slug}-s{seed}", cmd,
                                                        env={"OMP_NUM_THREADS": str(args.threads)}))
    print("| learning rates | steps to 1.05·T, seeds " + " / ".join(map(str, seeds))
          + " | shipped val EM (tokens) | mean EM ± range | within 1.05·T |\n|---|---|---|---|---|")
    per_example = {}
    for name, results in runs.items():
        ems = [r["final"]["em"] for r in results]
        within = sum(r["final"]["mean_tokens"] <= r["constraint"]["target"] * (1 + BUDGET_TOLERANCE) for r in results)
        print(f"| {name} | {' / '.join(str(steps_to_budget(r) or 'never') for r in results)} | "
              + " / ".join(f"{r['final']['em']:.3f} ({r['final']['mean_tokens']:.1f})" for r in results)
              + f" | {sum(ems) / len(ems):.3f} ± {max(ems) - min(ems):.3f} | {within} of {len(results)} |")
        pe = [json.loads((Path(r["dir"]) / "val_per_example.json").read_text()) for r in results]
        per_example[name] = ([c for p in pe for c in p["correct"]], [t for p in pe for t in p["tokens"]])
    base_c, base_t = per_example["one learning rate"]
    for name, (c, t) in per_example.items():
        if name == "one learning rate":
            continue
        boot = paired_bootstrap(base_c, c, base_t, t)
        print(f"{name} − one learning rate: EM {boot['em_diff']:+.3f} [{boot['em_ci'][0]:+.3f}, {boot['em_ci'][1]:+.3f}], "
              f"tokens {boot['tokens_diff']:+.1f}")


if __name__ == "__main__":
    main()
