"""Fit a small reward model from human ratings, for the `reward_model` reward term.

    python launch/train_reward_model.py --ratings ratings.jsonl --base HuggingFaceTB/SmolLM2-135M-Instruct --out runs/rm
    # then in a recipe:  rewards: {exact_match: {}, budget_penalty: {weight: dual}, reward_model: {path: runs/rm, weight: 0.2}}

`--ratings` is JSON Lines, one rated answer per row: `{"prompt": "...", "completion": "...", "score": 4}`
(any numeric scale). Rows of the same prompt are turned into preference pairs — every two completions
with different scores, the higher-scored one `chosen` — and TRL's `RewardTrainer` fits a
sequence-classification head (one output) on top of `--base` with the Bradley–Terry loss. A bad row stops
the script before any training, naming the line and what is wrong with it; so does a file that yields no
pair. The model is saved in safetensors with its tokenizer, as `reward_model` loads it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path



class RatingsError(ValueError):
    """A ratings file that cannot be trained on; the message names the line."""


def read_ratings(path: str | Path) -> list[dict]:
    """Validated rows of a ratings file (RatingsError naming the first bad line)."""
    path = Path(path)
    if not path.exists():
        raise RatingsError(f"--ratings: no such file {str(path)!r}")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise RatingsError(f"{path}:{number}: not JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise RatingsError(f"{path}:{number}: expected an object with prompt, completion, score; got {type(row).__name__}")
        missing = [k for k in ("prompt", "completion", "score") if k not in row]
        if missing:
            raise RatingsError(f"{path}:{number}: missing {', '.join(missing)}")
        if not isinstance(row["prompt"], str) or not isinstance(row["completion"], str):
            raise RatingsError(f"{path}:{number}: prompt and completion must be strings")
        score = row["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise RatingsError(f"{path}:{number}: score must be a finite number, got {score!r}")
        rows.append({"prompt": row["prompt"], "completion": row["completion"], "score": float(score)})
    return rows


def preference_pairs(rows: list[dict]) -> list[dict]:
    """Every two completions of one prompt with different scores → {chosen, rejected} texts (prompt + answer,
    as `reward_model` scores them)."""
    by_prompt: dict[str, list[dict]] = {}
    for row in rows:
        by_prompt.setdefault(row["prompt"], []).append(row)
    pairs = []
    for prompt, rated in by_prompt.items():
        for a, b in itertools.combinations(rated, 2):
            if a["score"] == b["score"]:
                continue
            hi, lo = (a, b) if a["score"] > b["score"] else (b, a)
            pairs.append({"chosen": f"{prompt} {hi['completion']}".strip(),
                          "rejected": f"{prompt} {lo['completion']}".strip()})
    if not pairs:
        raise RatingsError("the ratings yield no preference pair: a prompt needs two completions with different scores")
    return pairs


def train(ratings: str, base: str, out: str, epochs: float = 1.0, learning_rate: float = 1e-4, batch_size: int = 8,
          seed: int = 0, max_steps: int = -1, trust_remote_code: bool = False) -> Path:
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    pairs = preference_pairs(read_ratings(ratings))
    tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1, use_safetensors=True,
                                                               trust_remote_code=trust_remote_code)
    model.config.pad_token_id = tokenizer.pad_token_id
    args = RewardConfig(output_dir=str(out), num_train_epochs=epochs, max_steps=max_steps, learning_rate=learning_rate,
                        per_device_train_batch_size=batch_size, seed=seed, report_to=[], save_strategy="no",
                        logging_steps=10, disable_tqdm=True, use_cpu=not _cuda())
    trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(pairs), processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    print(f"reward model from {len(pairs)} preference pairs -> {out}")
    return Path(out)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", required=True, help="JSON Lines: {prompt, completion, score} per row")
    parser.add_argument("--base", required=True, help="model directory or hub id the reward head is put on")
    parser.add_argument("--out", required=True, help="where the reward model is saved")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max_steps", type=int, default=-1)
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trust_remote_code", action="store_true")
    args = parser.parse_args(argv)
    try:
        train(args.ratings, args.base, args.out, args.epochs, args.learning_rate, args.batch_size, args.seed,
              args.max_steps, args.trust_remote_code)
    except RatingsError as err:
        print(f"train_reward_model: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
