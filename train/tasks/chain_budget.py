"""`chain_easy` with a token budget stated in the prompt: the task of the budget-conditioned policy.

Why: on `chain_easy` no RL method learned *which* answer mode each prompt needs — the mode choice collapses
to one mode for every prompt before the reward can separate them (docs/benchmark.md, "Can RL learn a
prompt-dependent answer style here at all?"), while a supervised loss learns the same choice at once. So
the choice leaves the policy: the prompt states a budget (`budget 22 : 7 + 5 - 9 + 3 ?`), the policy learns
to answer as well as it can within it, and a separate allocator (`train/allocator.py`) picks each prompt's
budget under a mean-token target. One adapter then serves any target.

The warm start (what "follows the tag" means before RL): every mode's trace, tagged with a budget it is
the most detailed mode to fit — `mode_range(d, mode)` is [its length, the next more detailed mode's length
− 1] — so a budget b asks for the longest answer that fits in b tokens, every integer budget in
[`MIN_BUDGET`, `MAX_BUDGET`] is seen during training (an allocator may pick any of them), and the mapping
(difficulty, budget) → mode is a threshold the supervised loss learns. Half the warm-start rows stay
untagged with `chain_easy`'s graded traces, so the untagged prompt is still the wordy base model whose
length fixes T. RL (`configs/benchmark_conditioned.yaml`) then samples a budget per prompt and rewards EM −
λ · max(0, n/b − 1) (`budget_penalty` reading the row's `token_budget`), so within each budget it keeps
the mode that is right most often.

Prompts, answers, splits and the difficulty mix are `chain_easy`'s: the val prompts are the same, so
runs on both tasks compare prompt by prompt.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from train.tasks import arith, chain, chain_easy
from train.tasks.chain import MAX_OPS, MODES  # noqa: F401  (the task's modes are chain's)

TAG_WORD = "budget"
TAG_FORMAT = TAG_WORD + " {budget} : {prompt}"  # how the prompt states its budget (the allocator's `tag`)
MIN_BUDGET = 4  # the shortest answer (`direct #### N` + end of sequence)
FULL_SLACK = 12  # budgets up to this far above the longest trace still ask for it
MAX_BUDGET = chain.mode_tokens(MAX_OPS, "full") + FULL_SLACK - 1
TAGGED_SHARE = 0.5  # of the warm-start rows; the rest keep chain_easy's untagged traces
RL_BUDGET_RANGE = (MIN_BUDGET, 48)  # RL samples budgets here: where the allocator's choices lie at T ≤ base


def vocabulary() -> list[str]:
    """`chain`'s words, the tag's word and separator, and the budget numbers above the task's own values."""
    numbers = [str(i) for i in range(arith.MAX_VALUE + 1, MAX_BUDGET + 1)]
    return chain.vocabulary() + [TAG_WORD, ":"] + numbers


def tag_prompt(prompt: str, budget: int) -> str:
    """The prompt with its budget stated in front: `budget 22 : 7 + 5 - 9 + 3 ?`."""
    budget = int(round(budget))
    if not MIN_BUDGET <= budget <= MAX_BUDGET:
        raise ValueError(f"budget {budget} outside [{MIN_BUDGET}, {MAX_BUDGET}], the budgets this task's tag states")
    return TAG_FORMAT.format(budget=budget, prompt=prompt)


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
    """The budgets for which `mode` is the most detailed answer that fits (both ends included)."""
    modes = distinct_modes(difficulty)
    if mode not in modes:
        raise ValueError(f"mode {mode!r} has no budget range at difficulty {difficulty}: its trace is another's")
    i = modes.index(mode)
    lo = chain.mode_tokens(difficulty, mode)
    hi = chain.mode_tokens(difficulty, modes[i + 1]) - 1 if i + 1 < len(modes) else lo + FULL_SLACK - 1
    return max(lo, MIN_BUDGET), min(hi, MAX_BUDGET)


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
        mode = rng.choice(distinct_modes(d))
        budget = rng.randint(*mode_range(d, mode))
        out.append({**row, "prompt": tag_prompt(row["prompt"], budget),
                    "completion": " " + chain.trace_text(_problem(row), mode), "token_budget": budget})
    return out


def rl_rows(rows: list[dict], seed: int, budget_range: tuple[int, int] = RL_BUDGET_RANGE) -> list[dict]:
    """RL's rows: each prompt tagged with a budget drawn uniformly from `budget_range` (by `seed`), which the
    reward reads as the row's `token_budget`."""
    rng = random.Random(seed * 1000 + 78)
    out = []
    for row in rows:
        budget = rng.randint(*budget_range)
        out.append({**row, "prompt": tag_prompt(row["prompt"], budget), "untagged_prompt": row["prompt"],
                    "token_budget": float(budget)})
    return out
