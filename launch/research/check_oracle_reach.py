"""Can the built-in base model write the oracle trace? Teacher-forced accuracy per difficulty and verbosity.

    python -m launch.research.check_oracle_reach            # seed 0's cached base model (trained first if missing)
    python -m launch.research.check_oracle_reach --seed 1

Length training can only reach the oracle length without losing accuracy if the base model computes
correctly when it writes the concise trace. For every val problem this feeds the base model the concise
trace, the trace with one extra per step and the one with two (and, for one operation, the direct
answer), and counts the problem right if the model's most likely token is the true one at every computed
position (each result after `=`, each operand and the final answer). A base model warm-started without
enough concise traces got five-operation concise traces right 57% of the time against 100% for the wordy
ones, which capped every length-training method above the oracle.
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

VERBOSITIES = {"concise": 0, "1 extra/step": 1, "2 extras/step": 2}
COMPUTED_AFTER = ("=", "####", "+", "-")  # the token after one of these is computed, not a style choice


def problem_from_prompt(prompt: str) -> dict:
    """The arith problem behind a prompt such as `7 + 5 - 9 ?`."""
    from train.tasks import arith

    words = prompt.split()[:-1]
    start, ops = int(words[0]), [(words[i], int(words[i + 1])) for i in range(1, len(words), 2)]
    value = start
    for op, b in ops:
        value = arith._apply(value, op, b)
    return {"start": start, "ops": ops, "answer": value, "difficulty": len(ops), "expression": " ".join(words)}


def computed_right(model, tokenizer, prompt: str, trace: str) -> bool:
    """Teacher-forced: is the argmax token right at every computed position of `trace`?"""
    import torch

    prompt_ids = tokenizer(prompt)["input_ids"]
    trace_ids = tokenizer(" " + trace)["input_ids"] + [tokenizer.eos_token_id]
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + trace_ids])).logits[0]
    predicted = logits[len(prompt_ids) - 1:-1].argmax(-1).tolist()
    tokens = tokenizer.convert_ids_to_tokens(prompt_ids[-1:] + trace_ids)
    return all(predicted[i] == trace_ids[i] for i in range(len(trace_ids)) if tokens[i] in COMPUTED_AFTER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warm_start_steps", type=int, default=900)
    parser.add_argument("--cache_dir", default=str(REPO / ".cache" / "terse"))
    args = parser.parse_args()

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.base_model import WarmStartSettings, cached_base_model
    from train.tasks import Arith, arith

    task = Arith()
    train_rows, val_rows = task.load(args.seed)
    settings = WarmStartSettings(seed=args.seed, sft_steps=args.warm_start_steps)
    path = cached_base_model(args.cache_dir, settings, task.sft_rows(train_rows))
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval()

    levels = sorted({r["difficulty"] for r in val_rows})
    print(f"base model {path}: teacher-forced accuracy on val ({len(val_rows)} problems)")
    print("| trace | " + " | ".join(f"d={d}" for d in levels) + " |")
    print("|---|" + "---|" * len(levels))
    for name, extras in [*VERBOSITIES.items(), ("direct answer", None)]:
        cells = []
        for d in levels:
            if extras is None and d > 1:
                cells.append("")
                continue
            rows = [r for r in val_rows if r["difficulty"] == d]
            right = sum(computed_right(model, tokenizer, r["prompt"], arith.trace_text(
                problem_from_prompt(r["prompt"]), None if extras is None else [extras] * d)) for r in rows)
            cells.append(f"{right / len(rows):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
