"""`chain_easy` with a token budget stated in the prompt: the task of the budget-conditioned policy.

Why: on `chain_easy` no RL method learned *which* answer mode each prompt needs — the mode choice collapses
to one mode for every prompt before the reward can separate them (docs/log.md, "Can RL learn a
prompt-dependent answer style here at all?"), while a supervised loss learns the same choice at once. So
the choice leaves the policy: the prompt states a budget (`budget 5 : 7 + 5 - 9 + 3 ?`: 25 tokens), the policy learns
to answer as well as it can within it, and a separate allocator (`train/allocator.py`) picks each prompt's
budget under a mean-token target. One adapter then serves any target.

The warm start (what "follows the tag" means before RL): every mode's trace, tagged with a budget it is
the most detailed mode to fit — `mode_range(d, mode)` is [its length, the next more detailed mode's length
− 1] — so a budget b asks for the longest answer that fits in b tokens, every budget a tag can state
(5, 10, …, 100 tokens, written in units of 5) is seen during training, and the mapping (difficulty,
budget) → mode is a threshold the supervised loss learns. Half the warm-start rows stay
untagged with `chain_easy`'s graded traces, so the untagged prompt is still the wordy base model whose
length fixes T. RL (`configs/benchmark_conditioned.yaml`) then samples a budget per prompt and rewards EM −
λ · max(0, n/b − 1) (`budget_penalty` reading the row's `token_budget`), so within each budget it keeps
the mode that is right most often.

Prompts, answers, splits and the difficulty mix are `chain_easy`'s: the val prompts are the same, so
runs on both tasks compare prompt by prompt.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from train.tasks import chain, chain_easy
from train.tasks.chain import MAX_OPS, MODES  # noqa: F401  (the task's modes are chain's)

TAG_WORD = "budget"
UNIT = 5  # the tag states the budget in units of 5 tokens: `budget 8 :` is 40 tokens
TAG_FORMAT = TAG_WORD + " {budget} : {prompt}"  # over the budget in units (the allocator's `tag`, `tag_unit` 5)
MIN_BUDGET = UNIT  # one unit: room for the shortest answer (`direct #### N` + end of sequence, 4 tokens)
MAX_BUDGET = 20 * UNIT  # 20 units: every number a tag states is one the task's prompts already use
TAGGED_SHARE = 0.5  # of the warm-start rows; the rest keep chain_easy's untagged traces
RL_BUDGET_RANGE = (MIN_BUDGET, MAX_BUDGET)  # RL samples budgets log-uniformly over every budget a tag states:
# trained on [4, 48] only, the policy answered budgets above it in ways its fit could not predict
# Why units and numbers the model knows: budgets as new words 21–99, learned while continuing chain_easy's
# base model for 300 steps, were not told apart (at 22–60 tokens it answered in `full` whatever the
# budget); the numbers 1–20 are trained embeddings from the start, and 5-token steps lose little because
# the policy spends its mode's length, not the budget.


def vocabulary() -> list[str]:
    """`chain`'s words, then the tag's word and separator (the budget itself is one of chain's numbers)."""
    return chain.vocabulary() + [TAG_WORD, ":"]


def budget_grid() -> list[int]:
    """Every budget a tag can state, in tokens: 5, 10, …, 100."""
    return list(range(MIN_BUDGET, MAX_BUDGET + 1, UNIT))


def tag_prompt(prompt: str, budget: int) -> str:
    """The prompt with its budget stated in front, in units of `UNIT` tokens rounded down: 40 tokens is
    `budget 8 : 7 + 5 - 9 + 3 ?`."""
    units = int(budget) // UNIT
    if not 1 <= units <= MAX_BUDGET // UNIT:
        raise ValueError(f"budget {budget} outside [{MIN_BUDGET}, {MAX_BUDGET + UNIT - 1}] tokens, the budgets this "
                         "task's tag states")
    return TAG_FORMAT.format(budget=units, prompt=prompt)


def distinct_modes(difficulty: int) -> list[str]:
    """The modes of a chain from the shortest up, one per length (at d ≤ 2 `pairs` writes no value: it is
    `direct` with another first word, and the shorter-named `direct` is kept)."""
    seen, out = set(), []
    for mode in reversed(MODES):
        n = chain.mode_tokens(difficulty, mode)
        if n not in seen:
            seen.add(n)
            out.append(mode)
    return out


def mode_range(difficulty: int, mode: str) -> tuple[int, int]:
    """The budgets (in tokens) for which `mode` is the most detailed answer that fits, both ends included:
    from its length to one below the next more detailed mode's (for `full`, up to `MAX_BUDGET`)."""
    modes = distinct_modes(difficulty)
    if mode not in modes:
        raise ValueError(f"mode {mode!r} has no budget range at difficulty {difficulty}: its trace is another's")
    i = modes.index(mode)
    lo = chain.mode_tokens(difficulty, mode)
    hi = chain.mode_tokens(difficulty, modes[i + 1]) - 1 if i + 1 < len(modes) else MAX_BUDGET
    return lo, hi


def grid_budgets(difficulty: int, mode: str) -> list[int]:
    """The budgets a tag can state that ask for `mode` at `difficulty`."""
    lo, hi = mode_range(difficulty, mode)
    return [b for b in budget_grid() if lo <= b <= hi]


def mode_for_budget(difficulty: int, budget: int) -> str | None:
    """The most detailed mode whose trace fits in `budget` tokens (None when none fits)."""
    fitting = [m for m in distinct_modes(difficulty) if chain.mode_tokens(difficulty, m) <= budget]
    return fitting[-1] if fitting else None


def _problem(row: dict) -> dict:
    """The problem back from a row's prompt (`7 + 5 - 9 ?`), for writing its trace in another mode."""
    words = row["prompt"].split()[:-1]
    ops = [(words[i], int(words[i + 1])) for i in range(1, len(words), 2)]
    return {"start": int(words[0]), "ops": ops, "answer": int(row["answer"]), "difficulty": len(ops)}


def build_split(split: str, seed: int, count_tokens: Callable[[str], int], size: int | None = None) -> list[dict]:
    """`chain_easy`'s rows (same prompts, answers and untagged warm-start completions)."""
    return chain_easy.build_split(split, seed, count_tokens, size)


def tagged_sft_rows(rows: list[dict], seed: int) -> list[dict]:
    """The warm start's rows: `TAGGED_SHARE` of them tagged, each with a mode drawn uniformly from the
    chain's distinct modes and a budget drawn uniformly from that mode's range; the rest as they are."""
    rng = random.Random(seed * 1000 + 77)
    out = []
    for row in rows:
        if rng.random() >= TAGGED_SHARE:
            out.append(row)
            continue
        d = row["difficulty"]
        modes = [m for m in distinct_modes(d) if grid_budgets(d, m)]
        mode = rng.choice(modes)
        budget = rng.choice(grid_budgets(d, mode))
        out.append({**row, "prompt": tag_prompt(row["prompt"], budget),
                    "completion": " " + chain.trace_text(_problem(row), mode), "token_budget": budget})
    return out


def rl_rows(rows: list[dict], seed: int, budget_range: tuple[int, int] = RL_BUDGET_RANGE) -> list[dict]:
    """RL's rows: each prompt tagged with a budget of the grid in `budget_range`, drawn log-uniformly (by `seed`:
    as many in 5–10 as in 40–80), which the reward reads as the row's `token_budget`."""
    rng = random.Random(seed * 1000 + 78)
    lo, hi = budget_range
    grid = [b for b in budget_grid() if lo <= b <= hi]
    weights = [math.log(b + UNIT / 2) - math.log(b - UNIT / 2) for b in grid]  # log-uniform over the grid
    out = []
    for row in rows:
        budget = rng.choices(grid, weights=weights)[0]
        out.append({**row, "prompt": tag_prompt(row["prompt"], budget), "untagged_prompt": row["prompt"],
                    "token_budget": float(budget)})
    return out
