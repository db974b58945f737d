"""The frontier-rule budget model: its price solver on hand-worked curves, and what it learns from rollouts."""

import numpy as np
import pytest

from rewards.budgets.frontier import FrontierBudgetModel, FrontierSettings, choose, length_bin, solve_price
from rewards.budgets import load_budget_model
from rewards.budgets.model import BudgetModel, BudgetModelSettings

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


def rollouts(rng, steps: int, long_share: float = 0.5, short_accuracy: tuple[float, float] = (1.0, 0.4)):
    """Batches of an easy (`q ?`) and a hard (`q x y z w v u ?`) prompt kind. The easy kind answers in 10 or
    40 tokens, the hard kind in 20 or 40; 40-token answers are always right, short ones with
    `short_accuracy` (easy, hard): by default always and 40% of the time. No hard answer is ever 10 tokens
    long: a 10-token budget must never be offered to a hard prompt, however accurate 10-token answers are
    for the easy ones."""
    for step in range(steps):
        prompts, lengths, correct = [], [], []
        for i in range(8):
            hard = i % 2 == 1
            prompt = (f"q{step}-{i} x y z w v u ?" if hard else f"q{step}-{i} ?")
            for _ in range(8):
                long = rng.random() < long_share
                prompts.append(prompt)
                lengths.append(40 if long else (20 if hard else 10))
                accuracy = short_accuracy[hard]
                correct.append(True if (long or accuracy >= 1) else bool(rng.random() < accuracy))
        yield prompts, lengths, correct


def trained(steps: int = 60) -> FrontierBudgetModel:
    model = FrontierBudgetModel(BudgetModelSettings(min_samples=8), fallback=25.0,
                                frontier=FrontierSettings(min_curve_samples=64, min_bin_evidence=8))
    rng = np.random.default_rng(0)
    for batch in rollouts(rng, steps):
        model.update(*batch)
    return model


EASY, HARD = "new-1 ?", "new-2 x y z w v u ?"


def test_learned_curves_match_the_rollouts_where_the_prompt_kind_answers():
    model = trained()
    acc, cost, support = model.curves([EASY, HARD])
    from rewards.budgets.frontier import length_bin

    b10, b20, b40 = (length_bin(n, model.frontier) for n in (10, 20, 40))
    assert support[0, b10] and support[0, b40] and not support[0, b20]  # easy: 10 or 40 tokens
    assert support[1, b20] and support[1, b40] and not support[1, b10]  # hard: never 10 tokens
    assert acc[0, b10] == pytest.approx(1.0, abs=0.1) and acc[1, b40] == pytest.approx(1.0, abs=0.1)
    assert acc[1, b20] == pytest.approx(0.4, abs=0.15)
    assert cost[0, b10] == pytest.approx(10, rel=0.15) and cost[1, b40] == pytest.approx(40, rel=0.15)


def test_learned_rule_gives_the_long_budget_to_the_hard_prompts_only():
    model = trained()
    # Level 25 = the mean of 10 (easy, short) and 40 (hard, long): every hard prompt can be funded.
    b_easy, b_hard = model.allocate([EASY, HARD], level=25.0)
    assert b_easy == pytest.approx(11, rel=0.15) and b_hard == pytest.approx(44, rel=0.15), (b_easy, b_hard)
    # Level 15 cannot fund any long answer: each prompt gets its own cheap answer's length (the hard one's
    # is 20 tokens, not the easy one's 10).
    b_easy, b_hard = model.allocate([EASY, HARD], level=15.0)
    assert b_easy == pytest.approx(11, rel=0.15) and b_hard == pytest.approx(22, rel=0.15), (b_easy, b_hard)


def test_until_the_curves_are_ready_it_allocates_proportionally():
    model = FrontierBudgetModel(fallback=30.0)
    assert model.allocate(["a ?", "a b c ?"], level=30.0) == BudgetModel(fallback=30.0).allocate(["a ?", "a b c ?"], 30.0)


