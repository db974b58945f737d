"""The dynamic token budget: one run walks down the accuracy–length front, stage by stage.

Why: users rarely know their token budget in advance; they want to see what each budget costs in
accuracy and pick. Every published length method needs one full training run per point of that front.
Terse's controller tracks a moving target, so one run can lower the target T stage by stage: each stage
starts from the previous stage's policy, which is already near the next budget, so a stage needs far fewer
steps than a run from the base model. At every stage end the run evaluates on val, saves a complete
checkpoint (adapter, controller, budget model) and appends a point to `output_dir/frontier.json`; any
point can be exported later (`python -m train.export RUN --step N` or `--budget T`).

Two forms of `budget_schedule` (ratios of the base model's mean val tokens):
- a list, `0.8,0.6,0.45,0.35`: one stage per ratio, strictly decreasing, equal steps unless
  `budget_stage_steps` is given; the last stage's point is shipped;
- `auto`: start at `start`, multiply the ratio by `factor` after every stage that *held* — val EM at or
  above the floor F (`em_floor`, or base EM − `em_tolerance`) and mean tokens within `SLACK` × its target
  T — stop at the first stage that did not, and ship the last stage that held ("start with a higher token
  limit and reduce it as long as EM does not degrade"). At most `max_stages` stages. Why the token test
  too: a policy that cannot get shorter keeps its EM at every lower target (arith: 21 tokens at T = 15 and
  at T = 11, EM 1.000), and without it auto would walk on through budgets it never reaches and ship one.

Stage lengths: `stage_steps` is one number for every stage, or a list (`60,40,40,40`: a longer first stage,
which starts from the base model; the last number repeats for `auto`'s later stages).

This module is the schedule's logic alone (pure, no torch): which ratio a step trains at, where stages
end, what to do after a stage's evaluation, what to ship, and how to resume from `frontier.json`. The
trainer callback that applies it (`StageCallback`) sits at the bottom and imports the heavy parts lazily.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field

from train.callback import Callback

logger = logging.getLogger(__name__)

FRONTIER_FILE = "frontier.json"
SLACK = 1.1  # auto: a stage reached its budget when its mean tokens are within 1.1 × its target
FRONT_DIR = "front"  # output_dir/front/step-N: each stage end's checkpoint, kept whatever save_total_limit says


def parse_schedule(spec) -> list[float] | None:
    """`"0.8,0.6"` or `[0.8, 0.6]` → ratios (validated); `"auto"` → None. Raises ValueError naming the fault."""
    if isinstance(spec, str) and spec.strip().lower() == "auto":
        return None
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    try:
        ratios = [float(x) for x in items if str(x).strip()]
    except (TypeError, ValueError):
        raise ValueError(f"budget_schedule must be 'auto' or comma-separated ratios like 0.8,0.6,0.45, got {spec!r}")
    if len(ratios) < 2:
        raise ValueError(f"budget_schedule needs at least 2 stages (a single budget is budget_ratio), got {spec!r}")
    if any(not 0 < r <= 1 for r in ratios):
        raise ValueError(f"budget_schedule ratios must lie in (0, 1], got {ratios}")
    if any(b >= a for a, b in zip(ratios, ratios[1:])):
        raise ValueError(f"budget_schedule ratios must strictly decrease (the run walks down the front), got {ratios}")
    return ratios


@dataclass
class BudgetSchedule:
    """Stages of a scheduled run. `ratios` None means `auto`. `points` are the finished stages' records."""

    ratios: list[float] | None
    stage_steps: int | list[int]
    floor: float | None = None  # auto: the EM a stage must keep to continue
    start: float = 0.6
    factor: float = 0.75
    max_stages: int = 6
    points: list[dict] = field(default_factory=list)
    stopped: bool = False

    def __post_init__(self):
        steps = [self.stage_steps] if isinstance(self.stage_steps, int) else list(self.stage_steps)
        if not steps or any(n < 1 for n in steps):
            raise ValueError(f"budget_stage_steps must be >= 1 each, got {self.stage_steps}")
        if self.ratios is not None and len(steps) not in (1, len(self.ratios)):
            raise ValueError(f"budget_stage_steps lists {len(steps)} stages, the budget_schedule {len(self.ratios)}")
        self.stage_steps = steps
        if self.ratios is None:
            if self.floor is None:
                raise ValueError("budget_schedule auto needs an EM floor (em_floor or em_tolerance)")
            if not 0 < self.start <= 1 or not 0 < self.factor < 1 or self.max_stages < 2:
                raise ValueError(f"budget_schedule auto needs 0 < start <= 1, 0 < factor < 1 and max_stages >= 2; got "
                                 f"start {self.start}, factor {self.factor}, max_stages {self.max_stages}")

    @classmethod
    def plan(cls, spec, max_steps: int, stage_steps: int | str | list | None = None, **auto) -> BudgetSchedule:
        """A schedule from the recipe: stage lengths `stage_steps` (a number, or `60,40,40`), or `max_steps`
        shared equally by the stages."""
        ratios = parse_schedule(spec)
        stages = len(ratios) if ratios is not None else auto.get("max_stages", 6)
        if isinstance(stage_steps, str):
            try:
                stage_steps = [int(x) for x in stage_steps.split(",") if x.strip()]
            except ValueError:
                raise ValueError(f"budget_stage_steps must be a number or numbers like 60,40,40, got {stage_steps!r}")
        if stage_steps is None:
            stage_steps = max_steps // stages
            if stage_steps < 1:
                raise ValueError(f"max_steps {max_steps} is too few for {stages} stages of the budget_schedule")
        return cls(ratios, stage_steps, **auto)

    # -- where the run is -----------------------------------------------------------------------------
    @property
    def stages(self) -> int:
        return len(self.ratios) if self.ratios is not None else self.max_stages

    def steps_of(self, index: int) -> int:
        return self.stage_steps[min(index, len(self.stage_steps) - 1)]

    @property
    def total_steps(self) -> int:
        return sum(self.steps_of(i) for i in range(self.stages))

    @property
    def index(self) -> int:
        """The stage being trained (0-based): the number of stages finished."""
        return len(self.points)

    def ratio(self, index: int | None = None) -> float:
        i = self.index if index is None else index
        if self.ratios is not None:
            return self.ratios[min(i, len(self.ratios) - 1)]
        return self.start * self.factor**i

    def stage_end(self) -> int:
        """The global step at which the current stage ends."""
        return sum(self.steps_of(i) for i in range(self.index + 1))

    def is_stage_end(self, step: int) -> bool:
        return not self.stopped and step == self.stage_end()

    # -- after a stage's evaluation --------------------------------------------------------------------
    def finish_stage(self, point: dict) -> bool:
        """Record the finished stage's point (step, target, em, mean_tokens, …); True if training goes on.

        auto: the point is marked `held` when its EM is at or above the floor and its mean tokens within
        `SLACK` × its target; the first stage that did not hold ends the run (the shipped point is then the
        last one that held)."""
        point = {"stage": self.index, "ratio": round(self.ratio(), 6), **point}
        if self.ratios is None:
            point["held"] = bool(point["em"] >= self.floor and point["mean_tokens"] <= SLACK * point["target"])
        self.points.append(point)
        if (self.ratios is None and not point["held"]) or self.index >= self.stages:
            self.stopped = True
        return not self.stopped

    def shipped(self) -> dict | None:
        """The point to ship: the last stage (list), the last stage that held (auto; None if none held)."""
        if self.ratios is not None:
            return self.points[-1] if self.points else None
        held = [p for p in self.points if p.get("held")]
        return held[-1] if held else None

    # -- resume ---------------------------------------------------------------------------------------
    def resume(self, points: list[dict], step: int) -> None:
        """Continue from a checkpoint at global `step`: keep the points recorded up to it."""
        self.points = [p for p in points if p["step"] <= step]
        self.stopped = False
        if self.points and (self.index >= self.stages or (self.ratios is None and not self.points[-1].get("held"))):
            self.stopped = True


