"""docs/recipes.md's argument tables are generated from train/config.py's fields and kept in sync."""

import dataclasses
from pathlib import Path

from train.config import GROUPS, MARKERS, ScriptArguments, markdown_table

DOC = Path(__file__).resolve().parent.parent / "docs" / "recipes.md"


def test_every_argument_is_in_exactly_one_group_and_has_help():
    names = [f.name for f in dataclasses.fields(ScriptArguments)]
    grouped = [n for group in GROUPS.values() for n in group]
    assert sorted(grouped) == sorted(names), set(names) ^ set(grouped)
    assert all(f.metadata.get("help") for f in dataclasses.fields(ScriptArguments))


def test_recipes_md_holds_the_generated_tables():
    doc = DOC.read_text()
    start, end = doc.index(MARKERS[0]) + len(MARKERS[0]) + 1, doc.index(MARKERS[1])
    assert doc[start:end] == markdown_table(), "docs/recipes.md is stale: run python -m train.config --markdown"


def test_the_table_states_the_code_defaults():
    table = markdown_table()
    assert "| `budget_schedule_start` | float | `0.6` |" in table
    assert "| `dual_lr` | float | `0.02` |" in table and "| `lambda_max` | float | `0.45` |" in table
