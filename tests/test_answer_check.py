"""The answer checks (rewards/answer_check.py): every rule of every check, and the rewards that use them."""

import json
import sys

import pytest

from rewards import answer_check as ac
from rewards.budget_penalty import budget_penalty
from rewards.exact_match import exact_match


# -- SQuAD v1.1 normalisation, rule for rule ---------------------------------------------------------------
@pytest.mark.parametrize("raw, normalised", [
    ("The Denver Broncos", "denver broncos"),       # lower case, article
    ("Denver Broncos!", "denver broncos"),          # punctuation
    ("an apple a day", "apple day"),                # a / an
    ("  New   York ", "new york"),                  # whitespace
    ("theatre", "theatre"),                         # "the" only as a word
    ("U.S.-based", "usbased"),                      # punctuation removed, not replaced by a space
    ("the-end", "theend"),                          # punctuation goes first: "theend" has no article
    ("Café’s", "café’s"),                           # non-ASCII punctuation stays, as in the official script
    ("A", ""),
])
def test_normalize_text_is_squads(raw, normalised):
    assert ac.normalize_text(raw) == normalised


def test_token_f1_values():
    assert ac.token_f1("the big red barn", "red barn") == pytest.approx(0.8)
    assert ac.token_f1("red red", "red") == pytest.approx(2 * 0.5 * 1 / 1.5)  # counts, not sets
    assert ac.token_f1("blue", "red") == 0.0
    assert ac.token_f1("", "red") == 0.0


# -- text: where the answer is ------------------------------------------------------------------------------
@pytest.mark.parametrize("completion, answer", [
    ("Paris", "Paris"),                                              # the last line
    ("Let me think.\nFrance's capital.\nParis", "Paris"),
    ("The answer is Paris.", "Paris."),                              # marker
    ("the final answer is Paris", "Paris"),
    ("Answer: Paris", "Paris"),
    ("Reasoning...\nA: Paris", "Paris"),
    ("I think it's Paris.", "Paris."),                               # hedge
    ("I believe it is Paris", "Paris"),
    ("It's probably Paris", "Paris"),
    ("It is **Paris**, of course.", "Paris"),                        # bold span
    ("**Lyon**? No: **Paris**", "Paris"),                            # the last bold span
    ("The answer is **Paris** (France).", "Paris"),                  # bold inside the answer
    ("The answer is Paris. It has 2 million people.", "Paris"),      # the answer's sentence only
    ("The answer is St. Louis.", "St. Louis."),                      # an abbreviation is no sentence end
    ("The answer is U.S. Army", "U.S. Army"),
    ("Answer:\nParis", "Paris"),                                     # the answer on the next line
    ("The answer is A. Then B.", "A. Then B."),                      # two letters: no sentence end
    ("", ""),
])
def test_extract_text_answer(completion, answer):
    assert ac.extract_text_answer(completion) == answer


def test_marker_wins_over_bold_and_last_marker_wins():
    assert ac.extract_text_answer("**Lyon**\nThe answer is Paris") == "Paris"
    assert ac.extract_text_answer("Answer: Lyon\nAnswer: Paris") == "Paris"


def test_text_check_verdicts():
    check = ac.get("text")
    assert check("The answer is the Eiffel Tower!", "Eiffel Tower")
    assert check("the answer is: EIFFEL TOWER", ["Louvre", "Eiffel Tower"])  # any gold
    assert not check("The answer is Eiffel", "Eiffel Tower")
    assert not check("The answer is Paris, France.", "Paris")  # extra words are not the answer
    assert not check("", "Paris")
    assert not check(None, "Paris")
    assert ac.text_f1("The answer is Eiffel", "Eiffel Tower") == pytest.approx(2 / 3)


