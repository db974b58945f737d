"""Budget penalty: relative overshoot of a completion over its own prompt's token budget.

    penalty = min(cap, max(0, n / b(x) − 1))      for correct answers (wrong answers: 0)

b(x) is the learned per-prompt budget (`rewards/budgets/model.py`), supplied by the trainer as the
`token_budget` column; without it every prompt gets the global `budget_tokens`. The relative form (as in
LEASH and LACONIC, `../shared/references/length-rewards.md`) charges a hard prompt that needs 40 tokens
nothing for using 40, and an easy prompt that needs 3 the full cap for rambling to 15: the penalty
follows what each prompt needs instead of one number for all. The trainer scales it by −λ, and wrong
answers are exempt for the same reason as in `token_penalty`.

Why this, not the linear `token_penalty`, is the default even with one global budget: a completion
already under budget feels no pressure, so easy prompts are not pushed below what they need. Measured on
the arith task (budget ratio 0.5, 120 steps, seed 0): the linear penalty reached the target (29.5 tokens
for T = 30) but val EM fell 1.000 → 0.893, because one-operation prompts learned to guess the answer
directly (EM 0.70 there); the relative overshoot reached 31.1 tokens at val EM 1.000.
"""

from __future__ import annotations

from rewards.answer_check import scores_for
from rewards.exact_match import completion_text
from rewards.token_penalty import PENALTY_CAP


def budget_penalty(
    completions: list,
    completion_ids: list[list[int]],
    answer: list[str],
    budget_tokens: float | None = None,
    token_budget: list[float] | None = None,
    correct_only: bool = True,
    cap: float = PENALTY_CAP,
    **kwargs,
) -> list[float]:
    """min(cap, max(0, n/b − 1)) per completion, b its prompt's budget (0 for wrong answers)."""
    budgets = token_budget if token_budget is not None else [budget_tokens] * len(completions)
    correct = scores_for([completion_text(c) for c in completions], answer, kwargs) if correct_only else None
    out = []
    for i, (completion, ids, gold, b) in enumerate(zip(completions, completion_ids, answer, budgets, strict=True)):
        if not b or b <= 0:
            raise ValueError(f"budget_penalty needs budgets > 0, got {b}")
        if correct_only and correct[i] < 0.5:
            out.append(0.0)
        else:
            out.append(min(cap, max(0.0, len(ids) / b - 1.0)))
    return out
