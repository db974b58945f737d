"""Exact match: 1.0 when the completion's final answer passes the row's answer check, else 0.0.

The check is the one evaluation and users call (`rewards/answer_check.py`), `numeric` unless the row names
another, so a model is never trained against one scorer and judged by another. The numeric check lives in
`rewards/numeric.py`; its names are re-exported here, where they have always been imported from.
"""

from __future__ import annotations

from rewards.answer_check import scores_for
from rewards.numeric import extract_answer, is_correct, normalize_number

__all__ = ["completion_text", "exact_match", "extract_answer", "is_correct", "normalize_number"]


def completion_text(completion) -> str:
    """Plain text of a completion as TRL passes it: a string, or a list of chat messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return ""


def exact_match(completions: list, answer: list, **kwargs) -> list[float]:
    """Reward: 1.0 for a correct final answer, 0.0 otherwise (never raises on any completion).

    The check is the row's `answer_check` column when the data carry one (`rewards/answer_check.py`;
    a user check may return a float in [0, 1]), else `numeric`; `answer` holds a gold string or a list
    of acceptable answers per completion."""
    return scores_for([completion_text(c) for c in completions], answer, kwargs)
