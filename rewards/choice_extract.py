"""Where a completion states its multiple-choice answer: the option letter (`extract_choice`) and a gold
option as a letter (`gold_letter`). The `choice` check of `rewards/answer_check.py` compares the two.

Why a module of its own: the rules are many (each found in real completions: MMLU-Pro samples in
`launch/research/mmlu_pro_choice_sample.py`, tests in tests/test_answer_check.py) and none of them is needed to
read the other checks.

>>> extract_choice("Looking at the options, the answer is (c) because...")
'C'
>>> gold_letter(2)
'C'
"""

from __future__ import annotations

import re

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
