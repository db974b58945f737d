"""Tasks: where prompts, gold answers and (where known) oracle lengths come from.

A task gives fixed train/val splits of rows with at least `prompt` and `answer` (the gold final answer as
a string); rows may carry `difficulty` and `oracle_tokens`. Its reward is the shared `exact_match`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arith:
    """The embedded task (`train/tasks/arith.py`): needs no download."""

    name: str = "arith"

    def load(self, seed: int, val_size: int | None = None) -> tuple[list[dict], list[dict]]:
        from train.tasks import arith

        count = word_count  # the built-in tokenizer is word-level over the task's vocabulary
        return arith.build_split("train", seed, count), arith.build_split("val", seed, count, size=val_size)

    def sft_rows(self, train_rows: list[dict]) -> list[dict]:
        return train_rows

    def rl_dataset(self, train_rows: list[dict]):
        from datasets import Dataset

        return Dataset.from_list([{k: r[k] for k in ("prompt", "answer", "difficulty")} for r in train_rows])


def word_count(text: str) -> int:
    return len(text.split())


TASKS = {"arith": Arith()}


def get(name: str):
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available: {sorted(TASKS)}")
    return TASKS[name]
