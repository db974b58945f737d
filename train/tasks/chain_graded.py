"""The benchmark task with a base model whose answer style already leans with the chain's length.

Why a second base model: on `chain` the warm start draws each trace's mode independently of the chain,
so the base model's first word ignores the prompt, and RL never makes it depend on the prompt — not with
any length reward, and not even with a reward that names the right mode for each difficulty
(`launch/research/check_allocation_learnable.py`: GRPO with LoRA or full fine-tuning, at two learning rates,
collapses every prompt onto one mode in 120 steps, while supervised training of the same LoRA learns the
prompt-dependent choice in ~100 steps). A contest between *allocation* methods is then decided by RL's
exploration, not by the methods. Pretrained language models are not like that base model: they already
write somewhat more for harder questions. Here the warm start's share of the wordy `full` mode grows
with the number of operations (`mode_mix`: 34% at one operation to 50% at six; `steps` stays at 20%),
so the base model's first word depends a little on the prompt — its greedy answer is still `full`
everywhere — and RL has a prompt-dependent choice to amplify or to flatten.

Everything else is `chain`'s: the same prompts, answers, splits, modes and traces (`build_split` draws
one mode per row whatever the weights, so the problems are identical).
"""

from __future__ import annotations

from collections.abc import Callable

from train.tasks import chain
from train.tasks.chain import MAX_OPS, MODES, vocabulary  # noqa: F401  (the task's modes and tokens are chain's)

STEPS_SHARE = 0.20
FULL_SHARE = (0.34, 0.50)  # at one operation, at MAX_OPS operations; linear in between


def mode_mix(difficulty: int) -> dict[str, float]:
    """The warm start's mode shares for a chain of `difficulty` operations."""
    lo, hi = FULL_SHARE
    full = lo + (hi - lo) * (difficulty - 1) / (MAX_OPS - 1)
    rest = (1.0 - full - STEPS_SHARE) / 2
    return {"full": full, "steps": STEPS_SHARE, "pairs": rest, "direct": rest}


def build_split(split: str, seed: int, count_tokens: Callable[[str], int], size: int | None = None) -> list[dict]:
    return chain.build_split(split, seed, count_tokens, size, mode_mix=mode_mix)
