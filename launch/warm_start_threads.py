"""Is the built-in warm start bit-reproducible across torch thread counts on this machine?

    python launch/warm_start_threads.py --task chain_easy --steps 30 --threads 1,2

Trains the same short warm start (train/base_model.py) once per thread count and compares the weights.
Why: the benchmark's base models rebuilt on another machine came out different (docs/benchmark.md, "base
models rebuilt on another machine"); this separates the thread count from the rest (torch build, CPU
instruction set), which the cached model's `built_with` record names.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="chain_easy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=30, help="SFT steps per warm start")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    args = parser.parse_args()
    import torch
    from safetensors.torch import load_file

    from train import tasks
    from train.base_model import WarmStartSettings, warm_start

    counts = [int(t) for t in args.threads.split(",")]
    task = tasks.get(args.task)
    train_rows, _ = task.load(args.seed, None, None)
    rows = task.sft_rows(train_rows)
    weights = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            torch.set_num_threads(n)
            out = Path(tmp) / f"threads-{n}"
            out.mkdir()
            warm_start(out, WarmStartSettings(seed=args.seed, task=args.task, sft_steps=args.steps), rows)
            weights[n] = load_file(out / "model.safetensors")
    first = weights[counts[0]]
    for n in counts[1:]:
        diff = max((first[k] - weights[n][k]).abs().max().item() for k in first)
        same = all(torch.equal(first[k], weights[n][k]) for k in first)
        print(f"threads {counts[0]} vs {n}: max |Δw| = {diff:.3g}, bit-identical: {same}")
    print(f"(torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()})")


if __name__ == "__main__":
    main()
