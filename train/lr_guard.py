"""Performance-aware learning rate: slow the policy down while its val accuracy is falling, and only then.

Why: in a length run the penalty keeps pushing; when a step of the policy buys tokens with accuracy, the
next steps at full learning rate push further the same way before the controller has reacted (λ moves
on a smoothed batch signal, the policy on every step). Lowering the policy's learning rate as soon as the
periodic greedy val EM falls more than `tolerance` below its reference — the EM floor F in `em_floor` mode,
else the best val EM seen so far (the base model's included) — gives the controller time to catch up;
the rate is restored as soon as EM is back within the tolerance.

    scale ← max(min_scale, scale · factor)   if EM < reference − tolerance
    scale ← 1                                 otherwise

The scale multiplies the scheduler's base rates (`lr_scheduler.base_lrs`), so it composes with any
schedule and travels in the scheduler state of every checkpoint; the guard's own state (scale, best EM)
is saved next to it as `lr_guard.json` and read back on resume. Off by default (`lr_guard: false`):
measured on the benchmark task (docs/log.md), it did not beat the plain schedule.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from train.callback import Callback

LR_GUARD_FILE = "lr_guard.json"


def next_scale(em: float, reference: float, scale: float, factor: float, tolerance: float, min_scale: float) -> float:
    """The learning-rate multiplier after an evaluation (pure)."""
    if em < reference - tolerance:
        return max(min_scale, scale * factor)
    return 1.0


@dataclass(frozen=True)
class LRGuardSettings:
    """How hard the guard cuts: × `factor` per evaluation more than `tolerance` below the reference, never below
    `min_scale`."""

    factor: float = 0.5
    tolerance: float = 0.02
    min_scale: float = 0.125

    def __post_init__(self):
        if not 0 < self.factor < 1:
            raise ValueError(f"lr_guard_factor must lie in (0, 1), got {self.factor}")

    @classmethod
    def from_args(cls, script_args) -> LRGuardSettings:
        return cls(factor=script_args.lr_guard_factor, tolerance=script_args.lr_guard_tolerance)


@dataclass
class LRGuardState:
    scale: float = 1.0
    best_em: float | None = None
    cuts: int = 0


class LRGuard(Callback):
    """A TrainerCallback (duck-typed) that applies `next_scale` after every periodic evaluation.

    It reads the evaluation that `PeriodicEval` appended to its records at this step (so it must be added
    after it), and sets `trainer.lr_scheduler.base_lrs` to the initial rates × scale."""

    def __init__(self, trainer, periodic, base_em: float, floor: float | None = None,
                 settings: LRGuardSettings = LRGuardSettings()):
        self.trainer, self.periodic, self.floor, self.settings = trainer, periodic, floor, settings
        self.state = LRGuardState(best_em=base_em)
        self._initial: list[float] | None = None
        self._seen = 0

    def _set_scale(self, scale: float) -> None:
        """Base rates = the initial ones × scale (the initial ones are read once, under the current scale)."""
        scheduler = getattr(self.trainer.lr_scheduler, "scheduler", self.trainer.lr_scheduler)  # accelerate wraps it
        if scheduler is not None:
            if self._initial is None:
                self._initial = [b / self.state.scale for b in scheduler.base_lrs]
            scheduler.base_lrs = [b * scale for b in self._initial]
        optimizer = getattr(self.trainer, "optimizer", None)
        if optimizer is not None and scale != self.state.scale:  # the very next step already uses the new rate
            for group in optimizer.param_groups:
                group["lr"] *= scale / self.state.scale
            if scheduler is not None:  # what the trainer logs as this step's rate
                scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.state.scale = scale

    def on_train_begin(self, args, state, control, **kwargs):
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}", LR_GUARD_FILE)
        if state.global_step and os.path.exists(path):  # resumed: the scheduler's base_lrs already carry the scale
            with open(path) as f:
                self.state = LRGuardState(**json.load(f))
        self._seen = len(self.periodic.records)

    def on_step_end(self, args, state, control, **kwargs):
        if len(self.periodic.records) == self._seen:
            return control
        self._seen = len(self.periodic.records)
        em = self.periodic.records[-1]["em"]
        reference = self.floor if self.floor is not None else self.state.best_em
        g = self.settings
        scale = next_scale(em, reference, self.state.scale, g.factor, g.tolerance, g.min_scale)
        if scale < self.state.scale:
            self.state.cuts += 1
        self._set_scale(scale)
        self.state.best_em = max(self.state.best_em if self.state.best_em is not None else em, em)
        self.trainer.log({"lr_guard/scale": scale, "lr_guard/reference_em": reference})
        return control

    def on_save(self, args, state, control, **kwargs):
        if args.should_save:
            from train.files import write_json_atomic

            folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            if os.path.isdir(folder):
                write_json_atomic(os.path.join(folder, LR_GUARD_FILE), asdict(self.state))
        return control
