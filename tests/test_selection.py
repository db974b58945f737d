import statistics

import pytest

from train.ab_test import paired_bootstrap
from train.selection import SelectionRule, select, settled

# A fabricated evaluation log: λ rises, tokens fall, EM dips when the budget gets tight.
LOG = [
    {"step": 40, "em": 1.00, "mean_tokens": 44.0, "lambda": 0.10},
    {"step": 80, "em": 0.99, "mean_tokens": 30.5, "lambda": 0.30},
    {"step": 120, "em": 0.97, "mean_tokens": 29.0, "lambda": 0.42},
    {"step": 160, "em": 0.99, "mean_tokens": 31.0, "lambda": 0.41},
]


def test_budget_mode_picks_highest_em_within_the_budget():
    # T = 30 with 5% slack: steps 80 (30.5), 120 (29.0) and 160 (31.0 <= 31.5) fit; 80 and 160 tie on EM,
    # 80 has fewer tokens
    assert select(LOG, SelectionRule("budget", 30.0, 0.05))["step"] == 80
    # no slack: only step 120 fits, whatever its EM
    assert select(LOG, SelectionRule("budget", 30.0, 0.0))["step"] == 120


def test_budget_mode_without_a_feasible_checkpoint_takes_the_closest():
    assert select(LOG, SelectionRule("budget", 20.0, 0.0))["step"] == 120


def test_em_floor_mode_picks_fewest_tokens_above_the_floor():
    assert select(LOG, SelectionRule("em_floor", 0.99, 0.0))["step"] == 80
    assert select(LOG, SelectionRule("em_floor", 0.995, 0.0))["step"] == 40
    assert select(LOG, SelectionRule("em_floor", 0.97, 0.0))["step"] == 120


def test_em_floor_mode_has_no_slack_below_the_floor():
    # the case that showed it: a slack of 0.05 EM let 0.953 EM at 30.1 tokens beat 1.000 at 31.0 (F = 0.98)
    log = [{"step": 80, "em": 0.953, "mean_tokens": 30.1}, {"step": 120, "em": 1.0, "mean_tokens": 31.0}]
    assert select(log, SelectionRule("em_floor", 0.98, tolerance=0.05))["step"] == 120


def test_no_constraint_picks_highest_em():
    assert select(LOG, SelectionRule("none", 0.0))["step"] == 40
    assert select([], SelectionRule("none", 0.0)) is None


def test_settled_needs_patience_quiet_evaluations():
    quiet = [{"step": s, "em": 0.98, "mean_tokens": 30.0 + 0.1 * s / 40, "lambda": 0.40} for s in (40, 80, 120, 160)]
    assert settled(quiet, patience=3)
    assert not settled(quiet, patience=4)  # not enough evaluations yet
    assert not settled(quiet, patience=0)  # off
    moving = quiet[:-1] + [{**quiet[-1], "lambda": 0.45}]
    assert not settled(moving, patience=3)
    assert not settled(LOG, patience=2)


def test_paired_bootstrap_known_answers():
    same = paired_bootstrap([1, 0, 1, 1], [1, 0, 1, 1], [10, 20, 30, 40], [10, 20, 30, 40], n_boot=200)
    assert same["em_diff"] == 0 and same["em_ci"] == [0.0, 0.0] and same["p_em"] == 1.0
    flip = paired_bootstrap([0] * 50, [1] * 50, [30] * 50, [20] * 50, n_boot=200)
    assert flip["em_diff"] == 1.0 and flip["em_ci"] == [1.0, 1.0] and flip["tokens_ci"] == [-10.0, -10.0]


def test_paired_bootstrap_interval_matches_the_normal_approximation():
    # B fixes 10% of A's wrong answers on 1000 prompts: paired differences d ∈ {0, 1} with mean 0.1 and
    # standard deviation 0.3, so the 95% interval is 0.1 ± 1.96·0.3/√1000 = 0.1 ± 0.0186.
    n = 1000
    a = [0] * n
    b = [1 if i % 10 == 0 else 0 for i in range(n)]
    r = paired_bootstrap(a, b, [0] * n, [0] * n, n_boot=4000, seed=1)
    lo, hi = r["em_ci"]
    assert r["em_diff"] == pytest.approx(0.1)
    assert (hi - lo) / 2 == pytest.approx(1.96 * 0.3 / n**0.5, rel=0.15)
    assert lo > 0 and r["p_em"] < 0.01


def test_paired_bootstrap_refuses_unpaired_input():
    with pytest.raises(ValueError, match="equal"):
        paired_bootstrap([1, 0], [1], [1, 2], [1, 2])


def test_val_evaluation_runs_once_per_step(monkeypatch):
    """The periodic evaluation and a schedule stage end on the same step share one greedy evaluation."""
    import train.periodic_eval as pe

    calls = []
    monkeypatch.setattr(pe, "evaluate", lambda model, tok, rows, n, desc="": calls.append(desc) or {"em": len(calls)})
    val = pe.ValEvaluation(None, [], 8)
    first = val.at(None, step=40)
    again = val.at(None, step=40, desc="stage 0 eval")
    later = val.at(None, step=80)
    assert first is again and len(calls) == 2 and later["em"] == 2


def test_one_budget_tolerance_for_selection_and_the_contest():
    from train.selection import BUDGET_TOLERANCE

    rule = SelectionRule("budget", 30.0)
    assert rule.feasible({"em": 1.0, "mean_tokens": 30.0 * (1 + BUDGET_TOLERANCE)})
    assert not rule.feasible({"em": 1.0, "mean_tokens": 30.0 * (1 + BUDGET_TOLERANCE) + 0.01})


def _rec(em: float, tokens: float, lam: float = 0.1) -> dict:
    return {"em": em, "mean_tokens": tokens, "lambda": lam}


