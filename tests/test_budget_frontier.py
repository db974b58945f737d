"""The frontier-rule budget model: its price solver on hand-worked curves, and what it learns from rollouts."""

import numpy as np
import pytest

from rewards.budget_frontier import FrontierBudgetModel, FrontierSettings, choose, length_bin, solve_price
from rewards.budget_model import BudgetModel, BudgetModelSettings

# Two kinds of prompt, two bins each (a short answer at 10 tokens, a long one at 40 tokens):
# easy: 1.0 at 10, 1.0 at 40 (the long answer buys nothing); hard: 0.5 at 10, 1.0 at 40 (+0.5 for 30 tokens).
VALUES = np.array([[1.0, 1.0], [0.5, 1.0]])
COSTS = np.array([[10.0, 40.0], [10.0, 40.0]])
ALL = np.array([True, True])


def test_choose_takes_the_cheaper_of_equal_values_and_follows_the_price():
    assert choose(VALUES, COSTS, ALL, price=0.0).tolist() == [0, 1]  # easy: 10 tokens; hard: the long answer
    assert choose(VALUES, COSTS, ALL, price=0.5 / 30 + 1e-6).tolist() == [0, 0]  # above the hard prompt's gain/token
    assert choose(VALUES, COSTS, np.array([False, True]), price=1.0).tolist() == [1, 1]  # only the long bin allowed
    assert choose(VALUES, COSTS, np.array([False, False]), price=0.0).tolist() == [-1, -1]


def test_solve_price_funds_the_hard_prompt_only_when_the_level_allows():
    # At μ = 0 the choices cost (10 + 40) / 2 = 25: a level of 25 needs no price at all.
    assert solve_price(VALUES, COSTS, ALL, level=25.0) == 0.0
    # A level of 20 cannot fund the hard prompt's 40 tokens: the price must exceed its gain per token
    # (0.5 / 30), after which both answer short (mean 10).
    price = solve_price(VALUES, COSTS, ALL, level=20.0)
    assert price == pytest.approx(0.5 / 30, rel=1e-4)
    assert choose(VALUES, COSTS, ALL, price).tolist() == [0, 0]


def test_solve_price_with_the_cheapest_choices_over_the_level_picks_them():
    price = solve_price(VALUES, COSTS, ALL, level=5.0)
    assert choose(VALUES, COSTS, ALL, price).tolist() == [0, 0]


def test_length_bins_are_geometric():
    s = FrontierSettings(bin_factor=2.0, max_tokens=64)
    assert [length_bin(n, s) for n in (1, 2, 3, 4, 7, 8, 64, 500)] == [0, 1, 1, 2, 2, 3, 6, 6]


def rollouts(rng, steps: int, hard_full_share: float = 0.5):
    """Batches of an easy (`a ?`) and a hard (`a b c d e f ?`) prompt kind: the easy kind is right at 10 and
    at 40 tokens, the hard kind right 40% of the time at 10 tokens and always at 40."""
    for step in range(steps):
        prompts, lengths, correct = [], [], []
        for i in range(8):
            hard = i % 2 == 1
            prompt = (f"q{step}-{i} x y z w v u ?" if hard else f"q{step}-{i} ?")
            for _ in range(8):
                long = rng.random() < hard_full_share
                prompts.append(prompt)
                lengths.append(40 if long else 10)
                correct.append(True if (long or not hard) else bool(rng.random() < 0.4))
        yield prompts, lengths, correct


def trained(level_steps: int = 60) -> FrontierBudgetModel:
    model = FrontierBudgetModel(BudgetModelSettings(min_samples=8), fallback=25.0,
                                frontier=FrontierSettings(min_curve_samples=64, min_bin_evidence=8))
    rng = np.random.default_rng(0)
    for batch in rollouts(rng, level_steps):
        model.update(*batch)
    return model


def test_learned_rule_gives_the_long_budget_to_the_hard_prompts_only():
    model = trained()
    easy, hard = "new-1 ?", "new-2 x y z w v u ?"
    # Level 25 = the mean of (10 for the easy, 40 for the hard): the rule can fund every hard prompt.
    b_easy, b_hard = model.allocate([easy, hard], level=25.0)
    assert b_easy < 15 and b_hard > 35, (b_easy, b_hard)
    # A level of 10 cannot fund any long answer: every prompt gets the short budget.
    assert max(model.allocate([easy, hard], level=10.0)) < 15


def test_until_the_curves_are_ready_it_allocates_proportionally():
    model = FrontierBudgetModel(fallback=30.0)
    assert model.allocate(["a ?", "a b c ?"], level=30.0) == BudgetModel(fallback=30.0).allocate(["a ?", "a b c ?"], 30.0)


def test_state_round_trip_through_the_budget_model_file(tmp_path):
    model = trained(20)
    before = model.allocate(["new ?", "new x y z w v u ?"], level=25.0)
    model.save(tmp_path)
    loaded = BudgetModel.load(tmp_path)  # the file says which kind it is
    assert isinstance(loaded, FrontierBudgetModel)
    assert loaded.allocate(["new ?", "new x y z w v u ?"], level=25.0) == before
    assert loaded.predict(["new ?"]) == model.predict(["new ?"])  # serving: the rule at the last price
