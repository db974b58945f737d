"""Performance-aware learning rate (train/lr_guard.py)."""

import json
from types import SimpleNamespace

import pytest
from conftest import SMOKE

from train.lr_guard import LRGuard, LRGuardSettings, next_scale
from train.run import main, parse_args


def test_the_rate_is_cut_while_em_is_below_the_reference_and_restored_when_it_recovers():
    assert next_scale(0.90, 1.00, 1.0, 0.5, 0.02, 0.125) == 0.5
    assert next_scale(0.90, 1.00, 0.5, 0.5, 0.02, 0.125) == 0.25
    assert next_scale(0.90, 1.00, 0.125, 0.5, 0.02, 0.125) == 0.125  # never below min_scale
    assert next_scale(0.98, 1.00, 0.25, 0.5, 0.02, 0.125) == 1.0  # within tolerance: restored at once
    assert next_scale(0.979, 1.00, 1.0, 0.5, 0.02, 0.125) == 0.5


def test_the_guard_scales_the_schedulers_base_rates_after_each_evaluation():
    scheduler = SimpleNamespace(base_lrs=[3e-4, 1e-4])
    logged = []
    trainer = SimpleNamespace(lr_scheduler=scheduler, log=logged.append)
    periodic = SimpleNamespace(records=[])
    guard = LRGuard(trainer, periodic, base_em=1.0, settings=LRGuardSettings(tolerance=0.02))
    args = SimpleNamespace(output_dir="/nonexistent", should_save=False)
    guard.on_train_begin(args, SimpleNamespace(global_step=0), None)
    for step, em, expected in ((40, 0.95, 0.5), (80, 0.90, 0.25), (120, 0.99, 1.0), (160, 0.97, 0.5)):
        periodic.records.append({"step": step, "em": em})
        guard.on_step_end(args, SimpleNamespace(global_step=step), None)
        guard.on_step_end(args, SimpleNamespace(global_step=step + 1), None)  # no new evaluation: no change
        assert scheduler.base_lrs == pytest.approx([3e-4 * expected, 1e-4 * expected])
    assert guard.state.cuts == 3 and logged[-1]["lr_guard/scale"] == 0.5


def test_lr_guard_without_periodic_evaluation_is_refused():
    with pytest.raises(ValueError, match="lr_guard needs eval_every"):
        parse_args(["--lr_guard", "true", "--eval_every", "0"])


def test_a_guarded_run_saves_the_guard_state_in_its_checkpoints(tiny_base, tmp_path):
    cache, _ = tiny_base
    out = tmp_path / "guarded"
    main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(out), "--max_steps", "3", "--eval_every", "1",
                  "--save_steps", "3", "--lr_guard", "true", "--lr_guard_tolerance", "-1"])  # every evaluation "falls"
    state = json.loads((out / "checkpoint-3" / "lr_guard.json").read_text())
    assert state["scale"] == 0.25 and state["cuts"] == 2  # evaluations at steps 1 and 2 (step 3 is the final eval)
    history = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())["log_history"]
    assert [h["lr_guard/scale"] for h in history if "lr_guard/scale" in h] == [0.5, 0.25]
    rates = {h["step"]: h["learning_rate"] for h in history if "learning_rate" in h}
    assert rates[3] == pytest.approx(3e-4 * 0.25)  # the rate step 3 trained at: constant schedule, cut twice


def test_the_guards_settings_come_from_the_arguments_and_refuse_a_factor_outside_0_1():
    args = SimpleNamespace(lr_guard_factor=0.25, lr_guard_tolerance=0.05)
    assert LRGuardSettings.from_args(args) == LRGuardSettings(factor=0.25, tolerance=0.05, min_scale=0.125)
    with pytest.raises(ValueError, match="lr_guard_factor must lie in"):
        LRGuardSettings(factor=1.0)
