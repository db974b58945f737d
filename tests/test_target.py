"""One owner of T: `train/target.py` works the targets out once; everything else reads its `TokenTarget`."""

import doctest
import importlib
from types import SimpleNamespace

import pytest

import train.target
from train.target import TokenTarget, compute_targets


def test_doctests():
    assert doctest.testmod(train.target).failed == 0
    assert doctest.testmod(importlib.import_module("rewards.token_penalty")).failed == 0


def _ctx(schedule=None, **args):
    defaults = {"constraint": "budget", "budget_tokens": None, "budget_ratio": 0.5, "em_floor": None,
                "em_tolerance": None, "budget_conditioned": False}
    return SimpleNamespace(script_args=SimpleNamespace(**(defaults | args)), base={"mean_tokens": 60.0, "em": 0.9},
                           schedule=schedule)


def test_budget_mode_the_penalties_count_in_t():
    t = compute_targets(_ctx())
    assert (t.constraint, t.controller) == (30.0, 30.0)
    assert (t.tokens.tokens, t.tokens.penalty_unit, t.tokens.ratio) == (30.0, 30.0, 0.5)
    assert compute_targets(_ctx(budget_ratio=None, budget_tokens=12.0)).tokens.penalty_unit == 12.0


def test_a_schedule_starts_t_at_its_first_stage():
    t = compute_targets(_ctx(schedule=SimpleNamespace(ratio=lambda i: 0.8)))
    assert t.constraint == 30.0 and t.controller == pytest.approx(48.0) and t.tokens.tokens == pytest.approx(48.0)


def test_a_conditioned_run_serves_t_and_its_penalties_read_the_stated_budgets():
    t = compute_targets(_ctx(budget_conditioned=True, budget_ratio=0.4))
    assert t.tokens.tokens == 24.0 and not t.tokens.penalties_follow and t.tokens.penalty_unit == 60.0


def test_without_a_token_target_t_is_the_base_models_length():
    t = compute_targets(_ctx(constraint="none", budget_ratio=None))
    assert t.constraint == 0.0 and t.tokens.tokens == 60.0 and t.tokens.penalty_unit == 60.0


def test_a_target_moves_only_to_a_positive_number():
    t = TokenTarget(tokens=30.0, base_tokens=60.0)
    with pytest.raises(ValueError, match="must be > 0, got 0"):
        t.move(0)
    assert t.tokens == 30.0