# -- choice --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("completion, letter", [
    ("(B)", "B"),
    ("B) Paris", "B"),
    ("B. Paris", "B"),
    ("Answer: b", "B"),
    ("The answer is B.", "B"),
    ("I think it's C", "C"),
    ("I would go with (D) here.", "D"),
    ("The correct option is d.", "D"),
    ("Option C is right.", "C"),
    ("**C**", "C"),
    ("Looking at it\nC", "C"),
    ("(A) is wrong and (B) is wrong, so (C)", "C"),                 # the last bracketed letter
    ("The answer is (c) because it is the largest.", "C"),
    ("Answer: (A)", "A"),
    ("The answer is A.", "A"),
    ("A correct answer is: C.", "C"),
    ("The answer to this question is D. It is", "D"),
    ("So B is the correct answer.", "B"),
    ('Step 1: Choose as your answer "D"', "D"),
    ("The correct answer is A.\n\nThe options:\n\n* B. red\n* C. blue", "A"),   # a marker does not jump lines
    ("A. red\nB. blue\nC. green\nD. grey", None),                               # the options echoed
    ("B. blue\n\nI checked:\nA) red\nC) green\nD) grey", "B"),                   # an answer before an echo
    ("A. red\nThat is a fallacy.\nD. grey", "D"),
    ("I think it's a trick question.", None),                        # an article, not an option
    ("The answer is A lot of people think so.", None),
    ("I have no idea.", None),
    ("", None),
])
def test_extract_choice(completion, letter):
    assert ac.extract_choice(completion) == letter


@pytest.mark.parametrize("gold, letter", [("B", "B"), ("b", "B"), ("(B)", "B"), ("1", "B"), (1, "B"), (0, "A"),
                                          ("C.", "C"), (True, None), ("BC", None), (-1, None)])
def test_gold_letter(gold, letter):
    assert ac.gold_letter(gold) == letter


def test_choice_check_verdicts():
    check = ac.get("choice")
    assert check("The answer is (C).", "C") and check("The answer is (C).", 2) and check("Answer: c", "2")
    assert not check("The answer is (C).", "B") and not check("no idea", "A")
    assert check("B", ["A", "B"])


# -- numeric, regex, user checks -----------------------------------------------------------------------------
def test_numeric_any_gold_and_markers():
    check = ac.get("numeric")
    assert check("#### 1,000", ["7", "1000"])
    assert not check("The answer is 12, or 13 if we count twice", "13")  # the marker's number, not the last one
    assert check("The answer is 12, or 13 if we count twice", "12")


def test_regex_check_first_group_of_last_match():
    check = ac.get(r"regex:<answer>(.*?)</answer>")
    assert check("<answer>Lyon</answer> no, <answer>The Paris</answer>", "paris")
    assert not check("<answer>Paris</answer> no, <answer>Lyon</answer>", "paris")
    assert not check("no tags", "paris")
    assert ac.get(r"regex:\d+")("room 12 then 34", "34")  # no group: the whole match


