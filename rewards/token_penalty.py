"""Token penalty: how many completion tokens an answer spent, relative to the token budget T.

The trainer multiplies this reward by −λ, with λ set by the dual controller (`train/dual.py`), so the
total reward is `EM − λ·n/T`: exactly the Lagrangian of "maximise EM subject to E[n] ≤ T" up to a
constant. The penalty is linear in n so that every token counts the same, whether the answer is far over
or just under the budget; the controller, not the shape of the penalty, decides how hard to push.

Wrong answers are not penalised (`correct_only: true`, the default). A continuous length penalty on
wrong answers makes a long wrong answer cheaper to shorten than to fix, and GRPO then collapses towards
short wrong answers (reported by ACOER, see `../shared/references/length-rewards.md`). With the penalty
on correct answers only, the reward of a wrong answer is 0 whatever its length, and the penalty is capped
(`cap`, in units of T) so that with λ ≤ λ_max and λ_max·cap < 1 a correct answer always scores above
every wrong one: brevity is never bought with accuracy.
"""

from __future__ import annotations

from rewards.answer_check import scores_for
from rewards.exact_match import completion_text


PENALTY_CAP = 2.0  # the length penalties' default cap (in units of T, or of a prompt's budget): written once


def token_penalty(
    completions: list,
    completion_ids: list[list[int]],
    answer: list[str],
    budget_tokens: float | None = None,
    token_budget: list[float] | None = None,
    correct_only: bool = True,
    cap: float = PENALTY_CAP,
    **kwargs,
) -> list[float]:
    """min(n/T, cap) per completion (0 for wrong answers when `correct_only`); n counts end-of-sequence.

    T is each row's `token_budget` (the trainer gives every row the run's T, `train/target.py`), else
    `budget_tokens` (one T for all: a direct call).

    >>> token_penalty(["#### 4", "#### 5"], [[0] * 5, [0] * 5], ["4", "4"], token_budget=[10.0, 10.0])
    [0.5, 0.0]
    """
    budgets = token_budget if token_budget is not None else [budget_tokens] * len(completions)
    correct = scores_for([completion_text(c) for c in completions], answer, kwargs) if correct_only else None
    out = []
    for i, (completion, ids, gold, t) in enumerate(zip(completions, completion_ids, answer, budgets, strict=True)):
        if not (t or 0) > 0:
            raise ValueError(f"token_penalty needs budget_tokens > 0, got {t}")
        if correct_only and correct[i] < 0.5:
            out.append(0.0)
        else:
            out.append(min(len(ids) / t, cap))
    return out