def test_adaptive_patience_grows_while_tokens_fall_at_flat_em():
    from train.selection import adaptive_patience

    shortening = [_rec(0.9, t) for t in (60.0, 50.0, 40.0, 30.0)]  # three free shortenings
    assert adaptive_patience(shortening, 2) == (4, 0)          # grew 2 → 4 (the cap, 2 × patience)
    assert adaptive_patience(shortening, 2, max_patience=3) == (3, 0)
    assert adaptive_patience(shortening, 4) == (7, 0)          # 4 + 3, under the cap of 8
    # tokens falling while EM drops is not free: no growth
    assert adaptive_patience([_rec(0.9, 60.0), _rec(0.7, 40.0)], 2) == (2, 0)
    # a fall within the tokens tolerance is not a shortening either
    assert adaptive_patience([_rec(0.9, 60.0), _rec(0.9, 59.0)], 2) == (2, 1)


def test_adaptive_patience_shrinks_once_both_are_flat_and_stops_sooner():
    from train.selection import adaptive_patience, settled, settled_adaptive

    flat = [_rec(0.9, 20.0)] * 6
    assert [adaptive_patience(flat[:k], 4) for k in (2, 3, 4)] == [(4, 1), (3, 2), (2, 3)]
    stops_fixed = next(k for k in range(1, 7) if settled(flat[:k], 4))
    stops_adaptive = next(k for k in range(1, 7) if settled_adaptive(flat[:k], 4))
    assert (stops_fixed, stops_adaptive) == (5, 4)  # 4 quiet evaluations against ⌈5/2⌉ = 3
    assert adaptive_patience(flat, 1) == (1, 5)      # never below 1
    assert not settled_adaptive(flat, 0)            # off


def test_adaptive_patience_waits_longer_after_a_run_that_was_still_shortening():
    from train.selection import settled, settled_adaptive

    run = [_rec(0.9, t) for t in (60.0, 45.0, 34.0, 26.0, 20.0)] + [_rec(0.9, 20.0)] * 6
    first_fixed = next(k for k in range(1, len(run) + 1) if settled(run[:k], 2))
    first_adaptive = next(k for k in range(1, len(run) + 1) if settled_adaptive(run[:k], 2))
    assert first_adaptive > first_fixed  # patience grew to 4 while tokens fell; 2 → stops after 3 quiet, not 2
    # a moving EM resets the quiet run, as for the fixed rule
    assert not settled_adaptive([_rec(0.9, 20.0), _rec(0.9, 20.0), _rec(0.95, 20.0)], 1)


def test_fold_report_splits_rows_disjointly_and_reports_the_spread():
    from train.generation import fold_report

    rows = [{"prompt": f"{i} + {i} ?"} for i in range(90)]
    correct = [i < 45 for i in range(90)]
    tokens = [float(i) for i in range(90)]
    report = fold_report(rows, {"correct": correct, "tokens": tokens}, folds=3, seed=1)
    assert sum(f["n"] for f in report["per_fold"]) == 90
    assert abs(report["em_mean"] - statistics.fmean(f["em"] for f in report["per_fold"])) < 1e-12
    assert report["em_range"] == max(f["em"] for f in report["per_fold"]) - min(f["em"] for f in report["per_fold"])
    assert report["em_std"] > 0 and report["tokens_std"] > 0
    again = fold_report(rows, {"correct": correct, "tokens": tokens}, folds=3, seed=1)
    assert again == report                                   # the same rows fall in the same folds
    other = fold_report(rows, {"correct": correct, "tokens": tokens}, folds=3, seed=2)
    assert other["per_fold"] != report["per_fold"]           # the seed picks another split
    with pytest.raises(ValueError, match="at least 2"):
        fold_report(rows, {"correct": correct, "tokens": tokens}, folds=1)
    with pytest.raises(ValueError, match="too few"):
        fold_report(rows[:2], {"correct": correct[:2], "tokens": tokens[:2]}, folds=5)


def test_adaptive_patience_edges():
    """Boundaries the mutation run found untested: each tolerance is inclusive, λ counts, and the
    settled test uses the caller's cap and tolerances."""
    from train.selection import adaptive_patience, settled_adaptive

    assert adaptive_patience([_rec(0.9, 20.0)] * 3, 0) == (0, 0)                 # patience 0: off
    moving_lambda = [_rec(0.9, 20.0, lam) for lam in (0.1, 0.2, 0.3)]
    assert adaptive_patience(moving_lambda, 3) == (3, 0)                          # λ moving is not quiet
    assert adaptive_patience([_rec(0.9, 0.5), _rec(0.9, 0.49)], 3) == (3, 1)     # tokens under 1: relative fall 2%
    exact_fall = [_rec(0.9, 4.0), _rec(0.9, 3.0)]                                 # a fall of exactly tokens_tol
    assert adaptive_patience(exact_fall, 2, tokens_tol=0.25) == (2, 1)            # is not a shortening
    exact_em = [_rec(0.5, 40.0), _rec(1.0, 20.0)]                                 # |ΔEM| of exactly em_tol
    assert adaptive_patience(exact_em, 2, em_tol=0.5)[0] == 3                     # still counts as flat
    assert settled_adaptive([_rec(0.9, 20.0)] * 2, 1)                             # quiet 1 reaches patience 1
    shortened = [_rec(0.9, t) for t in (40.0, 30.0, 24.0, 18.0, 18.0, 18.0)]
    assert settled_adaptive(shortened, 1) and not settled_adaptive(shortened, 1, max_patience=4)
    assert settled_adaptive([_rec(0.9, 20.0), _rec(0.9, 16.0)], 1, tokens_tol=0.5)
    assert not settled_adaptive([_rec(0.9, 20.0), _rec(0.9, 16.0)], 1)
