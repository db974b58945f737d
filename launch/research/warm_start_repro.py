"""Is the built-in warm start bit-reproducible across thread counts and CPU kernel sets?

    python -m launch.research.warm_start_repro --steps 30 --threads 1,2
    python -m launch.research.warm_start_repro --steps 30 --kernels native,aten-avx2,mkl-avx2,avx2

Trains the same short warm start (train/base_model.py) once per setting, each in its own process
(`warm_start_in_own_process`), and
compares every setting's weights with the first's. Why: the benchmark's base models rebuilt on an AVX2-only
machine came out a different model from the published ones, built on an AVX-512 one (docs/log.md, "base
models rebuilt on another machine"). Kernel dispatch is fixed when torch and MKL start, so a kernel set can
only be chosen per process, through the environment:

    native     what the CPU offers (ATen's and MKL's own dispatch)
    aten-avx2  ATEN_CPU_CAPABILITY=avx2: torch's own kernels (elementwise, softmax, norms, optimizer) at AVX2
    mkl-avx2   MKL_ENABLE_INSTRUCTIONS=AVX2: MKL's matrix products at AVX2
    avx2       both: what an AVX2-only machine runs

On an AVX-512 machine `avx2` is how to build the base models an AVX2-only machine would (the converse is
impossible: AVX-512 kernels need the instructions).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

ATEN_AVX2 = {"ATEN_CPU_CAPABILITY": "avx2"}
MKL_AVX2 = {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}
KERNELS = {"native": {}, "aten-avx2": ATEN_AVX2, "mkl-avx2": MKL_AVX2, "avx2": ATEN_AVX2 | MKL_AVX2}


def settings_to_run(threads: str, kernels: str) -> list[tuple[int, str]]:
    """Every (thread count, kernel set) pair to train, in order; unknown kernel sets are an error."""
    counts = [int(t) for t in threads.split(",")]
    names = [k.strip() for k in kernels.split(",")]
    unknown = [k for k in names if k not in KERNELS]
    if unknown:
        raise SystemExit(f"unknown kernel set(s) {unknown}; choose from {sorted(KERNELS)}")
    return [(n, k) for k in names for n in counts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="chain_easy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=30, help="SFT steps per warm start")
    parser.add_argument("--threads", default="1", help="comma-separated torch thread counts")
    parser.add_argument("--kernels", default="native", help=f"comma-separated kernel sets: {', '.join(KERNELS)}")
    args = parser.parse_args()
    runs = settings_to_run(args.threads, args.kernels)
    import torch
    from safetensors.torch import load_file

    from train import tasks
    from train.base_model import WarmStartSettings, warm_start_in_own_process

    task = tasks.get(args.task)
    rows = task.sft_rows(task.load(args.seed, None, None)[0])
    settings = WarmStartSettings(seed=args.seed, task=args.task, sft_steps=args.steps)
    weights, records = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, kernel in runs:
            out = Path(tmp) / f"{kernel}-threads-{n}"
            out.mkdir()
            # torch takes its intra-op thread count from OMP_NUM_THREADS at start-up; built_with checks it
            warm_start_in_own_process(out, settings, rows, env={**KERNELS[kernel], "OMP_NUM_THREADS": str(n)})
            weights[n, kernel] = load_file(out / "model.safetensors")
            records[n, kernel] = json.loads((out / "warm_start.json").read_text())["built_with"]
    first = runs[0]
    print(f"\n{args.steps} SFT steps of {args.task} seed {args.seed}, compared with {first[1]} at {first[0]} thread(s)\n")
    print("| kernels | threads | recorded as | max abs weight difference | bit-identical |\n|---|---|---|---|---|")
    for n, kernel in runs:
        a, b = weights[first], weights[n, kernel]
        diff = max((a[k] - b[k]).abs().max().item() for k in a)
        same = all(torch.equal(a[k], b[k]) for k in a)
        rec = records[n, kernel]
        print(f"| {kernel} | {rec['threads']} | {rec['cpu_capability']} {rec.get('kernel_env') or ''} | {diff:.3g} | {same} |")
    print(f"\n(torch {torch.__version__}, this CPU's capability {torch.backends.cpu.get_cpu_capability()})")


if __name__ == "__main__":
    main()
