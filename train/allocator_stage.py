"""The allocator stage of a budget-conditioned run (`--budget_conditioned true`): the trained policy answers
calibration prompts at every grid budget, the allocator's feature is chosen, the allocator fitted and solved
for T, and val served through it (the run's `final`)."""

from __future__ import annotations

import json
import logging

from train.outputs import strip

logger = logging.getLogger("terse")


def fit_allocator(ctx, model, untagged):
    """The allocator of a budget-conditioned policy: the trained policy answers `allocator_fit_rows` train
    prompts that neither the warm start nor RL saw (the task's calibration rows) at every budget of the grid, the allocator is fitted on those answers and solved for T
    (budget_ratio × the base model's tokens), and val is evaluated as served through it. Returns that
    evaluation (the run's `final`: what the policy costs and scores when deployed) and the allocator."""
    import random

    from train.allocator import Allocator
    from train.served_eval import budget_records, evaluate_allocated
    from train.files import write_json_atomic

    script_args, training_args, task, tokenizer = ctx.script_args, ctx.training_args, ctx.task, ctx.tokenizer
    grid = sorted({int(b) for b in script_args.allocator_grid.split(",")}) if script_args.allocator_grid \
        else [b for b in task.budget_grid() if b <= training_args.max_completion_length]
    rows = task.calibration_rows(ctx.train_rows)
    rows = random.Random(training_args.seed).sample(rows, min(len(rows), script_args.allocator_fit_rows))
    target = ctx.targets.tokens.tokens
    records = budget_records(model, tokenizer, rows, grid, task.budget_prompt, ctx.max_new)
    ctx.out.mkdir(parents=True, exist_ok=True)  # the fit's data: a re-fit needs no model
    write_json_atomic(str(ctx.out / "allocator_records.json"), records)
    feature_of, features = choose_allocator_feature(script_args, records, rows, grid)
    allocator = Allocator.fit(records, grid, target, cv_folds=script_args.allocator_cv_folds, feature_of=feature_of,
                              **task.budget_tag())
    served = evaluate_allocated(model, tokenizer, ctx.val_rows, allocator, ctx.max_new)
    served["untagged"] = strip(untagged)
    served["allocator"] = {"target": target, "mu": served["plan"]["mu"], "grid": grid, "fit_rows": len(rows),
                           "predicted": served["plan"], "predicted_fitted_mix": allocator.predicted(), "feature": allocator.feature["kind"], "features": features}
    logger.info("served through the allocator at T=%.1f: val EM %.3f, %.1f tokens, adherence %.3f (untagged: EM "
                "%.3f, %.1f tokens)", target, served["em"], served["mean_tokens"], served["adherence"],
                untagged["em"], untagged["mean_tokens"])
    return served, allocator


def choose_allocator_feature(script_args, records: list[dict], rows: list[dict], grid: list[int]):
    """The feature family the allocator groups prompts by (`train/allocator_features.py`): the one named, or
    with `allocator_feature auto` and `allocator_cv_folds` >= 2 the one with the lowest held-out Brier score
    (auto without folds: prompt length). Returns (the fitted feature, the cross-validation report or None)."""
    from train.allocator_fit import cross_validate_features
    from train.allocator_features import fit_feature

    column = script_args.allocator_feature_column
    if column:  # the records carry the column the feature reads (serving passes each request's row)
        by_prompt = {json.dumps(r["prompt"], sort_keys=True): r for r in rows}
        missing = [r for r in rows if column not in r]
        if missing:
            raise ValueError(f"allocator_feature_column {column!r}: not a column of the data (row: {sorted(missing[0])})")
        for rec in records:
            rec["columns"] = {column: by_prompt[json.dumps(rec["prompt"], sort_keys=True)][column]}
    kind, report = script_args.allocator_feature, None
    if kind == "auto":
        if script_args.allocator_cv_folds < 2:
            kind = "length"
        else:
            families = ("length", "column", "text") if column else ("length", "text")
            report = cross_validate_features(records, grid, families, column, folds=script_args.allocator_cv_folds)
            kind = report["best"]
            logger.info("allocator feature: %s (held-out Brier / AUC: %s)", kind, {
                k: (round(v["brier"], 4), v["auc"] and round(v["auc"], 3)) if "brier" in v else v["skipped"]
                for k, v in report["families"].items()})
    return fit_feature(kind, records, grid, column), report
