"""The allocation frontier and the uniform cap on reliability curves worked out by hand."""

import numpy as np
import pytest

from rewards.budgets.allocation import (concave_hull, frontier, monotone_choice, monotone_frontier, pure_choice, pure_frontier,
                              uniform)


def curve(*points):
    return [{"mode": f"m{i}", "mean_tokens": t, "em": e} for i, (t, e) in enumerate(points)]


# Cell a: a long mode buys little (0.5 → 0.6 for 16 tokens); cell b: a long mode buys a lot (0.2 → 1.0 for 8).
CURVES = {"a": curve((4, 0.5), (20, 0.6)), "b": curve((4, 0.2), (12, 1.0))}
SHARES = {"a": 1, "b": 1}


def test_hull_drops_dominated_and_under_chord_modes():
    hull = concave_hull(curve((4, 0.2), (6, 0.3), (10, 0.8), (12, 0.7), (4, 0.1)))
    # (6, 0.3) lies under the chord (4, 0.2)–(10, 0.8); (12, 0.7) is longer and worse; (4, 0.1) ties on length.
    assert hull == [(4, 0.2), (10, 0.8)]


def test_frontier_buys_the_steepest_upgrade_first_then_a_fraction():
    # start: 4 tokens, EM (0.5 + 0.2)/2 = 0.35; b's upgrade (slope 0.1) costs 4 mean tokens → 8, 0.75;
    # a's upgrade (slope 1/160) costs 8; 4 are left, so half of a's prompts move: EM + 0.5·0.5·0.1 = 0.775.
    f = frontier(CURVES, SHARES, 12)
    assert f["feasible"]
    assert f["tokens"] == pytest.approx(12)
    assert f["em"] == pytest.approx(0.775)
    assert f["allocation"]["b"] == [(12, 1.0, 1.0)]
    assert f["allocation"]["a"] == [(4, 0.5, 0.5), (20, 0.6, 0.5)]
    assert frontier(CURVES, SHARES, 8)["em"] == pytest.approx(0.75)


def test_uniform_takes_the_largest_cap_within_the_budget():
    # cap 4: 4 tokens, 0.35; cap 12: a stays at 4 (its 20-token mode does not fit), b at 12 → 8 tokens, 0.75;
    # cap 20: a at 20, b at 12 → 16 tokens > 12. So U(12) is the cap-12 point, 0.025 below the frontier.
    u = uniform(CURVES, SHARES, 12)
    assert u["cap"] == 12 and u["feasible"]
    assert u["tokens"] == pytest.approx(8)
    assert u["em"] == pytest.approx(0.75)
    assert u["modes"] == {"a": "m0", "b": "m1"}
    assert uniform(CURVES, SHARES, 16)["em"] == pytest.approx(0.8)


def test_uniform_prefers_the_shortest_of_equally_accurate_modes():
    curves = {"easy": curve((4, 1.0), (20, 1.0)), "hard": curve((4, 0.2), (30, 1.0))}
    u = uniform(curves, {"easy": 1, "hard": 1}, 100)
    assert u["tokens"] == pytest.approx(17)  # easy answers in 4 tokens even though 20 fit
    assert u["em"] == pytest.approx(1.0)


def test_below_every_shortest_mode_both_report_the_shortest_point_as_infeasible():
    f, u = frontier(CURVES, SHARES, 3), uniform(CURVES, SHARES, 3)
    assert not f["feasible"] and not u["feasible"]
    assert f["tokens"] == u["tokens"] == pytest.approx(4)
    assert f["em"] == u["em"] == pytest.approx(0.35)


def test_shares_weight_the_cells():
    # b three times as common: start 4 tokens, EM 0.25·0.5 + 0.75·0.2 = 0.275; b's upgrade costs 0.75·8 = 6.
    assert frontier(CURVES, {"a": 1, "b": 3}, 10)["em"] == pytest.approx(0.275 + 0.75 * 0.8)


