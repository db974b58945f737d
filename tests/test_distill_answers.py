"""The warm start's candidate answers beyond the model's samples: passage quotes that hold the gold, and the
shortest right answer cut to fit the budgets under it."""

import doctest

import pytest

from train import distill_answers
from train.conditioning import tag_answers
from train.distill_answers import cut_to_fit, passage_answers, passage_quotes


class Chars:
    """A tokenizer with one token per character: lengths are easy to read."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}

    def decode(self, ids):
        return "".join(map(chr, ids))


PASSAGE = "Rome is old. The Broncos won in Denver in 2016. It rained. Fans cheered."


def test_doctests():
    assert doctest.testmod(distill_answers).failed == 0


def test_quotes_hold_the_gold_and_grow():
    quotes = passage_quotes(PASSAGE, "2016")
    assert all("2016" in q for q in quotes) and len(quotes[0]) < len(quotes[1])
    assert passage_quotes(PASSAGE, "Fans", around=2) == ["Fans cheered.", "The Broncos won in Denver in 2016. It rained. Fans cheered."]
    # an abbreviation splits a sentence (a plain rule, no NLP model): the quote is shorter, and still holds the gold
    assert passage_quotes("Mr. Smith went to Washington. He stayed.", "Smith") == [
        "Smith went to Washington.", "Mr. Smith went to Washington. He stayed."]


def test_passage_answers_are_right_under_the_rows_check_and_counted_with_the_end():
    rows = [{"prompt": "Where?", "answer": ["Denver", "Denver, CO"], "answer_check": "contains", "context": PASSAGE},
            {"prompt": [{"role": "user", "content": "When?"}], "answer": "1999", "answer_check": "contains",
             "context": PASSAGE},  # no sentence holds it: nothing
            {"prompt": "Who?", "answer": "Fans", "answer_check": "text", "context": PASSAGE}]  # `text` rejects a quote
    out = passage_answers(Chars(), rows, "context")
    assert [a["completion"] for a in out] == [" The Broncos won in Denver in 2016.",
                                              " Rome is old. The Broncos won in Denver in 2016. It rained."]
    assert all(a["correct"] and a["tokens"] == len(a["completion"]) + 1 for a in out)
    with pytest.raises(ValueError, match="distill_passage_column 'passage'"):
        passage_answers(Chars(), rows, "passage")


def test_passage_answers_give_one_prompt_right_answers_for_every_budget():
    """With the gold and two quotes, every grid budget from the gold's length up gets its own answer."""
    row = {"prompt": "Where?", "answer": "Denver", "answer_check": "contains", "context": PASSAGE}
    gold = {"prompt": "Where?", "completion": " Denver", "tokens": 8, "correct": True}
    tagged = tag_answers([gold, *passage_answers(Chars(), [row], "context")], [8, 16, 40, 64], every_budget=True)
    assert [(t["budget"], t["tokens"]) for t in tagged] == [(8, 8), (16, 8), (40, 36), (64, 60)]


def test_cut_to_fit_fills_only_the_budgets_under_the_shortest_right_answer():
    samples = [{"prompt": "q", "completion": " Denver Broncos", "tokens": 16, "correct": True},
               {"prompt": "q", "completion": " Denver", "tokens": 8, "correct": True},
               {"prompt": "r", "completion": " no", "tokens": 4, "correct": False},  # no right answer: nothing
               {"prompt": "s", "completion": " way too long", "tokens": 99, "correct": True}]  # over the grid
    cut = cut_to_fit(Chars(), samples, [1, 2, 4, 8, 32])
    # budget 2 would be " " alone (nothing said): none; 4 is " De" + the end; 8 and up: the answer itself fits
    assert [(c["prompt"], c["completion"], c["budget"]) for c in cut] == [("q", " De", 4)]
    assert all(not c["correct"] and c["tokens"] <= c["budget"] for c in cut)