def test_state_round_trip_through_the_budget_model_file(tmp_path):
    model = trained(20)
    before = model.allocate([EASY, HARD], level=25.0)
    model.save(tmp_path)
    loaded = load_budget_model(tmp_path)  # the file says which kind it is
    assert isinstance(loaded, FrontierBudgetModel)
    assert loaded.allocate([EASY, HARD], level=25.0) == before
    assert loaded.predict([EASY]) == model.predict([EASY])  # serving: the rule at the last price


def test_reliability_reports_a_checkpoints_budgets_per_difficulty(tmp_path):
    """`launch/reliability.py --budgets`: the allocation of the checkpoint's own target, per difficulty."""
    import json

    from train.reliability import budgets_by_difficulty

    model = trained()
    model.save(tmp_path)
    (tmp_path / "dual_state.json").write_text(json.dumps({"settings": {"target": 25.0}}))
    rows = [{"prompt": EASY, "difficulty": 1}, {"prompt": "other ?", "difficulty": 1}, {"prompt": HARD, "difficulty": 6}]
    table = budgets_by_difficulty(tmp_path, rows)
    assert list(table) == ["1", "6"]
    assert table["1"]["max"] < 15 and table["6"]["mean"] > 35  # easy prompts short, the hard one funded


def pure_model(steps: int = 60) -> FrontierBudgetModel:
    model = FrontierBudgetModel(BudgetModelSettings(min_samples=8), fallback=25.0,
                                frontier=FrontierSettings(min_curve_samples=64, min_bin_evidence=8, pure=True))
    for batch in rollouts(np.random.default_rng(0), steps):
        model.update(*batch)
    return model


def test_knapsack_gives_one_length_per_kind_and_funds_the_hard_kind_when_it_fits():
    model = pure_model()
    b_easy, b_hard = model.allocate([EASY, HARD], level=25.0)
    assert b_easy == pytest.approx(11, rel=0.15) and b_hard == pytest.approx(44, rel=0.15)
    assert model.knapsack["value"] == pytest.approx(1.0, abs=0.1)
    # Other prompts of the same kinds get the same lengths (one pick per size group, not per prompt)
    others = model.allocate(["other-1 ?", "other-2 x y z w v u ?"], level=25.0)
    assert others == pytest.approx([b_easy, b_hard], rel=0.05)
    # At 15 no long answer fits: the hard kind falls to its own cheap length (20 tokens, not the easy 10)
    b_easy, b_hard = model.allocate([EASY, HARD], level=15.0)
    assert b_easy == pytest.approx(11, rel=0.15) and b_hard == pytest.approx(22, rel=0.15)
    assert model.knapsack["value"] == pytest.approx(0.7, abs=0.1)


@pytest.mark.parametrize("monotone", [False, True])
def test_monotone_knapsack_never_answers_the_larger_kind_shorter(monotone):
    model = FrontierBudgetModel(BudgetModelSettings(min_samples=8), fallback=25.0,
                                frontier=FrontierSettings(min_curve_samples=64, min_bin_evidence=8, pure=True,
                                                          monotone=monotone))
    # short answers right 50% (easy) and 90% (hard) of the time: at a level of 31 mean tokens the best pure
    # allocation answers the easy kind long and the hard kind short (30 tokens, EM 0.95), a hole
    for batch in rollouts(np.random.default_rng(0), 60, short_accuracy=(0.5, 0.9)):
        model.update(*batch)
    b_easy, b_hard = model.allocate([EASY, HARD], level=31.0)
    if monotone:  # the easy kind short, the hard kind long: predicted EM (0.5 + 1) / 2 at 25 tokens
        assert b_easy == pytest.approx(11, rel=0.15) and b_hard == pytest.approx(44, rel=0.15)
        assert model.knapsack["value"] == pytest.approx(0.75, abs=0.08)
    else:  # the hole: easy long, hard short, 0.95 at 30 tokens
        assert b_easy == pytest.approx(44, rel=0.15) and b_hard == pytest.approx(22, rel=0.15)
        assert model.knapsack["value"] == pytest.approx(0.95, abs=0.05)


