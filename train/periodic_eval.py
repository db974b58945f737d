"""Evaluation during training: greedy val every `eval_every` steps, logged, with checkpoint selection and early
stopping by the rule of train/selection.py."""

from __future__ import annotations

import os
from dataclasses import dataclass

from train.callback import Callback
from train.generation import evaluate
from train.selection import SelectionRule, adaptive_patience, select, settled, settled_adaptive


def flat_metrics(result: dict, prefix: str = "eval") -> dict[str, float]:
    """W&B/trainer-log friendly scalars: eval/em, eval/mean_tokens, eval/d3/em, ..."""
    out = {f"{prefix}/{k}": v for k, v in result.items() if isinstance(v, (int, float)) and k != "n"}
    for level, sub in result.get("by_difficulty", {}).items():
        out[f"{prefix}/d{level}/em"] = sub["em"]
        out[f"{prefix}/d{level}/mean_tokens"] = sub["mean_tokens"]
    return out


class ValEvaluation:
    """Greedy val evaluation of a model, computed once per step: the periodic evaluation and a budget-schedule
    stage end that fall on the same step share one result (the model has not changed between them). Built once
    per run and handed to both; Terse's state stays here, not on TRL's trainer."""

    def __init__(self, tokenizer, rows: list[dict], max_new_tokens: int):
        self.tokenizer, self.rows, self.max_new_tokens = tokenizer, rows, max_new_tokens
        self._memo: tuple[int, dict] | None = None

    def at(self, model, step: int, desc: str = "val eval") -> dict:
        if self._memo is not None and self._memo[0] == step:
            return self._memo[1]
        result = evaluate(model, self.tokenizer, self.rows, self.max_new_tokens, desc=desc)
        self._memo = (step, result)
        return result


@dataclass(frozen=True)
class EarlyStopping:
    """When the periodic evaluation stops a run: after `patience` settled evaluations (0: never), the patience
    adapted to the run up to `max_patience` when `adaptive` (train/selection.py)."""

    patience: int = 0
    adaptive: bool = False
    max_patience: int = 0

    @classmethod
    def from_args(cls, script_args) -> EarlyStopping:
        return cls(script_args.early_stopping_patience, script_args.early_stopping_adaptive,
                   script_args.early_stopping_max_patience)


class PeriodicEval(Callback):
    """A TrainerCallback (duck-typed, added with `trainer.add_callback`) that evaluates greedily on val every
    `every` optimizer steps, logs EM and tokens overall and per difficulty level, and — given a selection
    rule — asks for a checkpoint whenever an evaluation is the best so far (protected from rotation as the
    trainer's best checkpoint) and stops training once λ and the val metrics have settled for `patience`
    evaluations (`train/selection.py`)."""

    def __init__(self, trainer, val: ValEvaluation, every: int, rule: SelectionRule | None = None,
                 stopping: EarlyStopping = EarlyStopping()):
        self.trainer, self.val, self.every, self.rule = trainer, val, every, rule
        self.patience, self.adaptive, self.max_patience = stopping.patience, stopping.adaptive, stopping.max_patience
        self.records: list[dict] = []  # {step, em, mean_tokens, lambda}, one per evaluation
        self.stopped_early_at: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        """On resume, the evaluations before the checkpoint come back from the trainer's log history."""
        self.records = [
            {"step": h["step"], "em": h["eval/em"], "mean_tokens": h["eval/mean_tokens"], "lambda": h.get("eval/lambda", 0.0)}
            for h in state.log_history if "eval/em" in h
        ]

    def on_step_end(self, args, state, control, **kwargs):
        if self.every <= 0 or state.global_step % self.every or state.global_step == state.max_steps:
            return
        result = self.val.at(self.trainer.model, state.global_step)
        record = {"step": state.global_step, "em": result["em"], "mean_tokens": result["mean_tokens"],
                  "lambda": float(self.trainer.controller.lam)}
        self.records.append(record)
        metrics = {**flat_metrics(result), "eval/lambda": record["lambda"]}
        if self.rule is not None:
            metrics["eval/feasible"] = float(self.rule.feasible(record))
            if select(self.records, self.rule) is record:  # the best so far: keep this checkpoint
                control.should_save = True
                state.best_global_step = state.global_step
                state.best_metric = record["em"] if self.rule.mode != "em_floor" else -record["mean_tokens"]
                state.best_model_checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if self.adaptive:
            metrics["eval/patience"] = float(adaptive_patience(self.records, self.patience, self.max_patience)[0])
        self.trainer.log(metrics)
        if (settled_adaptive(self.records, self.patience, self.max_patience) if self.adaptive
                else settled(self.records, self.patience)):
            self.stopped_early_at = state.global_step
            control.should_training_stop = True
            control.should_save = True
