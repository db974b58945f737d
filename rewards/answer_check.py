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
| `choice` | the option letter it states: "(B)", "B)", "B.", "Answer: b", "The answer is B.", "I think it's C", "**C**", "\\boxed{C}" (`extract_choice`) | as letters; gold a letter or a 0-based index |
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


_LETTER = r"([A-Ja-j])"
_BRACKETED = re.compile(r"[(\[]\s*([A-J])\s*[)\]]")  # "(B)" ("(d)" in prose is a label, not an answer)
_CHOICE_PATTERNS = [
    # after a marker: "The answer is (B)", "Answer: b", "I think it's C.", "Option D", "**C**"
    re.compile(r"(?:\b(?:final\s+|correct\s+|right\s+|best\s+)?(?:answer|option|choice)(?:\s+to\s+(?:this|the)\s+(?:question|article|passage|problem))?"
               r"(?:\s+(?:I|you)\s+(?:provided|gave|chose|picked|selected))?"
               r"\s+(?:is|would\s+be|should\s+be)(?:\s+(?:indeed|clearly|definitely|probably))?(?:\s+option)?\s*:?"
               r"|\b(?:final\s+)?answer\s*:|\b(?:choose|pick|select)\s+as\s+(?:your|my|the)\s+answer"
               r"|\bI\s+(?:think|believe|guess|would\s+say|would\s+go\s+with|choose|pick)"
               r"(?:\s+(?:it'?s|it\s+is|the\s+answer\s+is))?|\bmy\s+answer\s+is|\bit'?s\s+probably"
               # a verb of choosing, however the speaker is written: "I'd go with D", "I'll pick B", "going with C",
               # "my pick is D", "everything points to B", "I lean towards A", "this suggests C"
               r"|\b(?:I'?d|I\s+would|I'?ll|I\s+will|we'?d|we'?ll|let'?s|I'?m|I\s+am)\s+(?:go(?:ing)?\s+with|choose|choosing|pick|picking|select|opt\s+for|settle\s+on)"
               r"|\bgoing\s+with|\b(?:my|our)\s+(?:pick|choice|guess|vote|selection)\s+(?:is|would\s+be)"
               r"|\b(?:points?|pointing)\s+(?:to|towards)|\blean(?:s|ing)?\s+(?:towards?|to)|\b(?:suggests?|indicates?)(?:\s+that)?)"
               r"(?:[ \t]*\n?|[ \t]*(?:\n[ \t]*){1,3}(?:\$\$?|\\\[|\\\()[ \t]*(?:\\text(?:bf)?\{)?)"  # "Answer:\n\n$$\text{A}$$"
               r"[ \t]*(?:option|choice|letter)?[ \t]*[\"'*]*[ \t]*[(\[]?[ \t]*" + _LETTER + r"(?![A-Za-z])(?!\s?'[a-z])",
               re.IGNORECASE),
    # "The correct statement is G. …", "The most accurate statement about voters is: G. …"
    re.compile(r"\b(?:correct|right|best|true|accurate|appropriate)\s+(?:statement|response|one)\b[^.\n]{0,100}?\s(?:is|would\s+be)"
               r"\s*:?\s*\(?([A-J])(?:[.)]|$)", re.IGNORECASE),
    re.compile(r"(?:^|[\s(\"'])([A-J])[)\"']?\s+is\s+(?:the\s+)?(?:correct\s+|right\s+|best\s+)?answer\b"),  # "B is the answer"
    re.compile(r"(?:^|[\s(\"'])([A-J])[)\"']?\s+as\s+(?:the|my|your|their|our)\s+(?:final\s+|correct\s+)?answer\b"),
    # "the answer C. was blamed", "the correct answer B.", 'the answer "A" is true': a capital right after "answer"
    re.compile(r"\b(?:[Tt]he|[Mm]y|[Oo]ur)\s+(?:(?:final|correct|right|best)\s+)?answer\s+[\"'*(\[]*([A-J])(?![A-Za-z'\-])"),
    re.compile(r"\b(?:option|choice)\s+[(\[]?" + _LETTER + r"(?![A-Za-z])", re.IGNORECASE),
    _BRACKETED,
    re.compile(r"\*\*\s*" + _LETTER + r"\s*[).:]?\s*\*\*"),         # "**B**", "**B)**"
    "option lines",                                                  # a line that starts "B)" / "B." / "B:"
    re.compile(r"(?:^|\n)[ \t]*([A-J])[ \t]*(?=$|\n)"),              # a line that is only "B"
    # last resort, an option quoted in prose: "To answer the question, C. the largest city …"
    re.compile(r"(?<=\S)[ \t,:;]+([A-J])\.[ \t]+(?=[a-z])"),
]
_OPTION_LINE = re.compile(r"^\s*[*-]?\s*\(?([A-J])\s*[).:](?:\s|$)")  # capitals: "a)", "(b)" are parts of the question
# LaTeX math ($…$, $$…$$, \(…\), \[…\]): its capitals are variables ("$[A] = 0.10$", "$I = MR^2$"), not options.
# A `$…$` span that opens on a digit counts only with a TeX sign in it (\\ ^ _ { } =), so "$20 and (B) $30" stays
# prose; one left open by a cut-off generation runs to the end.
_MATH_SPAN = re.compile(r"\$\$.*?(?:\$\$|\Z)|\$(?:(?=[^$\n]*[\\^_{}=])|(?![\d\s]))[^$\n]*(?:\$|\Z)|\\\(.*?(?:\\\)|\Z)|\\\[.*?(?:\\\]|\Z)",
                        re.DOTALL)
