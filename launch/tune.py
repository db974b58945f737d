"""Hyper-parameter search with Optuna: the controller gains, the learning rate, λ_max and the budget model.

    pip install -e '.[tune]'
    python launch/tune.py --config configs/benchmark.yaml --n_trials 20 --storage sqlite:///runs/tune.db \\
        --study bench --workers 2 --max_steps 60
    python launch/tune.py --n_trials 2 --study try --max_steps 4          # the arith recipe, 2 short trials

Each trial is one `train/run.py` run (any of its flags after the tune flags, e.g. `--max_steps 60`) with
parameters drawn by TPE. Objective: val EM of the run's shipped checkpoint, minus how far its mean tokens
exceed the budget beyond the 5% slack (`objective`): an over-budget trial cannot win on accuracy bought
with tokens. The periodic evaluations (`eval_every`) report the same objective to Optuna, and the median
pruner stops trials that are behind at the same step. The study lives in `--storage` (SQLite), so an
interrupted search resumes where it stopped: the next call runs trials until the study holds `--n_trials`
finished ones. `--workers K` runs K processes against the same study, each with cores ÷ K threads.

Writes `<out>/<study>/best.yaml` (the recipe with the best trial's values; `train/run.py --config` reads it),
`history.png` and `importance.png` (Optuna's plots), and `trials.csv`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from train.callback import Callback
from train.selection import BUDGET_TOLERANCE


def objective(em: float, mean_tokens: float, target: float | None) -> float:
    """Val EM, minus the relative excess of mean tokens over the budget's tolerance (T·1.05, as selection
    and the contest count it; no target: EM alone)."""
    if not target:
        return em
    return em - max(0.0, mean_tokens / target - (1 + BUDGET_TOLERANCE))


def suggest(trial, learned_budget: bool) -> dict:
    """The search space: controller gains, policy learning rate, λ_max, and the budget model's knobs."""
    params = {
        "dual_lr": trial.suggest_float("dual_lr", 0.005, 0.1, log=True),
        "dual_kp": trial.suggest_float("dual_kp", 0.0, 0.5),
        "dual_ema": trial.suggest_float("dual_ema", 0.5, 0.95),
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-3, log=True),
        "lambda_max": trial.suggest_float("lambda_max", 0.2, 0.49),  # λ_max · cap < 1 with the default cap 2
    }
    if learned_budget:
        params["budget_quantile"] = trial.suggest_float("budget_quantile", 0.1, 0.5)
        params["budget_reliable_accuracy"] = trial.suggest_float("budget_reliable_accuracy", 0.7, 0.95)
    return params


class PruneOnEval(Callback):
    """TrainerCallback (duck-typed): report each periodic evaluation's objective; stop a trial Optuna prunes.
    The token target comes from the controller's logged `dual/target` (budget mode)."""

    def __init__(self, trial, budget_mode: bool):
        self.trial, self.budget_mode, self.target = trial, budget_mode, None

    def on_log(self, args, state, control, logs=None, **kwargs):
        import optuna

        logs = logs or {}
        if self.budget_mode and "dual/target" in logs:
            self.target = logs["dual/target"]
        if "eval/em" in logs and "eval/mean_tokens" in logs:
            self.trial.report(objective(logs["eval/em"], logs["eval/mean_tokens"], self.target), state.global_step)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {state.global_step}")


def run_trial(trial, run_args: list[str], out: Path, learned_budget: bool) -> float:
    from train.run import main, parse_args

    params = suggest(trial, learned_budget)
    argv = [*run_args, *[x for k, v in params.items() for x in (f"--{k}", str(v))],
            "--output_dir", str(out / f"trial-{trial.number}")]
    script_args, _, _ = parse_args(argv)  # bad flags fail here, before any training
    if not script_args.eval_every:
        argv += ["--eval_every", "20"]
    summary = main(argv, callbacks=[PruneOnEval(trial, script_args.constraint == "budget")])
    target = summary["constraint"]["target"] if summary["constraint"]["mode"] == "budget" else None
    trial.set_user_attr("em", summary["final"]["em"])
    trial.set_user_attr("mean_tokens", summary["final"]["mean_tokens"])
    trial.set_user_attr("target", target)
    return objective(summary["final"]["em"], summary["final"]["mean_tokens"], target)


