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
    import train.evaluate as ev

    calls = []
    monkeypatch.setattr(ev, "evaluate", lambda model, tok, rows, n, desc="": calls.append(desc) or {"em": len(calls)})

    class Trainer:
        model = None

    trainer = Trainer()
    first = ev.val_evaluation(trainer, None, [], 8, step=40)
    again = ev.val_evaluation(trainer, None, [], 8, step=40, desc="stage 0 eval")
    later = ev.val_evaluation(trainer, None, [], 8, step=80)
    assert first is again and len(calls) == 2 and later["em"] == 2


def test_one_budget_tolerance_for_selection_and_the_contest():
    from train.selection import BUDGET_TOLERANCE

    rule = SelectionRule("budget", 30.0)
    assert rule.feasible({"em": 1.0, "mean_tokens": 30.0 * (1 + BUDGET_TOLERANCE)})
    assert not rule.feasible({"em": 1.0, "mean_tokens": 30.0 * (1 + BUDGET_TOLERANCE) + 0.01})