def best_within(points: list[dict], budget: float) -> dict:
    """The point with the most EM at mean tokens ≤ `budget` (fewer tokens break ties)."""
    inside = [p for p in points if p["mean_tokens"] <= budget]
    if not inside:
        have = ", ".join(f"{p['mean_tokens']:.1f}" for p in points) or "none"
        raise ValueError(f"no front point has mean tokens <= {budget} (the points have {have})")
    return max(inside, key=lambda p: (p["em"], -p["mean_tokens"]))


def read_frontier(output_dir) -> list[dict]:
    path = os.path.join(output_dir, FRONTIER_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)["points"]


class StageCallback(Callback):
    """Applies a `BudgetSchedule` inside a (TRL) trainer: a `transformers.TrainerCallback` by duck typing.

    At a stage end (on_step_end): evaluate greedy on val, record the point, ask for a checkpoint, move the
    controller to the next stage's target (or stop training). On the checkpoint (on_save): copy it to
    `front/step-N` so that checkpoint rotation never deletes a front point, and write `frontier.json`.
    On a resumed run (on_train_begin): read `frontier.json` back and continue the schedule from there."""

    def __init__(self, trainer, schedule: BudgetSchedule, base_tokens: float, val):
        self.trainer, self.schedule, self.base_tokens = trainer, schedule, base_tokens
        self.val = val  # train.periodic_eval.ValEvaluation, shared with the periodic evaluation
        self._pending: dict | None = None  # the stage point waiting for its checkpoint

    def target(self) -> float:
        return self.schedule.ratio() * self.base_tokens

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step:
            self.schedule.resume(read_frontier(args.output_dir), state.global_step)
            logger.info("budget schedule resumed at step %d: stage %d, target %.1f", state.global_step,
                        self.schedule.index, self.target())
        self.trainer.retarget(self.target())

    def on_step_end(self, args, state, control, **kwargs):
        if not self.schedule.is_stage_end(state.global_step):
            return control
        from train.periodic_eval import flat_metrics

        target = self.target()
        result = self.val.at(self.trainer.model, state.global_step, desc=f"stage {self.schedule.index} eval")
        point = {"step": state.global_step, "target": round(target, 3), "em": result["em"],
                 "mean_tokens": result["mean_tokens"], "lambda": self.trainer.controller.lam,
                 "checkpoint": f"{FRONT_DIR}/step-{state.global_step}",
                 "by_difficulty": result.get("by_difficulty")}
        going_on = self.schedule.finish_stage(point)
        self._pending = {**self.schedule.points[-1], "completions": result["completions"]}
        self.trainer.log({f"stage/{k}": v for k, v in flat_metrics(result, "eval").items()} | {"stage/target": target})
        control.should_save = True
        if going_on:
            self.trainer.retarget(self.target())
            logger.info("stage %d done (EM %.3f, %.1f tokens); next target %.1f", self.schedule.index - 1,
                        result["em"], result["mean_tokens"], self.target())
        else:
            control.should_training_stop = True
            logger.info("budget schedule finished after stage %d", self.schedule.index - 1)
        return control

    def on_save(self, args, state, control, **kwargs):
        pending, self._pending = self._pending, None
        if pending is None or not args.should_save:
            return control
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        from train.files import write_json_atomic

        source = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")
        dest = os.path.join(args.output_dir, pending["checkpoint"])
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("optimizer.pt", "scheduler.pt", "rng_state*"))
        write_json_atomic(os.path.join(dest, "val_completions.json"), pending["completions"])
        write_json_atomic(os.path.join(args.output_dir, FRONTIER_FILE), frontier_document(self.schedule))
        return control


def frontier_document(schedule: BudgetSchedule) -> dict:
    shipped = schedule.shipped()
    return {"schedule": schedule.ratios if schedule.ratios is not None else "auto",
            "stage_steps": schedule.stage_steps, "floor": schedule.floor, "points": schedule.points,
            "shipped_step": shipped["step"] if shipped else None}


def plot_frontier(points: list[dict], path, title: str = "") -> None:
    """frontier.png: val EM against mean tokens, one point per stage, labelled with its target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    xs, ys = [p["mean_tokens"] for p in points], [p["em"] for p in points]
    ax.plot(xs, ys, "o-", color="tab:blue")
    for p in points:
        ax.annotate(f"T={p['target']:.0f}", (p["mean_tokens"], p["em"]), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
    ax.set_xlabel("mean completion tokens (val, greedy)")
    ax.set_ylabel("val EM")
    ax.set_title(title or "accuracy–length front of one scheduled run", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
