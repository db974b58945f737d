"""GSM8K (Cobbe et al. 2021): grade-school math word problems, for instruct models.

Loads `openai/gsm8k` (config `main`) from the Hugging Face hub, or the same JSONL files from a local
directory (`data_path`, holding `train.jsonl` and `test.jsonl`). Prompts are chat messages, so TRL and the
evaluator render them with the model's own chat template; the gold answer is the number after `#### ` on
the reference solution's last line, normalised like every answer (`1,000` → `1000`). The reward is the
shared `exact_match`, which reads `#### N`, `\\boxed{N}`, "The answer is N", "Answer: N" and "A: N".

val is carved from the end of train (`val_size` rows, fixed), so the official test split stays unseen.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from rewards.exact_match import normalize_number

SYSTEM_PROMPT = (
    "Solve the math problem. Think step by step as briefly as you can, then give the final answer on the "
    "last line as '#### N'."
)
DEFAULT_VAL_SIZE = 200


class GoldAnswerError(ValueError):
    """A dataset row whose reference answer has no parsable `#### N` line."""


def gold_answer(solution: str, where: str = "") -> str:
    """The final answer of a reference solution as a normalised number string (e.g. "1000", "-3", "2.5")."""
    if not isinstance(solution, str) or "####" not in solution:
        raise GoldAnswerError(f"{where}: reference answer has no '#### N' line: {str(solution)[-80:]!r}")
    value = normalize_number(solution.rsplit("####", 1)[1].strip())
    if value is None:
        raise GoldAnswerError(f"{where}: cannot parse the gold answer {solution.rsplit('####', 1)[1].strip()!r}")
    return format(value.normalize(), "f")


def read_split(split: str, data_path: str | None) -> list[dict]:
    """Raw rows {question, answer} of a split, from `data_path` or the hub."""
    if data_path:
        path = Path(data_path) / f"{split}.jsonl"
        if not path.exists():
            raise FileNotFoundError(f"GSM8K split file not found: {path}")
        with path.open() as f:
            return [json.loads(line) for line in f if line.strip()]
    from datasets import load_dataset

    return list(load_dataset("openai/gsm8k", "main", split=split))


def to_rows(raw: list[dict], source: str) -> list[dict]:
    if not raw:
        raise ValueError(f"{source}: the dataset is empty")
    rows = []
    for i, r in enumerate(raw):
        for column in ("question", "answer"):
            if column not in r:
                raise ValueError(f"{source} row {i}: missing column {column!r} (columns: {sorted(r)})")
        rows.append(
            {
                "prompt": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": r["question"]}],
                "answer": gold_answer(r["answer"], f"{source} row {i}"),
                "solution": r["answer"],
            }
        )
    return rows


def load(seed: int, val_size: int | None = None, data_path: str | None = None) -> tuple[list[dict], list[dict]]:
    """(train, val): val is the last `val_size` rows of train after a seeded shuffle; test is untouched."""
    rows = to_rows(read_split("train", data_path), f"gsm8k train ({data_path or 'hub'})")
    random.Random(seed).shuffle(rows)
    n_val = val_size or DEFAULT_VAL_SIZE
    return rows[:-n_val], rows[-n_val:]


def load_test(data_path: str | None = None) -> list[dict]:
    return to_rows(read_split("test", data_path), f"gsm8k test ({data_path or 'hub'})")
