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
    t = compute_targets(_ctx(schedule=SimpleNamespace(ratio=[0.8, 0.6].__getitem__)))
    assert t.constraint == 30.0 and t.controller == pytest.approx(48.0) and t.tokens.tokens == pytest.approx(48.0)
    assert t.sampled_em is None  # measured in em_floor mode only


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


def test_an_em_floor_is_given_or_the_base_em_less_a_tolerance():
    from train.target import constraint_value

    args = SimpleNamespace(constraint="em_floor", em_floor=None, em_tolerance=0.05)
    assert constraint_value(args, {"em": 0.9, "mean_tokens": 60.0}) == pytest.approx(0.85)
    assert constraint_value(args, {"em": 0.02, "mean_tokens": 60.0}) == 0.0  # never below 0
    args.em_floor = 0.7
    assert constraint_value(args, {"em": 0.9, "mean_tokens": 60.0}) == 0.7
    assert constraint_value(SimpleNamespace(constraint="none"), {"em": 0.9}) == 0.0


def test_em_floor_mode_shifts_the_controllers_target_by_the_sampled_gap(monkeypatch):
    """The controller sees sampled EM: its target is F less the base model's greedy − sampled gap, clipped
    to [0, 1]; T (no token target given) is the base model's length, which the penalties count in."""
    import train.generation

    seen = {}

    def sampled(model, tokenizer, rows, decoding, desc="eval", batch_size=128):
        assert (model, tokenizer, rows) == ("the model", "its tokenizer", ["val"])  # the run's own
        seen["temperature"], seen["cap"] = decoding.temperature, decoding.max_new_tokens
        return {"em": seen["em"]}

    monkeypatch.setattr(train.generation, "evaluate", sampled)
    ctx = _ctx(constraint="em_floor", em_tolerance=0.05, budget_ratio=None)
    ctx.model, ctx.tokenizer = "the model", "its tokenizer"
    ctx.val_rows, ctx.max_new, ctx.training_args = ["val"], 32, SimpleNamespace(temperature=0.7)
    seen["em"] = 0.7
    t = compute_targets(ctx)  # greedy 0.9, sampled 0.7: F 0.85 held as sampled 0.65
    assert t.constraint == pytest.approx(0.85) and t.controller == pytest.approx(0.65) and t.sampled_em == 0.7
    assert (seen["temperature"], seen["cap"]) == (0.7, 32)
    assert t.tokens.tokens == 60.0 and not t.tokens.penalties_follow and t.tokens.penalty_unit == 60.0
    seen["em"] = 1.0  # sampled above greedy: the target may rise, but not above 1
    ctx2 = _ctx(constraint="em_floor", em_floor=0.99, budget_ratio=None)
    ctx2.model, ctx2.tokenizer = "the model", "its tokenizer"
    ctx2.val_rows, ctx2.max_new, ctx2.training_args = ["val"], 32, SimpleNamespace(temperature=0.7)
    assert compute_targets(ctx2).controller == 1.0
    seen["em"] = 0.0
    assert compute_targets(ctx2).controller == pytest.approx(0.09)


def test_a_run_without_a_token_constraint_serves_the_ratio_it_is_given():
    t = compute_targets(_ctx(constraint="none", budget_ratio=0.25))
    assert t.tokens.tokens == 15.0 and t.tokens.penalty_unit == 60.0


def test_a_target_moves_below_one_token_too():
    t = TokenTarget(tokens=30.0, base_tokens=60.0)
    t.move(0.5)
    assert t.tokens == 0.5