_BOXED = re.compile(r"\\boxed\{\s*(?:\\text(?:bf)?\{)?\s*\(?([A-J])\)?\s*\}?\s*\}")  # "\boxed{B}", "\boxed{\text{(B)}}"
# After the stated letter, more letters and the end of the statement: "The answer is (A, B, C)." names no one option.
_SEVERAL = re.compile(r"\s*\)?(?:\s*(?:,|&|/)\s*|\s+(?:and|or)\s+)\(?[A-J]\)?(?:(?:\s*(?:,|&|/)\s*|\s+(?:and|or)\s+)\(?[A-J]\)?)*"
                      r"\s*\)?\s*(?:[.;]|$|\n)")
# A new few-shot turn after a blank line ("\n\nQuestion: …"): what follows answers another question (lm-eval's `until`).
_NEXT_TURN = re.compile(r"\n[ \t]*\n\s*(?:Question|Q)\s*:")
# A stated non-answer: "The answer is (None of the above)", "the answer is not listed", "I cannot give a definitive answer".
_NO_OPTION = re.compile(r"\banswer\s+(?:is|would\s+be)\s*:?\s*\(?\s*(?:none\b|not\s+(?:in|among|listed|given|"
                        r"available|provided|one\s+of|possible|determin)|unable\b|indeterminate\b|cannot\b)"
                        r"|\b(?:cannot|can't|can\s+not|unable\s+to)\s+(?:provide|give|determine|select|choose|pick)\s+"
                        r"(?:an?\s+|the\s+)?(?:definitive\s+|correct\s+|single\s+)?(?:answer|option|choice)", re.IGNORECASE)
_ANSWER_WORDS = {"answer", "choice", "option", "choose", "chose", "pick", "select", "correct"}


