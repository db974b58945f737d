import json
from pathlib import Path

import pytest

from rewards.exact_match import is_correct
from train.tasks import gsm8k

FIXTURE = Path(__file__).parent / "fixtures" / "gsm8k"


def test_fixture_loads_as_chat_prompts_with_gold_answers():
    train, val = gsm8k.load(seed=0, val_size=2, data_path=str(FIXTURE))
    assert len(train) == 10 and len(val) == 2
    row = val[0]
    assert row["prompt"][0]["role"] == "system" and row["prompt"][1]["role"] == "user"
    assert row["answer"] == gsm8k.gold_answer(row["solution"])


def test_gold_solutions_score_as_correct():
    rows = gsm8k.load_test(str(FIXTURE))
    assert rows and all(is_correct(r["solution"], r["answer"]) for r in rows)
    assert rows[0]["answer"] == "18"


@pytest.mark.parametrize(
    "solution, gold",
    [("so 2+3=5\n#### 1,000", "1000"), ("#### -4", "-4"), ("#### 2.50", "2.5"), ("#### $18.00", "18")],
)
def test_gold_answer_normalised(solution, gold):
    assert gsm8k.gold_answer(solution) == gold


@pytest.mark.parametrize(
    "completion",
    ["She makes $18.00 every day.\nThe answer is 18", "A: 18", "Answer: $18", "#### 18.0", "\\boxed{18}"],
)
def test_real_model_answer_formats(completion):
    assert is_correct(completion, "18")


def test_bad_rows_are_named(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps({"question": "q", "answer": "no final line"}) + "\n")
    with pytest.raises(gsm8k.GoldAnswerError, match="row 0"):
        gsm8k.load(0, 1, str(tmp_path))
    (tmp_path / "train.jsonl").write_text(json.dumps({"q": "x", "answer": "#### 1"}) + "\n")
    with pytest.raises(ValueError, match="row 0: missing column 'question'"):
        gsm8k.load(0, 1, str(tmp_path))
    (tmp_path / "train.jsonl").write_text("")
    with pytest.raises(ValueError, match="empty"):
        gsm8k.load(0, 1, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="test.jsonl"):
        gsm8k.load_test(str(tmp_path))
