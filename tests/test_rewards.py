import pytest

from rewards import REGISTRY, build_rewards
from rewards.token_penalty import token_penalty


def test_registry_builds_named_rewards_with_params():
    rewards = build_rewards({"exact_match": {}, "token_penalty": {"weight": "dual", "cap": 2.0}})
    assert [r.name for r in rewards] == ["exact_match", "token_penalty"]
    assert [r.func.__name__ for r in rewards] == ["exact_match", "token_penalty"]  # TRL logs by __name__
    assert rewards[1].dual and not rewards[0].dual
    assert rewards[1].params == {"cap": 2.0}  # T is not bound: it comes as each row's token_budget
    out = rewards[1].func(["#### 3"] * 2, completion_ids=[[1] * 5, [1] * 50], answer=["3", "3"], token_budget=[10, 10])
    assert out == [0.5, 2.0]


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"exact_matsh": {}}, "unknown reward 'exact_matsh'"),
        ({"token_penalty": {"cpa": 1}}, r"unknown parameter\(s\) \['cpa'\]"),
        ({"exact_match": {"weight": "big"}}, "weight must be a number"),
        ({}, "non-empty"),
        ({"exact_match": {"weight": "dual"}, "token_penalty": {"weight": "dual"}}, "at most one"),
        ({"token_penalty": {"budget_tokens": 30}}, r"run's token target; set it with --budget_tokens"),
        ({"budget_penalty": {"token_budget": [3]}}, r"run's token target"),
    ],
)
def test_registry_rejects_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        build_rewards(spec)


def test_token_penalty_only_on_correct_answers_by_default():
    ids = [[0] * 20, [0] * 20]
    assert token_penalty(["#### 4", "#### 5"], ids, ["4", "4"], budget_tokens=10) == [2.0, 0.0]
    assert token_penalty(["#### 4", "#### 5"], ids, ["4", "4"], budget_tokens=10, correct_only=False) == [2.0, 2.0]


def test_token_penalty_is_linear_then_capped():
    ids = [[0] * n for n in (5, 10, 20, 100)]
    assert token_penalty(["#### 1"] * 4, ids, ["1"] * 4, budget_tokens=10, cap=4.0) == [0.5, 1.0, 2.0, 4.0]


def test_token_penalty_needs_a_positive_budget():
    with pytest.raises(ValueError, match="budget_tokens"):
        token_penalty(["#### 1"], [[0]], ["1"], budget_tokens=0)
    with pytest.raises(ValueError, match="budget_tokens > 0, got None"):
        token_penalty(["#### 1"], [[0]], ["1"])


def test_token_penalty_reads_each_rows_budget_before_the_global_one():
    ids = [[0] * 10, [0] * 10]
    assert token_penalty(["#### 1"] * 2, ids, ["1"] * 2, budget_tokens=99.0, token_budget=[5.0, 20.0]) == [2.0, 0.5]


def test_registry_has_the_core_rewards():
    assert {"exact_match", "token_penalty"} <= set(REGISTRY)
