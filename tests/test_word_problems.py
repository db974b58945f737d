import re

import pytest

from rewards.exact_match import is_correct
from train import tasks
from train.tasks import word_problems


def solve(problem: str) -> int:
    """An independent reading of the problem text: the start count, then every event in order."""
    count = int(re.search(r"has (\d+)", problem).group(1))
    for verb, n in re.findall(r"(buys|finds|gets|is given|gives away|loses|gives|sells) (\d+)", problem):
        count += int(n) if verb in ("buys", "finds", "gets", "is given") else -int(n)
    return count


def test_answers_match_the_problem_text_and_stay_small():
    rows = word_problems.build_split("train", 0, size=500)
    for row in rows:
        assert int(row["answer"]) == solve(row["problem"])
        assert 1 <= int(row["answer"]) <= 18
        assert row["prompt"][-1]["content"].endswith("'Answer: N'.")
    assert {r["difficulty"] for r in rows} == {1, 2}


def test_splits_are_seeded_and_disjoint():
    val = word_problems.build_split("val", 0)
    assert val == word_problems.build_split("val", 0)
    assert val != word_problems.build_split("val", 1)
    train = {r["problem"] for r in word_problems.build_split("train", 0)}
    test = {r["problem"] for r in word_problems.build_split("test", 0)}
    assert not train & {r["problem"] for r in val} and not train & test


def test_the_shared_scorer_reads_the_answer_line():
    row = word_problems.build_split("val", 0)[0]
    assert is_correct(f"They have {row['answer']} now.\nAnswer: {row['answer']}", row["answer"])
    assert not is_correct(f"Answer: {int(row['answer']) + 1}", row["answer"])


def test_task_registry_and_clear_errors():
    task = tasks.get("word_problems")
    train, val = task.load(0, val_size=10)
    assert len(val) == 10 and len(train) == word_problems.SIZES["train"]
    with pytest.raises(ValueError, match="model_name_or_path"):
        task.sft_rows(train)
    with pytest.raises(ValueError, match="data_path"):
        task.load(0, data_path="/some/dir")
    with pytest.raises(ValueError, match="unknown split"):
        word_problems.build_split("dev", 0)
