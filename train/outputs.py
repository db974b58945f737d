"""The run's outputs: the adapter (with its budget model or allocator), the serving export, summary.json, the
per-example val results, the front of a scheduled run, the W&B summary, and the summary printed at the end."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass


@dataclass
class Outcome:
    """What a run produced, for its outputs: the training's timing (`train`), the final val evaluation (served
    through the allocator when there is one), which weights ship and why (`selected`), the learned budgets and
    the allocator (None when the run has none)."""

    run: dict
    final: dict
    selected: dict
    budget_model: object | None = None
    allocator: object | None = None


def build_summary(ctx, trainer, outcome: Outcome) -> dict:
    """summary.json's content: the base model's figures, the final ones, the constraint, λ, the run's costs and
    the settings that let `train.evaluate RUN` read the same data."""
    from train.tracking import wandb_dir

    script_args, training_args, schedule, targets = ctx.script_args, ctx.training_args, ctx.schedule, ctx.targets
    run, selected = outcome.run, outcome.selected
    steps_run = max(1, run["steps_run"])
    base = strip(ctx.base) | ({"sampled_em": targets.sampled_em} if targets.sampled_em is not None else {})
    summary = {
        "base": base,
        "final": strip(outcome.final),
        "oracle_mean_tokens": base.get("oracle_mean_tokens"),
        "constraint": {"mode": script_args.constraint, "target": selected.get("target") or (
                           targets.tokens.tokens if schedule else targets.constraint),
                       "controller_target": targets.controller},
        "lambda": trainer.controller.lam,
        "conditioning": ctx.conditioning and {**ctx.conditioning, "adherence_target": script_args.adherence_target,
                                              "overshoot_price": script_args.overshoot_price,
                                              "template": script_args.budget_prompt_template},
        "steps": trainer.state.global_step,
        "selected_step": selected["step"],
        "stopped_early_at": selected["stopped_early_at"],
        "evaluations": selected["evaluations"],
        "train_seconds": round(run["seconds"], 1),
        "seconds_per_step": round(run["seconds"] / steps_run, 3),
        "train_mean_completion_tokens": run["train_tokens"],
        "terse_overhead_seconds_per_step": round(trainer.overhead_seconds / steps_run, 4),
        "wall_seconds": round(time.time() - ctx.started, 1),
        "algorithm": script_args.algorithm,
        "task": script_args.task,
        "seed": training_args.seed,
        "data_path": script_args.data_path,
        "val_size": script_args.val_size,
        "dataset_name": script_args.dataset_name,
        "answer_check": script_args.answer_check,
        "data_spec": data_spec(script_args),
        "max_completion_length": training_args.max_completion_length,
        "base_model": ctx.model_path,
        "wandb_dir": wandb_dir(),
        "adapter": str(ctx.out / "adapter"),
    }
    if trainer.profile is not None:
        summary["step_profile"] = {"device": str(trainer.accelerator.device), **trainer.profile.summary()}
    if schedule is not None:
        summary["frontier"] = [{k: v for k, v in p.items() if k != "by_difficulty"} for p in schedule.points]
    return summary


def write_outputs(ctx, trainer, outcome: Outcome) -> dict:
    """Adapter, serving export, summary.json, per-example results, the front (if scheduled), W&B summary."""
    from peft import PeftModel

    from train.export import ExportOptions, export_model
    from train.files import write_json_atomic
    from train.schedule import plot_frontier
    from train.step_profile import PROFILE_FILE
    from train.tracking import finish_wandb

    summary = build_summary(ctx, trainer, outcome)
    out, model, tokenizer, final, schedule = ctx.out, trainer.model, ctx.tokenizer, outcome.final, ctx.schedule
    if ctx.state.is_main_process:
        if isinstance(model, PeftModel):
            model.save_pretrained(out / "adapter", save_embedding_layers=False)
            tokenizer.save_pretrained(out / "adapter")
            for extra in (outcome.budget_model, outcome.allocator):  # served beside the adapter
                if extra is not None:
                    extra.save(out / "adapter")
            # the serving export, from the model in memory (nothing reread): checked, atomic, with its model card
            summary["export"] = str(export_model(model, tokenizer, dict(summary), out / "adapter", out / "export",
                                                 ExportOptions(overwrite=True)))
        write_json_atomic(str(out / "summary.json"), summary)
        if "step_profile" in summary:
            write_json_atomic(str(out / PROFILE_FILE), summary["step_profile"])
        if schedule is not None and schedule.points:
            plot_frontier(schedule.points, out / "frontier.png", f"{ctx.script_args.task}: one scheduled run")
        (out / "val_completions.json").write_text(json.dumps(final["completions"], indent=1))  # every val row, in order
        # Per val prompt, for paired comparisons of two runs (launch/compare.py, train/ab_test.py).
        write_json_atomic(str(out / "val_per_example.json"), {
            "prompts": [r["prompt"] for r in ctx.val_rows], "difficulty": [r.get("difficulty") for r in ctx.val_rows],
            **final["per_example"]})
        finish_wandb(summary)
        print_summary(summary)
    return summary


def data_spec(script_args) -> dict | None:
    """Your data's spec as the summary records it (so `train.evaluate RUN` reads the same rows), or None."""
    if not script_args.dataset_name:
        return None
    from train.tasks.dataset import DataSpec

    return asdict(DataSpec.from_args(script_args))


def strip(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("completions", "per_example")}


def print_summary(s: dict) -> None:
    b, f = s["base"], s["final"]
    lines = [
        "",
        "=== Terse run summary ===",
        f"val EM       {b['em']:.3f} -> {f['em']:.3f}",
        f"mean tokens  {b['mean_tokens']:.1f} -> {f['mean_tokens']:.1f}"
        + (f"   (oracle {s['oracle_mean_tokens']:.1f})" if s.get("oracle_mean_tokens") else ""),
        f"constraint   {s['constraint']['mode']}, target {s['constraint']['target']:.1f}; final lambda {s['lambda']:.4f}",
    ]
    if "allocator" in f:  # a budget-conditioned run: `final` is val as served through its allocator
        a = f["allocator"]
        lines[-1] = (f"served       through the allocator at T = {a['target']:.1f} (μ {a['mu']:.4f}): adherence "
                     f"{f['adherence']:.3f}; untagged answers EM {f['untagged']['em']:.3f}, "
                     f"{f['untagged']['mean_tokens']:.1f} tokens")
    lines += [
        f"steps        {s['steps']} in {s['wall_seconds']:.0f} s",
        f"adapter      {s['adapter']}" + (f"  (serving export: {s['export']})" if s.get("export") else ""),
    ]
    if s.get("step_profile", {}).get("parts"):
        p = s["step_profile"]
        shares = ", ".join(f"{k} {100 * v['share']:.0f}%" for k, v in p["parts"].items() if v["share"] >= 0.005)
        lines.append(f"step profile {p['step_seconds']:.3f} s/step on {p['device']} ({p['steps']} steps): {shares}")
    if s.get("wandb_dir"):
        lines.append(f"W&B run      {s['wandb_dir']}  (offline? upload with: wandb sync {s['wandb_dir']})")
    print("\n".join(lines), flush=True)