def study_for(args):
    import optuna

    return optuna.create_study(
        study_name=args.study, storage=args.storage, load_if_exists=True, direction="maximize",
        # each worker its own sampler seed: with one seed, parallel workers drew the same parameters
        sampler=optuna.samplers.TPESampler(seed=args.seed + 1000 * args.worker_index,
                                           n_startup_trials=min(8, max(2, args.n_trials // 3))),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1),
    )


def optimize(args, run_args: list[str]) -> None:
    """Run trials in this process until the study holds `n_trials` finished (complete or pruned) ones."""
    import optuna
    from optuna.trial import TrialState

    from train.run import parse_args

    study = study_for(args)
    learned = parse_args(list(run_args))[0].learned_budget
    out = Path(args.out) / args.study
    done = (TrialState.COMPLETE, TrialState.PRUNED)
    if len(study.get_trials(deepcopy=False, states=done)) >= args.n_trials:
        return
    study.optimize(lambda t: run_trial(t, run_args, out, learned), catch=(RuntimeError,),
                   callbacks=[optuna.study.MaxTrialsCallback(args.n_trials, states=done)])


def flag_value(text: str):
    """A command-line value as the recipe's YAML should hold it: bools, numbers and JSON mappings typed,
    everything else (e.g. `--save_strategy no`, which YAML would read as False) a string."""
    import json

    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for convert in (int, float, json.loads):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


def write_results(args, run_args: list[str]) -> Path:
    """best.yaml (the recipe + the best trial's values), trials.csv, history.png, importance.png."""
    import optuna
    import yaml

    from train.run import DEFAULT_RECIPE

    study = study_for(args)
    out = Path(args.out) / args.study
    out.mkdir(parents=True, exist_ok=True)
    try:
        best = study.best_trial
    except ValueError:
        raise SystemExit(f"study {args.study!r} has no completed trial yet (all pruned or failed): nothing to write")
    config = Path(run_args[run_args.index("--config") + 1]) if "--config" in run_args else DEFAULT_RECIPE
    recipe = yaml.safe_load(config.read_text())
    flags = {run_args[i][2:]: run_args[i + 1] for i in range(len(run_args) - 1)
             if run_args[i].startswith("--") and run_args[i] != "--config" and not run_args[i + 1].startswith("--")}
    for key, value in flags.items():  # the flags every trial ran with belong to the recipe too
        recipe[key] = flag_value(value)
    recipe.update(best.params)
    recipe["output_dir"] = f"runs/tune-{args.study}-best"
    header = (f"# Best of Optuna study '{args.study}' ({len(study.trials)} trials): trial {best.number}, objective "
              f"{best.value:.4f} (val EM {best.user_attrs.get('em')}, mean tokens {best.user_attrs.get('mean_tokens')}, "
              f"target {best.user_attrs.get('target')}).\n# From {config.name}; written by launch/tune.py.\n")
    (out / "best.yaml").write_text(header + yaml.safe_dump(recipe, sort_keys=False))
    study.trials_dataframe().to_csv(out / "trials.csv", index=False)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from optuna.visualization import matplotlib as ovm

    for name, draw in (("history", ovm.plot_optimization_history), ("importance", ovm.plot_param_importances)):
        try:
            draw(study)
            plt.gcf().set_size_inches(7, 4.5)
            plt.tight_layout()
            plt.savefig(out / f"{name}.png", dpi=110)
        except (ValueError, RuntimeError) as err:  # e.g. importances need ≥ 2 completed trials that differ
            print(f"({name}.png not drawn: {err})")
        plt.close("all")
    print(f"best trial {best.number}: objective {best.value:.4f}, params {best.params}")
    print(f"wrote {out / 'best.yaml'}, trials.csv, history.png, importance.png")
    return out / "best.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n_trials", type=int, required=True, help="finished trials the study should hold")
    parser.add_argument("--storage", default="sqlite:///runs/tune.db", help="Optuna storage URL (SQLite: resumable)")
    parser.add_argument("--study", default="terse")
    parser.add_argument("--workers", type=int, default=1, help="processes running trials of the same study")
    parser.add_argument("--out", default=str(REPO / "runs" / "tune"))
    parser.add_argument("--seed", type=int, default=0, help="the TPE sampler's seed")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # a child of --workers
    parser.add_argument("--worker_index", type=int, default=0, help=argparse.SUPPRESS)
    args, run_args = parser.parse_known_args(argv)
    try:
        import optuna  # noqa: F401
    except ImportError:
        print("launch/tune.py needs Optuna: pip install -e '.[tune]'", file=sys.stderr)
        return 2
    if args.n_trials < 1:
        parser.error("--n_trials must be >= 1")
    if args.storage.startswith("sqlite:///"):
        Path(args.storage[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    study_for(args)  # create it once, before workers race to
    if args.workers > 1 and not args.worker:
        threads = str(max(1, (os.cpu_count() or 1) // args.workers))
        child = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]), "--worker"]
        procs = [subprocess.Popen([*child, "--worker_index", str(i), "--torch_threads", threads])
                 for i in range(args.workers)]
        codes = [p.wait() for p in procs]
        if any(codes):
            print(f"a worker failed (exit codes {codes})", file=sys.stderr)
            return 1
    else:
        optimize(args, run_args)
    if not args.worker:
        write_results(args, run_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