def test_frontier_is_never_below_uniform():
    curves = {1: curve((4, 1.0), (10, 1.0)), 3: curve((4, 0.3), (8, 0.7), (22, 1.0)),
              6: curve((4, 0.05), (14, 0.6), (40, 1.0))}
    for budget in range(4, 45, 2):
        assert frontier(curves, {1: 1, 3: 1, 6: 1}, budget)["em"] >= uniform(curves, {1: 1, 3: 1, 6: 1}, budget)["em"] - 1e-9


def test_missing_curve_is_an_error():
    with pytest.raises(ValueError, match="without a reliability curve"):
        frontier(CURVES, {"a": 1, "c": 1}, 10)


# Three kinds, equal shares, a long and a short answer each (tokens, EM):
# A (10, 1.0) / (4, 0.80), B (16, 1.0) / (4, 0.50), C (40, 1.0) / (4, 0.15). All long: 22 tokens.
# At T = 18 one kind must go short. By hand: A short saves 2 tokens (−0.067 EM), B 4 (−0.167),
# C 12 (−0.283), A+B 6 (−0.233): B alone is the best pure choice, EM (1 + 0.5 + 1) / 3 = 0.8333.
# The frontier instead keeps A and B long and splits C (2/3 long): EM 0.9056, one kind split.
KINDS = {"A": [{"mode": "long", "mean_tokens": 10, "em": 1.0}, {"mode": "short", "mean_tokens": 4, "em": 0.8}],
         "B": [{"mode": "long", "mean_tokens": 16, "em": 1.0}, {"mode": "short", "mean_tokens": 4, "em": 0.5}],
         "C": [{"mode": "long", "mean_tokens": 40, "em": 1.0}, {"mode": "short", "mean_tokens": 4, "em": 0.15}]}
EQUAL = {"A": 1, "B": 1, "C": 1}


def test_pure_frontier_gives_each_kind_one_mode_and_picks_the_best_set_to_shorten():
    pure = pure_frontier(KINDS, EQUAL, 18.0)
    assert pure["modes"] == {"A": "long", "B": "short", "C": "long"}
    assert pure["tokens"] == pytest.approx(18.0) and pure["em"] == pytest.approx(2.5 / 3)
    split = frontier(KINDS, EQUAL, 18.0)
    assert split["em"] == pytest.approx((2.15 + 0.85 * 2 / 3) / 3)  # the LP splits C
    assert pure["em"] < split["em"] and pure["em"] > uniform(KINDS, EQUAL, 18.0)["em"] - 1e-9


def test_pure_choice_edges_ties_infeasible_and_disallowed():
    values, costs = [[1.0, 1.0], [0.5, 1.0]], [[10.0, 40.0], [10.0, 40.0]]
    assert pure_choice(values, costs, True, [0.5, 0.5], 100.0) == [0, 1]  # equal value: the cheaper; room for the rest
    assert pure_choice(values, costs, True, [0.5, 0.5], 24.9) == [0, 0]  # 25 does not fit
    assert pure_choice(values, costs, True, [0.5, 0.5], 5.0) == [0, 0]  # nothing fits: the cheapest
    assert pure_choice(values, costs, [[True, True], [False, False]], [0.5, 0.5], 100.0) == [0, -1]
    # Exactly at the level (a cost rounded up must not make it look infeasible)
    assert pure_choice(values, costs, True, [0.5, 0.5], 25.0) == [0, 1]


def test_pure_choice_matches_brute_force_on_random_kinds():
    import itertools

    rng = np.random.default_rng(1)
    for _ in range(30):
        g, b = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        values, costs = rng.random((g, b)), rng.integers(1, 60, (g, b)).astype(float)
        weights = rng.random(g) + 0.1
        weights /= weights.sum()
        level = float(rng.uniform(costs.min(), costs.max()))
        fits = [(sum(weights[i] * values[i, p] for i, p in enumerate(c)), c) for c in itertools.product(range(b), repeat=g)
                if sum(weights[i] * costs[i, p] for i, p in enumerate(c)) <= level + 1e-9]
        picks = pure_choice(values, costs, True, weights, level)
        if fits:
            got = sum(weights[i] * values[i, p] for i, p in enumerate(picks))
            assert got == pytest.approx(max(fits)[0], abs=1e-9)
            assert sum(weights[i] * costs[i, p] for i, p in enumerate(picks)) <= level + 1e-9


