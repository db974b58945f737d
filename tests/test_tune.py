"""launch/tune.py: an Optuna study of short real runs, resumable from SQLite, whose best recipe runs."""

import pytest
from conftest import SMOKE

from launch.tune import objective  # pure: tested without optuna
from launch.tune import main as tune
from train.run import parse_args


def test_objective_is_em_inside_the_budget_and_charged_beyond_the_slack():
    assert objective(0.9, 30.0, 30.0) == 0.9
    assert objective(0.9, 31.5, 30.0) == 0.9  # 1.05 T: still within
    assert objective(0.9, 36.0, 30.0) == pytest.approx(0.9 - (1.2 - 1.05))
    assert objective(0.7, 99.0, None) == 0.7  # no budget: EM alone


def test_two_short_trials_leave_a_resumable_study_and_a_best_recipe_that_runs(tiny_base, tmp_path):
    optuna = pytest.importorskip("optuna")  # only the study itself needs it
    cache, _ = tiny_base
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    flags = [*SMOKE, "--cache_dir", str(cache), "--max_steps", "2", "--eval_every", "1", "--save_strategy", "no"]
    common = ["--storage", storage, "--study", "t", "--out", str(tmp_path / "out")]
    assert tune(["--n_trials", "2", *common, *flags]) == 0
    study = optuna.load_study(study_name="t", storage=storage)
    assert len(study.trials) == 2 and all(t.state.is_finished() for t in study.trials)
    best = tmp_path / "out" / "t" / "best.yaml"
    script_args, training_args, _ = parse_args(["--config", str(best)])  # a recipe train/run.py accepts
    assert script_args.dual_lr == pytest.approx(study.best_trial.params["dual_lr"])
    assert training_args.max_steps == 2 and (tmp_path / "out" / "t" / "history.png").exists()
    assert tune(["--n_trials", "3", *common, *flags]) == 0  # resumed: one more trial, not three
    assert len(optuna.load_study(study_name="t", storage=storage).trials) == 3


def test_parallel_workers_draw_different_parameters(tmp_path):
    pytest.importorskip("optuna")
    from types import SimpleNamespace

    from launch.tune import study_for, suggest

    common = {"study": "w", "storage": f"sqlite:///{tmp_path / 'w.db'}", "seed": 0, "n_trials": 8}
    draws = [suggest(study_for(SimpleNamespace(**common, worker_index=i)).ask(), False) for i in (0, 1)]
    assert draws[0] != draws[1]  # the same sampler seed in both workers drew identical first trials
