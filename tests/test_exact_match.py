import pytest

from rewards.exact_match import (
    exact_match,
    extract_answer,
    is_correct,
    normalize_number,
)


@pytest.mark.parametrize(
    "completion, gold",
    [
        ("3 + 4 = 7 ; #### 7", "7"),
        ("so the total is 5 #### 1,000", "1000"),
        ("He pays \\boxed{18}.", "18"),
        ("The answer is $18.00.", "18"),
        ("Answer: -3", "-3"),
        ("A: 42", "42"),
        ("first 3 then 12", "12"),  # fallback: the last number
        ("#### 18.0", "18"),
        ("#### −5", "-5"),  # unicode minus
        ("The answer is 1,234,567", "1234567"),
        ("the final answer is 0.5", ".5"),
        ("#### +7", "7"),
        ("costs -$4 total", "-4"),
    ],
)
def test_correct_answers(completion, gold):
    assert is_correct(completion, gold)


@pytest.mark.parametrize(
    "completion, gold",
    [
        ("#### 7", "8"),
        ("", "0"),
        ("no number here", "1"),
        ("#### 12 and later 7", "7"),  # the marker wins over the last number
        ("#### 1.5", "15"),
        ("\x00\xff\ud7ff", "3"),
        ("Answer: 3", "-3"),
    ],
)
def test_wrong_answers(completion, gold):
    assert not is_correct(completion, gold)


def test_marker_precedence_and_last_occurrence():
    assert extract_answer("#### 3 ... #### 4") == "4"
    assert extract_answer("\\boxed{2} The answer is 9") == "2"


def test_normalize_number():
    assert normalize_number("1,000") == normalize_number("1000.00")
    assert normalize_number("$18.00") == 18
    assert normalize_number("abc") is None
    assert normalize_number("1" * 500) is None


def test_reward_never_raises_on_odd_strings():
    completions = ["", "x" * 100_000, "\u202e#### 5", "🙂#### 5", None, 17, ["weird"]]
    scores = exact_match(completions, answer=["5"] * len(completions))
    assert scores[3] == 1.0 and all(s in (0.0, 1.0) for s in scores)


def test_chat_completions_are_read():
    assert exact_match([[{"role": "assistant", "content": "#### 5"}]], answer=["5"]) == [1.0]
