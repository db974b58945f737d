"""How fast can the built-in base model be warm-started, and what does speed cost? (docs/log.md, 2026-12-07)

    python -m launch.research.warm_start_speed 900 '{}'                           # today's settings
    python -m launch.research.warm_start_speed 300 '{"sft_learning_rate": 0.006}'  # any WarmStartSettings field

Trains `arith`'s warm start (seed 0) with the given step count and WarmStartSettings overrides in a temporary
folder, then prints seconds a step and the greedy base model's val EM and mean tokens — the two figures the
first run's base model must keep (1.000 and 60.0).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def main() -> int:
    import torch

    from train import tasks
    from train.base_model import WarmStartSettings, warm_start
    from train.generation import evaluate
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    torch.set_num_threads(2)
    steps, overrides = int(sys.argv[1]), json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    task = tasks.get("arith")
    train_rows, val_rows = task.load(0)
    settings = replace(WarmStartSettings(), sft_steps=steps, **overrides)
    with tempfile.TemporaryDirectory() as out:
        started = time.time()
        warm_start(Path(out), settings, task.sft_rows(train_rows))
        seconds = time.time() - started
        model, tokenizer = AutoModelForCausalLM.from_pretrained(out), AutoTokenizer.from_pretrained(out)
        base = evaluate(model, tokenizer, val_rows, 128, desc="val")
    print(f"warm start {steps} steps {overrides}: {seconds:.0f} s ({seconds / steps:.3f} s a step); "
          f"base val EM {base['em']:.3f}, mean tokens {base['mean_tokens']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
