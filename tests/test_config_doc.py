"""docs/recipes.md's argument tables are generated from train/config.py's fields and kept in sync."""

import dataclasses
from pathlib import Path

from train.config import GROUPS, MARKERS, ScriptArguments, markdown_table

DOC = Path(__file__).resolve().parent.parent / "docs" / "recipes.md"


def test_every_argument_is_in_exactly_one_group_and_has_help():
    names = [f.name for f in dataclasses.fields(ScriptArguments)]
    grouped = [f.name for group in GROUPS for f in dataclasses.fields(group)]
    assert sorted(grouped) == sorted(names) and len(set(grouped)) == len(grouped), set(names) ^ set(grouped)
    assert all(f.metadata.get("help") for f in dataclasses.fields(ScriptArguments))
    assert all(group.__doc__ and callable(group.check) for group in GROUPS)  # a heading and its own checks


def test_each_group_checks_its_own_values():
    """A bad value is refused by its group's check, which the joined arguments run."""
    import pytest

    from train.config_budgets import AllocatorArguments
    from train.config_groups import EvaluationArguments

    with pytest.raises(ValueError, match="allocator_cv_folds must be 0"):
        AllocatorArguments.check(_args(allocator_cv_folds=1))
    EvaluationArguments.check(_args(allocator_cv_folds=1))  # not the evaluation group's business
    with pytest.raises(ValueError, match="lr_guard needs eval_every"):
        ScriptArguments(budget_ratio=0.5, lr_guard=True)


def _args(**changes):
    """Valid arguments, then `changes` set without running the checks (to call one group's check alone)."""
    args = ScriptArguments(budget_ratio=0.5)
    for key, value in changes.items():
        setattr(args, key, value)
    return args


def test_recipes_md_holds_the_generated_tables():
    doc = DOC.read_text()
    start, end = doc.index(MARKERS[0]) + len(MARKERS[0]) + 1, doc.index(MARKERS[1])
    assert doc[start:end] == markdown_table(), "docs/recipes.md is stale: run python -m train.config --markdown"


def test_the_table_states_the_code_defaults():
    table = markdown_table()
    assert "| `budget_schedule_start` | float | `0.6` |" in table
    assert "| `dual_lr` | float | `0.02` |" in table and "| `lambda_max` | float | `0.45` |" in table
