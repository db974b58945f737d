"""Where a recipe's optimizer step goes, and what TRL's / transformers' own speed options buy, side by side.

    python -m launch.research.bench_step                                          # arith, on this machine
    python -m launch.research.bench_step --config configs/smollm2_words.yaml --steps 8 \
        --variants baseline,gen4,static,gen4_static -- --dtype bfloat16 --bf16 true     # the GPU measurement

Each variant is the same recipe with `--step_profile true` (train/step_profile.py: exclusive, GPU-synchronised
parts) for one warm-up generation cycle and then `--steps` measured optimizer steps in whole cycles, run one after another in fresh processes so
that they do not share the machine. The table gives each part's seconds per step and share, and each
variant's step time as a ratio to the first variant's. Why these variants: on a GPU a small model's step is
generation, and generation is latency-bound — 128 completions take about as long as 16 — so the cheap
wins are to decode more sequences per call and to make each decoding step cheaper:

- `gen4`: `--steps_per_generation 4` — one generation call for four optimizer steps (TRL's generation batch;
  the later three steps are off-policy by one to three updates, corrected by TRL's importance ratio over the
  old log-probs it then computes; λ still moves every step, but the rewards of a generation batch use the λ
  of the step that generated it);
- `static`: `--cache_implementation static` — a static KV cache, which transformers compiles on a GPU;
- `paged`: `--use_transformers_continuous_batching true` — transformers' paged continuous batching.

Arguments after `--` go to every variant (e.g. bf16 on a GPU). Writes `<out>/<variant>/step_profile.json`
and `<out>/table.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]

from train.rl_setup import generation_cycle
from train.step_profile import PROFILE_FILE, format_table

VARIANTS = {
    "baseline": [],
    "gen4": ["--steps_per_generation", "4"],
    "static": ["--cache_implementation", "static"],
    "gen4_static": ["--steps_per_generation", "4", "--cache_implementation", "static"],
    "paged": ["--use_transformers_continuous_batching", "true"],
}
# Short and quiet: no evaluations, checkpoints, selection or W&B inside the measured steps.
FIXED = ["--step_profile", "true", "--eval_every", "0", "--save_strategy", "no", "--select_checkpoint", "false",
         "--report_to", "none"]


def cycle_of(variant: str, accumulation: int = 1) -> int:
    """Optimizer steps per generation call under `variant`: train.rl_setup.generation_cycle of its flags, so the
    bench's warm-up is the one the run's profile uses."""
    flags = VARIANTS[variant]
    per_generation = int(flags[flags.index("--steps_per_generation") + 1]) if "--steps_per_generation" in flags else None
    return generation_cycle(SimpleNamespace(steps_per_generation=per_generation,
                                            gradient_accumulation_steps=accumulation, num_iterations=1))


def max_steps_for(variant: str, steps: int, accumulation: int = 1) -> int:
    """One warm-up cycle, then at least `steps` measured steps in whole generation cycles: every variant's
    mean then charges each step its share of one generation."""
    cycle = cycle_of(variant, accumulation)
    return cycle + cycle * -(-steps // cycle)


def variant_command(config: str, variant: str, steps: int, out: Path, extra: list[str], accumulation: int = 1) -> list[str]:
    return [sys.executable, str(ROOT / "train" / "run.py"), "--config", config,
            "--max_steps", str(max_steps_for(variant, steps, accumulation)),
            *FIXED, "--output_dir", str(out / variant), *VARIANTS[variant], *extra]


def accumulation_of(config: str, extra: list[str]) -> int:
    """The recipe's gradient accumulation (a `--gradient_accumulation_steps` among the extra flags wins)."""
    import yaml

    if "--gradient_accumulation_steps" in extra:
        return int(extra[extra.index("--gradient_accumulation_steps") + 1])
    return int((yaml.safe_load(Path(config).read_text()) or {}).get("gradient_accumulation_steps", 1))


def parse_variants(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if not names or unknown:
        raise ValueError(f"--variants: unknown {unknown or 'empty list'}; choose from {', '.join(VARIANTS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "arith.yaml"))
    parser.add_argument("--variants", default="baseline,gen4,static")
    parser.add_argument("--steps", type=int, default=8,
                        help="measured optimizer steps per variant, after one warm-up generation cycle")
    parser.add_argument("--out", default="runs/bench_step")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run (CPU)")
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    try:
        variants = parse_variants(args.variants)
    except ValueError as e:
        parser.error(str(e))
    if args.steps < 1:
        parser.error("--steps must be ≥ 1")
    if not Path(args.config).exists():
        parser.error(f"--config {args.config}: no such file")
    accumulation = accumulation_of(args.config, extra)
    if args.threads:
        extra += ["--torch_threads", str(args.threads)]
    out = Path(args.out)
    profiles, failed, lengths = {}, {}, {}
    for variant in variants:
        command = variant_command(args.config, variant, args.steps, out, extra, accumulation)
        print("$", " ".join(command), flush=True)
        started = time.time()
        (out / variant).mkdir(parents=True, exist_ok=True)
        with open(out / variant / "log.txt", "w") as log:
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "WANDB_MODE": "disabled"})
        path = out / variant / PROFILE_FILE
        if code != 0 or not path.exists():
            failed[variant] = f"exit {code}; see {out / variant / 'log.txt'}"
            print(f"  {variant}: failed ({failed[variant]})", flush=True)
            continue
        profiles[variant] = json.loads(path.read_text())
        tokens = json.loads((out / variant / "summary.json").read_text()).get("train_mean_completion_tokens")
        lengths[variant] = "—" if tokens is None else f"{tokens:.1f}"
        print(f"  {variant}: {profiles[variant]['step_seconds']:.3f} s/step ({time.time() - started:.0f} s in all)",
              flush=True)
    if not profiles:
        print("no variant ran", file=sys.stderr)
        return 1
    device = {p.get("device") for p in profiles.values()}
    table = (f"{args.config}, ≥ {args.steps} measured steps per variant after one warm-up generation cycle, device {', '.join(sorted(device))}"
             + (f", extra: {' '.join(extra)}" if extra else "") + "\n\n" + format_table(profiles, {"mean completion tokens (training)": lengths}))
    if failed:
        table += "\n" + "\n".join(f"- {v}: failed, {why}" for v, why in failed.items()) + "\n"
    (out / "table.md").write_text(table)
    print("\n" + table, flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