def test_regex_check_bad_pattern():
    with pytest.raises(ac.AnswerCheckError, match="not a valid regular expression"):
        ac.get("regex:(unclosed")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "mychecks.py").write_text(
        "def startswith(completion, gold, **row):\n"
        "    return completion.strip().lower().startswith(str(gold).lower())\n"
        "def partial(completion, gold):\n"
        "    return 0.25 if gold in completion else 0.0\n"
        "def uses_row(completion, gold, region=None):\n"
        "    return region == 'Europe' and gold in completion\n"
        "def boom(completion, gold, **row):\n"
        "    raise RuntimeError('bad completion')\n"
        "not_callable = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("mychecks", None)


def test_user_check(user_module):
    assert ac.get("mychecks:startswith")("Paris is it", "paris")
    assert ac.score("mychecks:partial", "in Paris", "Paris") == 0.25
    assert not ac.get("mychecks:partial")("in Paris", "Paris")  # a float under 0.5 is not correct
    assert ac.score("mychecks:uses_row", "Paris", "Paris", {"region": "Europe", "other": 1}) == 1.0
    assert ac.score("mychecks:uses_row", "Paris", "Paris", {"region": "Asia"}) == 0.0


def test_user_check_that_raises_scores_zero_and_is_counted(user_module, caplog):
    ac.USER_CHECK_ERRORS.clear()
    assert ac.score("mychecks:boom", "x", "y") == 0.0
    assert ac.score("mychecks:boom", "x", "y") == 0.0
    assert ac.USER_CHECK_ERRORS["mychecks:boom"] == 2
    assert sum("bad completion" in r.message for r in caplog.records) == 1  # logged once


@pytest.mark.parametrize("name, message", [
    ("txt", "unknown answer_check 'txt'; choose one of numeric, text, contains, choice"),
    ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
    ("mychecks:missing", "has no function 'missing'"),
    ("mychecks:not_callable", "has no function 'not_callable'"),
    ("", "answer_check must be a name"),
])
def test_bad_check_names(user_module, name, message):
    with pytest.raises(ac.AnswerCheckError, match=message):
        ac.get(name)


# -- the rewards read the row's check ------------------------------------------------------------------------
def test_rewards_use_the_rows_check():
    completions = ["The answer is Paris.", "The answer is Lyon.", "#### 7"]
    answers = ["paris", ["Paris", "Lyon"], "7"]
    checks = ["text", "text", "numeric"]
    assert exact_match(completions, answer=answers, answer_check=checks) == [1.0, 1.0, 1.0]
    assert exact_match(completions, answer=answers) == [0.0, 0.0, 1.0]  # no column: numeric


def test_budget_penalty_exempts_wrong_text_answers():
    completions = ["The answer is Paris.", "The answer is Lyon."]
    ids = [[0] * 20, [0] * 20]
    got = budget_penalty(completions, ids, answer=["Paris", "Paris"], budget_tokens=10,
                         answer_check=["text", "text"])
    assert got == [1.0, 0.0]


def test_user_check_gets_the_row_columns_through_the_reward(user_module):
    got = exact_match(["Paris", "Paris"], answer=["Paris", "Paris"], answer_check=["mychecks:uses_row"] * 2,
                      region=["Europe", "Asia"])
    assert got == [1.0, 0.0]


def test_extract_for_reports():
    assert ac.extract("numeric", "so #### 12") == "12"
    assert ac.extract("choice", "I think it's B") == "B"
    assert ac.extract("regex:=(\\w+)", "x=a y=b") == "b"
    assert ac.extract("text", "A: Paris") == "Paris"
    assert json.dumps(ac.extract("mychecks:f", "x")) == "null"


# -- edges the mutation run found untested -----------------------------------------------------------------
@pytest.mark.parametrize("completion, answer", [
    ("The answer is:   Paris", "Paris"),
    ("The answer is Paris\nmore lines\nLondon", "Paris"),
    ("Answer:\n\n\nNew York", "New York"),
    ("Answer:", ""),
    ("The answer is __Paris__ here", "Paris"),
    ("The answer is *Paris*", "Paris"),
    ("no marker\nNew York", "New York"),
    ("The answer is Xavier", "Xavier"),
    ("Answer:\nParis\nLondon", "Paris"),
    ("The answer is ** Paris", "Paris"),
])
def test_extract_text_answer_edges(completion, answer):
    assert ac.extract_text_answer(completion) == answer


@pytest.mark.parametrize("completion, letter", [
    ("Answer: b Paris", "B"),                                         # a lower-case letter before a capital word
    ("Answer: c. Then I think it's a good one", "C"),                 # a rejected last match: the earlier one
    ("The answer is B. I think it's A bit hard", "B"),
    ("Answer: c might be it", None),                                 # a lower-case letter before a word
    ("Intro\n\nC. green", "C"),                                      # blank lines do not end the search
])
def test_extract_choice_edges(completion, letter):
    assert ac.extract_choice(completion) == letter


@pytest.mark.parametrize("gold, letter", [(26, None), ("26", None), ("30", None), ("X", "X"), (25, "Z")])
def test_gold_letter_edges(gold, letter):
    assert ac.gold_letter(gold) == letter


def test_regex_and_f1_edges():
    assert ac.text_f1("x", []) == 0.0
    check = ac.get(r"regex:<a>(.*?)</a>")
    assert check("<a>x</a><a>y</a><a>z</a>", "z") and not check("<a>x</a><a>y</a><a>z</a>", "y")
    assert check("<a></a>", "") and not check(None, "x")
    assert ac.extract(None, "#### 5") == "5" and ac.extract(r"regex:\d+", "1 22 333") == "333"
    assert ac.extract(r"regex:X+", None) is None and ac.extract(r"regex:(\d)", "no") is None
    assert ac.extract(r"regex:(\d)", "1 2 3") == "3" and ac.extract_text_answer(None) == ""


def test_user_check_spec_errors(user_module):
    with pytest.raises(ac.AnswerCheckError, match="has no function 'startswith:x'"):
        ac.get("mychecks:startswith:x")
    with pytest.raises(ac.AnswerCheckError, match="a user check is written module:function"):
        ac.get("mychecks:")
    with pytest.raises(ac.AnswerCheckError, match="ModuleNotFoundError"):
        ac.get("no_such_module_xyz:f")


def test_user_check_rows_floats_and_logs(user_module, tmp_path, caplog):
    (tmp_path / "mychecks2.py").write_text(
        "def half(c, g):\n    return 0.5\n"
        "def big(c, g):\n    return 1.5\n"
        "def nan(c, g):\n    return float('nan')\n"
        "def strict_row(completion, gold, **row):\n"
        "    assert not {'completion_ids', 'prompts', 'trainer_state', 'answer_check', 'gold'} & set(row), row\n"
        "    return row.get('region') == 'Europe'\n")
    assert ac.get("mychecks:uses_row")("Paris", "Paris", region="Europe")
    assert ac.is_correct("Paris", "Paris", "mychecks:uses_row", {"region": "Europe"})
    assert ac.get("mychecks2:half")("x", "y") and ac.is_correct("x", "y", "mychecks2:half")
    assert ac.score("mychecks2:big", "x", "y") == 1.0 and ac.score("mychecks2:nan", "x", "y") == 0.0
    assert ac.score("mychecks2:strict_row", "x", "y", {"region": "Europe", "gold": "z", "completion": "c"}) == 1.0
    got = exact_match(["x", "x"], answer=["y", "y"], answer_check=["mychecks2:strict_row"] * 2, region=["Europe", "Asia"],
                      completion_ids=[[1], [2]], prompts=["p", "p"], trainer_state=object(), short=[1])
    assert got == [1.0, 0.0]
    ac.USER_CHECK_ERRORS.clear()
    ac.score("mychecks:boom", "x", "y")
    assert caplog.records[-1].getMessage() == ("answer_check mychecks:boom raised RuntimeError: bad completion "
                                               "(scored 0; counted in USER_CHECK_ERRORS, logged once)")
    with pytest.raises(ValueError):
        exact_match(["x", "x"], answer=["y"], answer_check=["text", "text"])


# -- rules written from the disagreements of the first MMLU-Pro set (docs/answer-checks.md) -------------------
@pytest.mark.parametrize("completion, letter", [
    ("The answer is A. Checking again: $\\boxed{B}$", "B"),             # a boxed letter is the final answer
    ("so the result is \\boxed{\\text{(C)}}", "C"),
    ("The answer is (A, B, C).", None),                                # several letters: no one option
    ("The answer is A and C.", None),
    ("The answer is C and D is wrong.", "C"),                          # a second letter in a new clause
    ("The answer is (D) because (A) and (B) fail.", "D"),
    ("We know that $[A] = 0.10$ M and $[B] = 0.10$ M.", None),         # letters in math are variables
    ("so $I = (2/5)MR^2$ and the rest follows", None),
    ("Solve $[B] = [A] / [AB] = 1.0 \\cdot 10", None),                 # math left open by a cut-off text
    ("It costs $20 and so (B) is cheaper than $30", "B"),             # currency is not math
    ("(A) means x holds\n(B) means y holds\n(C) means z", None),       # parenthesised options echoed
    ("Checking each:\n(B) is the only one left", "B"),                 # one such line is an answer
    ("(a) The velocity is 3 m/s.\n(b) The flux is 2.", None),          # (a), (b): parts of the question
    ("First convert the energy to joules (J).", None),                 # a bracketed abbreviation
    ("The current is 3 amperes (A), hence (C).", "C"),
    ("So the correct answer (A) holds.", "A"),
])
def test_extract_choice_mmlu_pro_rules(completion, letter):
    assert ac.extract_choice(completion) == letter


# -- rules written from the disagreements of the second MMLU-Pro set ---------------------------------------
@pytest.mark.parametrize("completion, letter", [
    ("The answer is (E).\n\nQuestion:\nWhich one?\nOptions:\nA. x\nB. y\nAnswer: The answer is (D).", "E"),  # next turn
    ("Question: restated first\nThe answer is (B).", "B"),                  # a turn at the start is not cut
    ("The correct statement is G. Correlations of +0.87 and -0.87 agree.", "G"),
    ("The most accurate statement about voting populations is: G. An individual …", "G"),
    ("The correct statement is that prices rise.", None),                   # no letter after the statement
    ("the closest values give the answer is:\n\n$$\\text{A}$$", "A"),      # display math after blank lines
    ("The correct answer is A.\n\nThere are 3 options:\n\n* B. a car\n* C. a radio", "A"),  # not a bulleted line
    ("The answer is (None of the above).", None),                           # a stated non-answer
    ("So (B) fits. On reflection the answer is not among the options.", None),
    ("The answer is not listed, but it is closest to (A).", "A"),           # a letter after the non-answer
    ("Both (A) and (D) give $5,000, so we cannot give a definitive answer.", None),
    ("a) The heat is 3 kJ.\nb) The work is 2 kJ.", None),                  # lower-case parts, not options
])
def test_extract_choice_mmlu_pro2_rules(completion, letter):
    assert ac.extract_choice(completion) == letter


@pytest.mark.parametrize("completion, letter", [
    ("so **C**\n  A) x holds\n  B) y holds", "C"),            # an indented echo is blanked at its letters only
    ("(A) means x holds\n(B) means y holds", None),            # two such lines are already an echo
    ("The energy in Joules (J) is small.", None),              # a capitalised word abbreviated
    ("We choose (C).", "C"),                                   # a verb of choosing is no abbreviation
    ("so (B) holds; the energy is in joules (J).", "B"),      # past an abbreviation, the earlier bracket
    ("Option A because it fits.", "A"),                        # "Option A" names the option before a word
    ("The answer I would pick is (C).", "C"),                  # "answer I": the pronoun, not option I
])
def test_extract_choice_rule_edges(completion, letter):
    """Edges the mutation run found untested in the rules above."""
    assert ac.extract_choice(completion) == letter


@pytest.mark.parametrize("name, letter_floor, verdict_floor", [("choice_labels.jsonl", 0.985, 0.995),
                                                               ("choice_labels_heldout.jsonl", 0.97, 0.99),
                                                               ("choice_labels_heldout2.jsonl", 0.98, 0.99),
                                                               ("choice_labels_heldout3.jsonl", 0.955, 0.98),
                                                               ("choice_labels_mmlu_pro.jsonl", 0.995, 1.0),
                                                               ("choice_labels_mmlu_pro2.jsonl", 0.98, 0.99),
                                                               ("choice_labels_mmlu_pro3.jsonl", 0.995, 1.0)])
def test_choice_agreement_with_hand_labels_does_not_fall(name, letter_floor, verdict_floor):
    """Real SmolLM2 completions to RACE questions and published models' MMLU-Pro completions, labelled by hand
    (docs/answer-checks.md): the measured
    agreement is a floor, so a change to the rules can raise it but not lower it."""
    from pathlib import Path

    rows = [json.loads(line) for line in (Path(__file__).parent / "fixtures" / name).read_text().splitlines()]
    letters = sum(ac.extract_choice(r["completion"]) == r["label"] for r in rows) / len(rows)
    verdicts = sum(ac.get("choice")(r["completion"], r["gold"]) == (r["label"] == r["gold"]) for r in rows) / len(rows)
    assert letters >= letter_floor and verdicts >= verdict_floor


# -- contains ("cover EM"): the gold inside a sentence answer --------------------------------------------------
@pytest.mark.parametrize("completion, gold, verdict", [
    ("The NFC team at Super Bowl 50 was the Carolina Panthers.", "Carolina Panthers", True),
    ("the CAROLINA panthers!", "The Carolina Panthers", True),           # case, punctuation, articles
    ("He lived among Denverites.", "Denver", False),                     # whole words only
    ("It was founded in 1950.", "50", False),
    ("It was founded in 1950.", ["50", "1950"], True),                   # a list of golds: any
    ("Carolina and the Panthers", "Carolina Panthers", False),           # a sequence, not a bag of words
    ("Panthers", "Carolina Panthers", False),                            # the whole gold, not part of it
    ("anything at all", "the", False),                                   # a gold empty after normalisation
    ("", "Denver", False),
    (None, "Denver", False),
    ("Saint Bernadette Soubirous, in 1858.", ["Saint Bernadette Soubirous"], True),
    ("The answer is 3.5 million", "3.5 million", True),                  # "3.5" → "35" on both sides
])
def test_contains_check(completion, gold, verdict):
    assert ac.contains(completion, gold) is verdict
    assert ac.is_correct(completion, gold, "contains") is verdict


def test_contains_is_gamed_by_lists_and_f1_shows_it():
    listed = "Denver Broncos, Carolina Panthers, New England Patriots or Seattle Seahawks"
    assert ac.contains(listed, "Carolina Panthers") and not ac.text(listed, "Carolina Panthers")
    assert ac.contains_f1(listed, "Carolina Panthers") < 0.4 < ac.contains_f1("Carolina Panthers.", "Carolina Panthers")


def test_contains_agrees_with_a_direct_reading_of_the_definition():
    """A second, independent implementation: token lists and a sliding window instead of padded strings."""
    def direct(completion, golds):
        words = ac.normalize_text(completion).split()
        for g in golds:
            want = ac.normalize_text(g).split()
            if want and any(words[i:i + len(want)] == want for i in range(len(words) - len(want) + 1)):
                return True
        return False

    cases = [("The Broncos beat the Panthers 24-10.", ["24–10", "24-10"]), ("in 1858 at Lourdes", ["1858"]),
             ("Levi's Stadium in Santa Clara", ["Santa Clara, California", "Santa Clara"]), ("x y", ["y x"])]
    for completion, golds in cases:
        assert ac.contains(completion, golds) == direct(completion, golds)


# -- verbs of choosing: natural phrasings of a choice, and an article or an option's text not deciding ---------
@pytest.mark.parametrize("completion, letter", [
    ("A careful reading of the options points to B.", "B"),
    ("I'd go with D, Christianity and Buddhism.", "D"),
    ("I'll pick C, the largest one.", "C"),
    ("Going with B.", "B"),
    ("My pick is D.", "D"),
    ("I lean towards A, since the others are wrong.", "A"),
    ("A quick look at the passage suggests C.", "C"),
    ("This points to a new idea.", None),                  # an article after the verb
    ("I'd go with a different approach.", None),
    ("It suggests that A is wrong.", None),
    ("The evidence suggests A lot of things.", None),
])
def test_extract_choice_verbs_of_choosing(completion, letter):
    assert ac.extract_choice(completion) == letter


def test_module_doctests():
    """The examples in the checks' and the choice extractor's docstrings hold."""
    import doctest

    from rewards import choice_extract

    assert doctest.testmod(ac).failed == 0 and doctest.testmod(choice_extract).failed == 0


def test_contains_and_its_f1_read_a_missing_completion_as_empty():
    assert ac.contains(None, "Paris") is False
    assert ac.contains_f1(None, "xxxx") == 0.0 and ac.contains_f1(None, "Paris") == 0.0
    assert ac.contains_f1("Paris", []) == 0.0  # no gold: nothing matched


def test_the_contains_check_reads_the_whole_reply():
    assert ac.extract("contains", "It is Paris.") == "It is Paris." and ac.extract("contains", None) is None
