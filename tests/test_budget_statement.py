"""The budget statement (chat and plain), the derived grid, the grid parser (milliseconds)."""

import doctest

import pytest

from train import budget_statement
from train.budget_statement import BudgetStatement, derive_grid, parse_grid, sampling_weights


def test_doctests():
    assert doctest.testmod(budget_statement).failed == 0


def test_plain_prompt_gets_the_sentence_appended():
    assert BudgetStatement().state("Q?", 20) == "Q?\n\nAnswer in at most 20 tokens."
    assert BudgetStatement("Be brief: {budget} tokens.").state("Q?", 7.9) == "Q?\n\nBe brief: 7 tokens."


def test_chat_prompt_gets_a_system_message_and_the_input_is_not_modified():
    chat = [{"role": "user", "content": "Q?"}]
    stated = BudgetStatement().state(chat, 20)
    assert stated == [{"role": "system", "content": "Answer in at most 20 tokens."}, {"role": "user", "content": "Q?"}]
    assert chat == [{"role": "user", "content": "Q?"}]
    with_system = [{"role": "system", "content": "You answer questions."}, {"role": "user", "content": "Q?"}]
    stated = BudgetStatement().state(with_system, 20)
    assert stated[0] == {"role": "system", "content": "You answer questions. Answer in at most 20 tokens."}
    assert len(stated) == 2 and with_system[0]["content"] == "You answer questions."


def test_a_template_naming_the_prompt_places_it():
    tag = BudgetStatement("budget {budget} : {prompt}", unit=5)
    assert tag.state("7 + 5 ?", 40) == "budget 8 : 7 + 5 ?"
    assert tag.state("7 + 5 ?", 44) == "budget 8 : 7 + 5 ?"  # units are rounded down: never more room than given
    chat = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "x ?"}]
    assert tag.state(chat, 10)[-1]["content"] == "budget 2 : x ?" and tag.state(chat, 10)[0]["content"] == "first"
    with pytest.raises(ValueError, match="no user message"):
        tag.state([{"role": "system", "content": "s"}], 10)


def test_bad_templates_and_budgets_are_named():
    with pytest.raises(ValueError, match=r"must contain '\{budget\}'"):
        BudgetStatement("Answer briefly.")
    with pytest.raises(ValueError, match="may name only"):
        BudgetStatement("{budget} tokens for {question}")
    with pytest.raises(ValueError, match="below one unit"):
        BudgetStatement("budget {budget} : {prompt}", unit=5).state("x", 4)
    with pytest.raises(ValueError, match="unit"):
        BudgetStatement(unit=0)


def test_derived_grid_spans_the_short_right_answers_to_the_cap():
    lengths = [2] + [6] * 40 + [30] * 40 + [90] * 19  # one outlier below the 5% quantile
    grid = derive_grid(lengths, cap=128, points=8)
    assert grid[0] == 6 and grid[-1] == 128 and grid == sorted(set(grid)) and 6 <= len(grid) <= 8
    ratios = [b / a for a, b in zip(grid, grid[1:])]
    assert max(ratios) / min(ratios) < 1.3  # geometric, up to rounding
    assert derive_grid([1, 2], cap=50, points=4, unit=5) == [5, 10, 25, 50]
    with pytest.raises(ValueError, match="no right answers"):
        derive_grid([], cap=64)


def test_parse_grid_and_sampling_weights():
    assert parse_grid("32, 8,16,8") == [8, 16, 32]
    with pytest.raises(ValueError, match="comma-separated"):
        parse_grid("8;16")
    with pytest.raises(ValueError, match=">= 1"):
        parse_grid("0,8")
    w = sampling_weights([4, 8, 16, 64])
    assert abs(sum(w) - 1) < 1e-12 and w[0] == pytest.approx(w[1]) and w[3] > w[2]  # log-width of each cell
