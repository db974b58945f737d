"""The numeric answer check: a completion's final number, compared with the gold as a decimal.

The same extraction serves training rewards (`rewards/exact_match.py`), evaluation and users (`is_correct`,
`rewards.answer_check.get("numeric")`), so a model is never trained against one scorer and judged by another. The final answer is, in order of precedence:

1. the number after the last `#### ` (GSM8K's own marker),
2. the number in the last `\\boxed{...}`,
3. the number after the last "The answer is", "Answer:" or "A:",
4. else the last number anywhere in the text.

Numbers are normalised before comparison: thousands separators ("1,000"), currency and percent signs
("$18.00"), trailing zeros ("18.0" == "18"), a leading "+" and unicode minus signs. Comparison is exact on
the decimal value, so "0.1 + 0.2"-style float noise cannot make a wrong answer right.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_NUMBER = r"[-+\u2212]?\s?[$€£]?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+\u2212]?\s?[$€£]?\s?\.\d+"
_NUMBER_RE = re.compile(_NUMBER)
_MARKERS = [
    re.compile(r"####\s*(" + _NUMBER + ")"),
    re.compile(r"\\boxed\{\s*(" + _NUMBER + r")\s*\}"),
    re.compile(r"(?:[Tt]he (?:final )?answer is|[Aa]nswer\s*:|\bA\s*:)\s*\**\s*(" + _NUMBER + ")"),
]


def normalize_number(text: str) -> Decimal | None:
    """The decimal value of a number as people write it, or None when `text` is not one number."""
    cleaned = text.strip().replace("\u2212", "-").replace(",", "").replace(" ", "")
    cleaned = cleaned.strip("$€£%").rstrip(".")
    if cleaned.startswith(("-$", "-€", "-£", "+$", "+€", "+£")):
        cleaned = cleaned[0] + cleaned[2:]
    cleaned = cleaned.lstrip("+")
    if not cleaned or len(cleaned) > 100:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def extract_answer(completion: str) -> str | None:
    """The text of the completion's final answer (see the module docstring), or None if it has no number."""
    if not isinstance(completion, str):
        return None
    for marker in _MARKERS:
        matches = marker.findall(completion)
        if matches:
            return matches[-1]
    numbers = _NUMBER_RE.findall(completion)
    return numbers[-1] if numbers else None


def is_correct(completion: str, gold: str) -> bool:
    """True when the completion's final answer equals `gold` (the final answer only, e.g. "18")."""
    answer = extract_answer(completion)
    if answer is None:
        return False
    got, want = normalize_number(answer), normalize_number(str(gold))
    return got is not None and want is not None and got == want