def test_knapsack_keeps_its_picks_unless_the_new_ones_gain_the_hysteresis():
    model = pure_model()
    model.allocate([EASY, HARD], level=15.0)
    short = dict(model.group_picks)
    model.frontier.hysteresis = 0.5  # the long pick gains only +0.3 predicted EM: keep the short one
    model.allocate([EASY, HARD], level=25.0)
    assert model.group_picks == short
    model.frontier.hysteresis = 0.0
    model.allocate([EASY, HARD], level=25.0)
    assert model.group_picks != short
    model.frontier.hysteresis = 0.5  # the kept long pick no longer fits 15: the new one replaces it
    model.allocate([EASY, HARD], level=15.0)
    assert model.group_picks == short


def test_knapsack_state_round_trip(tmp_path):
    model = pure_model(20)
    before = model.allocate([EASY, HARD], level=25.0)
    model.save(tmp_path)
    loaded = load_budget_model(tmp_path)
    assert loaded.frontier.pure and loaded.group_picks == model.group_picks
    assert loaded.predict([EASY, HARD]) == model.predict([EASY, HARD]) == pytest.approx(before)


def test_the_pool_keeps_the_training_mix_repeated_prompts_included():
    model = FrontierBudgetModel(frontier=FrontierSettings(pool_size=8))
    for step in range(4):  # one prompt repeats every batch, the other is new each time
        model.update(["again ?"] * 2 + [f"new{step} x ?"] * 2, [5, 5, 9, 9], [True] * 4)
    assert list(model.pool).count("again ?") == 4 and len(model.pool) == 8


def test_knapsack_puts_no_pressure_until_its_curves_are_ready():
    model = FrontierBudgetModel(frontier=FrontierSettings(pure=True, max_tokens=128))
    assert model.allocate(["a ?", "a b c ?"], level=10.0) == [128.0, 128.0]
    assert pure_model().allocate([EASY], level=25.0)[0] == pytest.approx(11, rel=0.15)  # ready: the knapsack's


def test_kinds_split_a_size_group_by_the_first_word():
    from rewards.budgets.frontier import kind_of, size_bucket

    one, three = FrontierSettings(), FrontierSettings(kind_split=3)
    assert kind_of("7 + 5 ?", one) == size_bucket("7 + 5 ?", one)
    assert kind_of("7 + 5 ?", three) == kind_of("7 - 2 ?", three)  # same first word, same size: same kind
    assert kind_of("7 + 5 ?", three) // 3 == size_bucket("7 + 5 ?", three)  # size-major: sizes never mix
    starts = {kind_of(f"{n} + 5 ?", three) % 3 for n in range(21)}
    assert starts == {0, 1, 2}  # 21 first words fall in all three kinds


def test_split_kinds_let_the_knapsack_give_up_a_share_of_one_size():
    """Hard prompts: 40 tokens always right, 20 tokens right 40%; easy ones 10 tokens always right. At a
    level of 21 funding every hard answer long (25) does not fit, so one kind per size must answer them
    all short (0.7); split two ways, one hard kind can stay long (~0.85 at ≤ 21)."""
    def fitted(split: int) -> FrontierBudgetModel:
        model = FrontierBudgetModel(BudgetModelSettings(min_samples=8), fallback=25.0, frontier=FrontierSettings(
            min_curve_samples=64, min_bin_evidence=8, pure=True, kind_split=split))
        for batch in rollouts(np.random.default_rng(0), 60):
            model.update(*batch)
        return model

    whole, split = fitted(1), fitted(2)
    hard = [f"h{i} x y z w v u ?" for i in range(40)]
    whole.allocate(hard, level=21.0)
    budgets = split.allocate(hard, level=21.0)
    assert whole.knapsack["value"] == pytest.approx(0.7, abs=0.08)
    assert split.knapsack["value"] > whole.knapsack["value"] + 0.08 and split.knapsack["cost"] <= 21.0 + 1e-6
    assert min(budgets) == pytest.approx(22, rel=0.15) and max(budgets) == pytest.approx(44, rel=0.15)
