"""How long does an untrained model answer, and would a cap cut its answers or its accuracy?

    python -m launch.research.length_profile --model .cache/terse/smollm2-135m-instruct --task word_problems --cap 256
    python -m launch.research.length_profile --model .cache/terse/smollm2-135m-instruct --cap 256 --repetition_penalty 1.1

Why: a length method is only shown to work where the cap is not what shortens the answers. If many base
answers hit `max_completion_length`, RL on EM alone learns to stop (a truncated answer scores 0) and looks
like a length method. This greedy pass over the val split prints, for a generous cap, the share of answers
at or beyond each smaller cap and the EM that answers shorter than it already carry — so a recipe's cap can
be chosen with base truncation ≤ 2%, or shown not to exist (answers that never end at any cap).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


CAPS = (32, 48, 64, 96, 128, 160, 200, 256, 384, 512)


def profile(tokens: list[int], correct: list[bool], cap: int) -> list[dict]:
    """Per cap c < `cap`: the share of answers of c tokens or more (cut at c), and the EM left if every
    answer of ≥ c tokens were scored wrong. At `cap` itself: the share that hit the cap (never ended)."""
    n = len(tokens)
    rows = []
    for c in [c for c in CAPS if c < cap] + [cap]:
        rows.append({"cap": c, "cut": sum(t >= c for t in tokens) / n,
                     "em_within": sum(ok for ok, t in zip(correct, tokens, strict=True) if t < c) / n})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model directory or hub id")
    parser.add_argument("--task", default="word_problems")
    parser.add_argument("--cap", type=int, default=256, help="the generous cap the pass generates to")
    parser.add_argument("--seed", type=int, default=0, help="the task's data seed (fixes the val split)")
    parser.add_argument("--repetition_penalty", type=float, default=1.0,
                        help="generate with this repetition penalty (does it end the answers that never end?)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="also write the lengths, correctness and completions here (JSON)")
    args = parser.parse_args()
    if not args.repetition_penalty > 0:
        parser.error(f"--repetition_penalty must be > 0, got {args.repetition_penalty}")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train import tasks
    from train.generation import evaluate

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    model.generation_config.repetition_penalty = args.repetition_penalty  # every generate() call below uses it
    _, rows = tasks.get(args.task).load(args.seed)
    started = time.time()
    result = evaluate(model, tokenizer, rows, args.cap, desc="length profile")
    tokens, correct = result["per_example"]["tokens"], result["per_example"]["correct"]
    print(f"{args.task} val ({len(rows)} prompts), greedy to {args.cap} tokens"
          + (f" with repetition penalty {args.repetition_penalty}" if args.repetition_penalty != 1.0 else "")
          + f" in {time.time() - started:.0f} s: "
          f"EM {result['em']:.3f}, mean {result['mean_tokens']:.1f}, median {result['median_tokens']:.0f} tokens")
    print("| cap | answers cut (≥ cap tokens) | EM of the answers shorter than the cap |\n|---|---|---|")
    for r in profile(tokens, correct, args.cap):
        print(f"| {r['cap']} | {r['cut']:.2f} | {r['em_within']:.2f} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"cap": args.cap, "em": result["em"], "tokens": tokens,
                                              "correct": correct, "completions": result["completions"]}))


if __name__ == "__main__":
    main()