def test_monotone_frontier_shortens_the_easy_kinds_first_where_pure_would_leave_a_hole():
    # In size order A < B < C. Pure picks B short alone (0.8333, above); monotone may not answer B
    # shorter than C unless C is short too, nor A longer than B: its choices are {none, A, A+B, A+B+C}
    # short. At T = 18 none (22) does not fit, A (20) does not, A+B (16) does: EM (0.8 + 0.5 + 1) / 3.
    mono = monotone_frontier(KINDS, EQUAL, 18.0)
    assert mono["modes"] == {"A": "short", "B": "short", "C": "long"}
    assert mono["em"] == pytest.approx(2.3 / 3) and mono["tokens"] == pytest.approx(16.0)
    assert mono["em"] < pure_frontier(KINDS, EQUAL, 18.0)["em"]
    assert monotone_frontier(KINDS, EQUAL, 22.0)["modes"] == {"A": "long", "B": "long", "C": "long"}
    # cells sort as numbers: "10" after "9", so the rank order runs with the difficulty, not the string
    numbered = {"9": KINDS["A"], "10": KINDS["C"]}
    assert monotone_frontier(numbered, {"9": 1, "10": 1}, 22.0)["modes"] == {"9": "short", "10": "long"}


def test_monotone_choice_matches_brute_force_on_random_ordered_kinds():
    import itertools

    rng = np.random.default_rng(2)
    for _ in range(40):
        g, b = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        values, costs = rng.random((g, b)), rng.integers(1, 60, (g, b)).astype(float)
        ranks = rng.integers(0, 3, (g, b))
        allowed = rng.random((g, b)) < 0.85
        allowed[:, 0] = True
        weights = rng.random(g) + 0.1
        weights /= weights.sum()
        level = float(rng.uniform(costs.min(), costs.max()))
        fits = [(sum(weights[i] * values[i, p] for i, p in enumerate(c)), c) for c in itertools.product(range(b), repeat=g)
                if all(allowed[i, p] for i, p in enumerate(c))
                and all(ranks[i, c[i]] <= ranks[i + 1, c[i + 1]] for i in range(g - 1))
                and sum(weights[i] * costs[i, p] for i, p in enumerate(c)) <= level + 1e-9]
        picks = monotone_choice(values, costs, allowed, weights, level, ranks)
        if fits:
            assert all(allowed[i, p] for i, p in enumerate(picks))
            assert all(ranks[i, picks[i]] <= ranks[i + 1, picks[i + 1]] for i in range(g - 1))
            got = sum(weights[i] * values[i, p] for i, p in enumerate(picks))
            assert got == pytest.approx(max(fits)[0], abs=1e-9)
            assert sum(weights[i] * costs[i, p] for i, p in enumerate(picks)) <= level + 1e-9


def test_monotone_choice_edges_match_pure_choice():
    values, costs = [[1.0, 1.0], [0.5, 1.0]], [[10.0, 40.0], [10.0, 40.0]]
    for level in (100.0, 24.9, 5.0, 25.0):
        assert monotone_choice(values, costs, True, [0.5, 0.5], level, [[0, 1], [0, 1]]) == \
            pure_choice(values, costs, True, [0.5, 0.5], level)
    assert monotone_choice(values, costs, [[True, True], [False, False]], [0.5, 0.5], 100.0, 0) == [0, -1]


def test_the_one_price_solver():
    import doctest

    from rewards.budgets import price

    assert doctest.testmod(price).failed == 0
    lo, hi = price.price_bracket(lambda mu: 10 / (1 + mu), 4.0, iterations=40)
    assert 10 / (1 + hi) <= 4.0 < 10 / (1 + lo) and hi - lo < 1e-9 and abs(hi - 1.5) < 1e-9
    steps = lambda mu: 8.0 if mu < 0.3 else 2.0  # noqa: E731  (a choice that jumps: the bracket straddles it)
    lo, hi = price.price_bracket(steps, 5.0)
    assert steps(lo) == 8.0 and steps(hi) == 2.0 and abs(hi - 0.3) < 1e-9