def _blank(text: str, spans) -> str:
    """`text` with each (start, end) span replaced by spaces: positions stay where they were."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _echo_runs(completion: str) -> list[list[tuple[int, int, str]]]:
    """Runs of consecutive option lines ("B) …", "(B) …", "B. …"; blank lines skipped), each line as
    (label start, label end, letter)."""
    runs, run, offset = [], [], 0
    for line in completion.split("\n"):
        if line.strip():
            match = _OPTION_LINE.match(line)
            if match:
                run.append((offset + match.start(1), offset + match.end(1), match.group(1)))
            else:
                runs.append(run)
                run = []
        offset += len(line) + 1
    runs.append(run)
    return runs


def _stated_option_line(completion: str) -> str | None:
    """The last line that starts with an option letter ("B) …", "B. …"), not counting echoed option lists:
    two or more such lines in a row are the options repeated, not an answer."""
    stated = [letter for r in _echo_runs(completion) if len(r) < 2 for _, _, letter in r]
    return stated[-1] if stated else None


def _abbreviation(text: str, start: int, letter: str) -> bool:
    """A bracketed capital right after a word it abbreviates: "joules (J)", "Celsius (C)", "current (A)"."""
    word = re.search(r"([A-Za-z]{3,})\s*$", text[:start])
    return bool(word) and word.group(1)[0].upper() == letter and word.group(1).lower() not in _ANSWER_WORDS


def extract_choice(completion: str) -> str | None:
    """The option letter (upper case) a completion states as its answer, or None.

    The text is read up to a new few-shot turn ("\n\nQuestion: …", which answers another question). Rules
    in order of precedence, the last match of the first rule that matches: a boxed letter ("\\boxed{B}"); a
    marker followed by a letter ("The answer is B", "Answer: b", "I think it's C", "I would go with (D)",
    "Answer:\n\n$$\\text{A}$$"), unless more letters follow it ("The answer is (A, B, C)": no one option);
    "The correct statement (about …) is: G."; "B is the answer"; "option B" / "choice B"; a bracketed letter
    "(B)" (not an abbreviation: "joules (J)"); a bold letter "**B**"; a line that starts with "B)", "(B)" or
    "B." (capitals only, so "a)" parts of a question do not count; two or more such lines in a row are the
    options echoed, not an answer); a line that is a single capital letter. A letter stated before a
    non-answer ("The answer is not among the options", "I cannot give a definitive answer") does not count.
    Letters inside LaTeX math ("$[A] = 0.1$") are variables and count for no rule after the marker. A
    lower-case letter after "I think it's" counts only when no word follows it, so "I think it's a trick
    question" names no option.

    >>> extract_choice("Let me think. (A) is wrong, so I think it's C.")
    'C'
    >>> extract_choice("I think it's a trick question.") is None
    True
    >>> extract_choice("Convert the energy to joules (J) first: $[A] = 0.1$.") is None
    True
    """
    if not isinstance(completion, str):
        return None
    turn = _NEXT_TURN.search(completion)
    if turn and completion[:turn.start()].strip():
        completion = completion[:turn.start()]
    boxed = _BOXED.findall(completion)
    if boxed:
        return boxed[-1]
    refusals = [m.start() for m in _NO_OPTION.finditer(completion)]
    math = [m.span() for m in _MATH_SPAN.finditer(completion)]
    echoed = [(a, b) for run in _echo_runs(completion) if len(run) >= 2 for a, b, _ in run]
    masked = _blank(completion, math + echoed)
    for index, pattern in enumerate(_CHOICE_PATTERNS):
        if pattern == "option lines":
            letter = _stated_option_line(_blank(completion, math))
            if letter is not None:
                return letter.upper()
            continue
        text = completion if index == 0 else masked  # the marker reads the text as written
        for match in reversed(list(pattern.finditer(text))):
            letter = match.group(1)
            after = text[match.end():]
            if letter.islower() and re.match(r"\s+[a-z]", after):  # "it's a good one": an article
                continue
            named = re.search(r"(?:option|choice)\s+[(\[]?$", text[match.start():match.start(1)], re.IGNORECASE)
            after_answer = re.search(r"answer\s+[\"'*(\[]*$", text[match.start():match.start(1)]) and letter != "I"
            if letter in "aAI" and not (named or after_answer) and re.match(r"\s+[a-z]", after):  # "the answer is A lot", "I think"
                continue
            if pattern is _BRACKETED and _abbreviation(text, match.start(), letter):
                continue
            if index == 0 and _SEVERAL.match(after):
                return None
            if refusals and refusals[-1] > match.start():  # "… (B). The answer is not among the options."
                return None
            return letter.upper()
    return None


def gold_letter(gold) -> str | None:
    """A gold option as a letter: "B", "(b)", "b." or a 0-based index (1 or "1" → "B")."""
    if isinstance(gold, bool):
        return None
    if isinstance(gold, int):
        return chr(ord("A") + gold) if 0 <= gold < 26 else None
    text = str(gold).strip().strip("().[]: ")
    if text.isdigit():
        return chr(ord("A") + int(text)) if int(text) < 26 else None
    return text.upper() if len(text) == 1 and text.isalpha() else None


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
