"""Answer checks: is a completion's final answer one of the gold answers? One module for rewards,
evaluation and users, so a model is never trained against one scorer and judged by another.

    from rewards import answer_check
    check = answer_check.get("text")
    check("So the capital is... The answer is Paris.", ["Paris", "Paris, France"])   # True

A check is `(completion: str, gold: str | list[str]) -> bool`, true when any gold answer matches. Pick one
per dataset with `answer_check` (recipe field or flag); every row carries the name, so the training rewards
and the evaluator read the same check from the data (`score`).

| name | the completion's answer | compared |
|---|---|---|
| `numeric` | the number after `####`, in `\\boxed{}`, after "The answer is" / "Answer:" / "A:", else the last number (`rewards/numeric.py`) | as decimals (`1,000` = `1000.0`) |
| `text` | after the last "The answer is" / "Answer:" / "A:" or a hedge ("I think it's"), else the last bold span, else the last line | after SQuAD v1.1's normalisation |
| `contains` | the whole completion ("cover EM") | a gold answer appears in it as a whole-word sequence, both after SQuAD v1.1's normalisation |
| `choice` | the option letter it states: "(B)", "B)", "B.", "Answer: b", "The answer is B.", "I think it's C", "**C**", "\\boxed{C}" (`rewards/choice_extract.py`) | as letters; gold a letter or a 0-based index |
| `regex:<pattern>` | the first group of the last match of `<pattern>` (the whole match without a group) | as `text` |
| `module:function` | your callable `(completion, gold, **row) -> bool or float` | yours; a float is the reward, ≥ 0.5 counts as correct |

SQuAD v1.1's normalisation (its official `evaluate-v1.1.py`, reproduced rule for rule so scores agree):
lower case, ASCII punctuation removed, the articles a/an/the removed, whitespace collapsed.

>>> get("text")("I think it's **the Eiffel Tower**!", "Eiffel Tower")
True
>>> get("contains")("The Carolina Panthers represented the NFC.", ["Carolina Panthers", "Panthers"])
True
>>> get("choice")("Looking at the options, the answer is (c) because...", 2)
True
>>> get("numeric")("3 + 4 = 7, so the answer is 7.", ["7", "seven"])
True
>>> token_f1("the big red barn", "red barn")
0.8

A user check that raises scores 0 (`score` counts it in `USER_CHECK_ERRORS` and logs the first one), so a
bad completion cannot stop a run.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import re
import string
from collections import Counter
from collections.abc import Callable

from rewards.choice_extract import extract_choice, gold_letter
from rewards.numeric import is_correct as _numeric_correct

logger = logging.getLogger(__name__)

Check = Callable[..., bool]
BUILTIN = ("numeric", "text", "contains", "choice")
FORMS = ("regex:<pattern>", "module:function")
USER_CHECK_ERRORS: Counter = Counter()  # check name -> completions it raised on (scored 0)


class AnswerCheckError(ValueError):
    """An `answer_check` that names no check, or a user check that cannot be imported."""


# -- SQuAD v1.1 normalisation and token F1 ---------------------------------------------------------------
_PUNCTUATION = frozenset(string.punctuation)  # ASCII only, as the official script: "’" and "–" stay
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_text(text: str) -> str:
    """SQuAD v1.1's `normalize_answer`: lower, drop ASCII punctuation, drop a/an/the, collapse spaces.

    >>> normalize_text("The  Denver Broncos!")
    'denver broncos'
    """
    text = "".join(ch for ch in str(text).lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD v1.1's token F1 of two answers (after `normalize_text`); 0.0 when they share no token."""
    pred, want = normalize_text(prediction).split(), normalize_text(gold).split()
    same = sum((Counter(pred) & Counter(want)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(want)
    return 2 * precision * recall / (precision + recall)


# -- where the final answer is -------------------------------------------------------------------------------
_MARKER = re.compile(
    r"(?:\bthe\s+(?:final\s+|correct\s+|right\s+)?answer\s+(?:is|would\s+be|should\s+be)\b|"
    r"\b(?:final\s+)?answer\s*:|(?:^|\n)\s*A\s*:|"
    r"\bI\s+(?:think|believe|guess)\s+(?:it'?s|it\s+is|the\s+answer\s+is)\b|\bit'?s\s+probably\b|"
    r"\bmy\s+answer\s+is\b)",
    re.IGNORECASE,
)
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__", re.DOTALL)
# The end of the sentence the answer sits in: ". " after a word of 3+ letters that is not all capitals,
# before a capitalised word (so "St. Louis", "U.S. Army" and "5.2" stay whole).
_SENTENCE_END = re.compile(r"(?<=[a-z]{3})[.!?](?=\s+[A-Z][a-z])")


def extract_text_answer(completion: str) -> str:
    """The text of a completion's final answer (module docstring, `text` row): "" when it is empty."""
    if not isinstance(completion, str):
        return ""
    markers = list(_MARKER.finditer(completion))
    if markers:
        rest = completion[markers[-1].end():].lstrip(" \t:-\"'")
        line = rest.split("\n", 1)[0]
        if not line.strip():  # "Answer:\nParis": the answer on the next non-empty line
            line = next((ln for ln in rest.split("\n") if ln.strip()), "")
        bold = _BOLD.search(line)
        if bold:  # "The answer is **Paris** (France)": the bold span is the answer
            return bold.group(1) or bold.group(2)
        line = line.lstrip("*")
        end = _SENTENCE_END.search(line)
        return (line[: end.start()] if end else line).strip().strip("*")
    bolds = _BOLD.findall(completion)
    if bolds:
        return next(a or b for a, b in reversed(bolds) if a or b)
    lines = [ln for ln in completion.split("\n") if ln.strip()]
    return lines[-1].strip() if lines else ""


# -- the checks --------------------------------------------------------------------------------------------
def _golds(gold) -> list:
    if isinstance(gold, (list, tuple)):
        return list(gold)
    return [gold]


def numeric(completion: str, gold) -> bool:
    """The numeric check (`rewards/numeric.py`): any gold number equals the final answer's value."""
    return any(_numeric_correct(completion, str(g)) for g in _golds(gold))


def text(completion: str, gold) -> bool:
    """The text check: the final answer equals a gold answer after SQuAD v1.1's normalisation."""
    answer = normalize_text(extract_text_answer(completion))
    return any(answer == normalize_text(g) for g in _golds(gold))


def text_f1(completion: str, gold) -> float:
    """Token F1 of the final answer against the best-matching gold answer (SQuAD v1.1's F1)."""
    answer = extract_text_answer(completion)
    return max((token_f1(answer, str(g)) for g in _golds(gold)), default=0.0)


def contains(completion: str, gold) -> bool:
    """Cover EM: a gold answer, normalised, appears in the normalised completion as a whole-word sequence.

    The check for a model that answers in sentences ("The NFC champion was the Carolina Panthers."), as
    open-domain QA with LLMs scores it: strict EM (`text`) would call every such answer wrong, and EM-only
    RL would then be rewarded for the format rather than for the answer. Whole words only, so "Denver" is not
    found in "Denverite" and "50" not in "1950". An empty gold (after normalisation) matches nothing.

    How it is gamed: a reply that lists several candidates ("Denver, Carolina or Miami") covers whichever
    is right. Evaluation therefore reports strict EM (`text`) and token F1 beside it; a policy that games
    the check shows high `contains` with falling F1 and rising length — and a length penalty works against
    listing, which is why Terse uses this check with one.

    >>> contains("The NFC team at Super Bowl 50 was the Carolina Panthers.", "Carolina Panthers")
    True
    >>> contains("He moved to Denverite circles.", "Denver")
    False
    >>> contains("It was founded in 1950.", ["50", "1950"])
    True
    """
    words = f" {normalize_text(completion) if isinstance(completion, str) else ''} "
    for g in _golds(gold):
        want = normalize_text(g)
        if want and f" {want} " in words:
            return True
    return False


def contains_f1(completion: str, gold) -> float:
    """Token F1 of the whole completion against the best-matching gold (what `contains` rewards, priced by
    length: a long reply that covers the gold has low precision, so F1 falls as replies grow)."""
    whole = completion if isinstance(completion, str) else ""
    return max((token_f1(whole, str(g)) for g in _golds(gold)), default=0.0)


def choice(completion: str, gold) -> bool:
    """The choice check: the stated option letter is a gold letter (gold: letters or 0-based indices)."""
    letter = extract_choice(completion)
    return letter is not None and any(letter == gold_letter(g) for g in _golds(gold))


def regex_check(pattern: str) -> Check:
    """A check that reads the answer as the first group of the last match of `pattern`, compared as text."""
    try:
        compiled = re.compile(pattern)
    except re.error as err:
        raise AnswerCheckError(f"answer_check 'regex:{pattern}': not a valid regular expression ({err})") from None

    def check(completion: str, gold) -> bool:
        match = last_match(compiled, completion)
        if match is None:
            return False
        answer = match_answer(compiled, match) or ""
        return any(normalize_text(answer) == normalize_text(g) for g in _golds(gold))

    check.__name__ = f"regex:{pattern}"
    check.pattern = compiled
    return check


def last_match(compiled: re.Pattern, completion) -> re.Match | None:
    """The last match of `compiled` in a completion (None: no match, or not text)."""
    matches = list(compiled.finditer(completion)) if isinstance(completion, str) else []
    return matches[-1] if matches else None


def match_answer(compiled: re.Pattern, match: re.Match) -> str | None:
    """A `regex:` check's answer in a match: its first group, or the whole match when the pattern has none."""
    return match.group(1) if compiled.groups else match.group(0)


def user_check(spec: str) -> Callable:
    """The user's `module:function` (importable from the working directory or the installed packages)."""
    module_name, _, func_name = spec.partition(":")
    if not module_name or not func_name:
        raise AnswerCheckError(f"answer_check {spec!r}: a user check is written module:function")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - any import failure is the user's to fix
        raise AnswerCheckError(f"answer_check {spec!r}: cannot import module {module_name!r} "
                               f"({type(err).__name__}: {err})") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise AnswerCheckError(f"answer_check {spec!r}: module {module_name!r} has no function {func_name!r}")
    return func


@functools.lru_cache(maxsize=64)
def _resolve(name: str) -> tuple[Callable, bool]:
    """(the function, whether it is a user check that takes the row as keywords)."""
    if not isinstance(name, str) or not name:
        raise AnswerCheckError(f"answer_check must be a name, got {name!r}")
    if name in BUILTIN:
        return {"numeric": numeric, "text": text, "contains": contains, "choice": choice}[name], False
    if name.startswith("regex:"):
        return regex_check(name[len("regex:"):]), False
    if ":" in name and not name.startswith(":"):
        return user_check(name), True
    raise AnswerCheckError(f"unknown answer_check {name!r}; choose one of {', '.join(BUILTIN + FORMS)}")


def validate(name: str) -> str:
    """`name` if it names a check (a user check is imported here, so a typo fails before training)."""
    _resolve(name)
    return name


def get(name: str) -> Check:
    """The check called `name`: `(completion, gold) -> bool` (a user check also takes the row's columns).

    Raises `AnswerCheckError` naming the checks there are, or why a user check cannot be imported.
    """
    func, takes_row = _resolve(name)
    if not takes_row:
        return func

    def check(completion: str, gold, **row) -> bool:
        return score(name, completion, gold, row) >= 0.5

    check.__name__ = name
    return check


def score(name: str | None, completion: str, gold, row: dict | None = None) -> float:
    """The check's score in [0, 1] for one completion: 1.0 / 0.0, or a user check's float (clipped).
    `name` None is `numeric`. A user check that raises scores 0.0; its first error is logged."""
    func, takes_row = _resolve(name or "numeric")
    if not takes_row:
        return float(func(completion, gold))
    try:
        result = func(completion, gold, **_row_keywords(func, row or {}))
        value = float(result)
    except Exception as err:  # noqa: BLE001 - the user's check must not stop a run
        if not USER_CHECK_ERRORS[name]:
            logger.warning("answer_check %s raised %s: %s (scored 0; counted in USER_CHECK_ERRORS, logged once)",
                           name, type(err).__name__, err)
        USER_CHECK_ERRORS[name] += 1
        return 0.0
    return min(1.0, max(0.0, value)) if value == value else 0.0


def _row_keywords(func: Callable, row: dict) -> dict:
    """The row's columns the user's function accepts (all of them if it takes **kwargs)."""
    row = {k: v for k, v in row.items() if k not in ("completion", "gold")}
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return row
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return row
    return {k: v for k, v in row.items() if k in params}


def extract(name: str | None, completion: str) -> str | None:
    """The answer the check `name` reads from a completion (for reports); None for a user check."""
    name = name or "numeric"
    if name == "numeric":
        from rewards.numeric import extract_answer

        return extract_answer(completion)
    if name == "text":
        return extract_text_answer(completion)
    if name == "contains":
        return completion if isinstance(completion, str) else None
    if name == "choice":
        return extract_choice(completion)
    if name.startswith("regex:"):
        compiled = _resolve(name)[0].pattern
        match = last_match(compiled, completion or "")
        return match_answer(compiled, match) if match is not None else None
    return None


def is_correct(completion: str, gold, check: str | None = None, row: dict | None = None) -> bool:
    """True when `completion` answers `gold` under `check` (default `numeric`)."""
    return score(check, completion, gold, row) >= 0.5


def scores_for(completions: list[str], answer: list, kwargs: dict) -> list[float]:
    """Per completion, the check's score as the rewards need it: TRL hands every dataset column to a reward
    as a list (one entry per completion), `answer_check` among them when the data name their check."""
    n = len(completions)
    checks = kwargs.get("answer_check") or [None] * n
    columns = {k: v for k, v in kwargs.items() if isinstance(v, list) and len(v) == n
               and k not in ("completion_ids", "prompts", "answer_check", "trainer_state")}
    out = []
    for i, (completion, gold) in enumerate(zip(completions, answer, strict=True)):
        name = checks[i]
        row = {k: v[i] for k, v in columns.items()} if name and ":" in name and not name.startswith("regex:") else None
        out.append(score(name, completion, gold, row))
    return out
