"""Where an optimizer step's wall time goes (`--step_profile true`): generation, the reference and old-policy
log-probs, the policy's forward and loss, backward, the optimizer, the rewards, Terse's own bookkeeping.

Why a profile of our own rather than TRL's `profiling/Time taken` metrics: those time a handful of methods
that nest inside one another (`_prepare_inputs` contains generation, rewards and the reference pass), report
to W&B only, and never wait for the GPU, so on CUDA they time kernel launches rather than kernels. Here:
- parts are **exclusive**: a part that opens inside another pauses the outer one's clock, so the shares of
  a step add up to its wall time ("other" is what no part covers: the dataloader, gradient clipping,
  logging, the scheduler);
- each part boundary calls `sync` (`torch.cuda.synchronize` on a GPU), so a part is charged for the work it
  queued. The synchronisation itself removes some overlap: compare a profiled step with TRL's
  `train/step_time` of an unprofiled run before trusting small shares;
- the first `warmup` steps (compilation, allocator growth, cache filling) are kept apart from the mean.

Pure bookkeeping: the trainer (`train/trainer.py`) opens the parts and `make_callback` marks step
and optimizer boundaries, so this module imports neither TRL nor torch.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict

PROFILE_FILE = "step_profile.json"
# The parts in step order; `other` is the step's wall time that no part covers.
PARTS = ("generation", "old/ref log-probs", "batch prep", "rewards", "policy forward", "loss",
         "backward", "optimizer", "terse", "other")


class StepProfile:
    """Exclusive wall seconds per part of each optimizer step."""

    def __init__(self, sync=None, warmup: int = 1, clock=time.perf_counter):
        self.sync = sync or (lambda: None)
        self.warmup = warmup
        self.clock = clock
        self.steps: list[dict[str, float]] = []  # per finished step: part -> seconds, plus "step"
        self._stack: list[list] = []  # open parts: [name, started]
        self._current: dict[str, float] | None = None
        self._step_started: float | None = None

    # -- boundaries ----------------------------------------------------------------------------------------
    def step_begin(self) -> None:
        self.sync()
        self._current = defaultdict(float)
        self._stack = []
        self._step_started = self.clock()

    def step_end(self) -> None:
        if self._current is None:
            return
        self.sync()
        now = self.clock()
        while self._stack:  # a part left open (an exception inside it was handled upstream): close it here
            self._close(now)
        wall = now - self._step_started
        covered = sum(self._current.values())
        self.steps.append({**self._current, "other": max(0.0, wall - covered), "step": wall})
        self._current = None

    @contextlib.contextmanager
    def part(self, name: str):
        """Charge the time inside to `name`, pausing any part it opens within. Outside a step: no-op."""
        if self._current is None:
            yield
            return
        self.sync()
        now = self.clock()
        if self._stack:
            outer = self._stack[-1]
            self._current[outer[0]] += now - outer[1]
        self._stack.append([name, now])
        try:
            yield
        finally:
            if self._current is not None and self._stack:
                self.sync()
                now = self.clock()
                self._close(now)
                if self._stack:
                    self._stack[-1][1] = now  # the outer part's clock runs again

    def _close(self, now: float) -> None:
        name, started = self._stack.pop()
        self._current[name] += now - started

    # -- the report ----------------------------------------------------------------------------------------
    def summary(self) -> dict:
        """Mean seconds per step and share of the step for each part, over the steps after the warm-up
        (all steps when there are no more); the warm-up steps' own mean is kept beside it."""
        measured = self.steps[self.warmup:] or self.steps
        if not measured:
            return {"steps": 0, "parts": {}, "step_seconds": None}
        n = len(measured)
        step = sum(s["step"] for s in measured) / n
        parts = {}
        for name in ordered_parts({k for s in measured for k in s} - {"step"}):
            seconds = sum(s.get(name, 0.0) for s in measured) / n
            parts[name] = {"seconds": round(seconds, 5), "share": round(seconds / step, 4) if step else 0.0}
        warm = self.steps[:self.warmup] if len(self.steps) > self.warmup else []
        return {"steps": n, "warmup_steps": len(warm), "step_seconds": round(step, 5),
                "warmup_step_seconds": round(sum(s["step"] for s in warm) / len(warm), 5) if warm else None,
                "parts": parts}


def ordered_parts(names: set[str]) -> list[str]:
    """Part names in step order (`PARTS`), any others after them alphabetically."""
    return [p for p in PARTS if p in names] + sorted(names - set(PARTS))


def format_table(profiles: dict[str, dict], notes: dict[str, dict[str, str]] | None = None) -> str:
    """Markdown table, one column per profiled run (name → `StepProfile.summary()`): seconds per step and
    share per part, then the step time and its ratio to the first run's; `notes` adds rows after it (row
    name → run name → text), e.g. each run's mean completion length, without which step times of runs
    whose answers differ in length do not compare."""
    names = list(profiles)
    parts = ordered_parts({k for n in names for k in profiles[n]["parts"]})
    lines = ["| part | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for part in parts:
        cells = []
        for n in names:
            p = profiles[n]["parts"].get(part)
            cells.append("—" if p is None else f"{p['seconds']:.3f} s ({100 * p['share']:.1f}%)")
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    first = profiles[names[0]]["step_seconds"]
    lines.append("| **step** | " + " | ".join(
        f"**{profiles[n]['step_seconds']:.3f} s**" + (f" (speed-up {first / profiles[n]['step_seconds']:.2f}×)"
                                                     if i and first and profiles[n]["step_seconds"] else "")
        for i, n in enumerate(names)) + " |")
    for row, cells in (notes or {}).items():
        lines.append(f"| {row} | " + " | ".join(cells.get(n, "—") for n in names) + " |")
    return "\n".join(lines) + "\n"


def make_callback(profile: StepProfile):
    """A TrainerCallback that opens a step at `on_step_begin`, charges `optimizer.step()` to "optimizer"
    and closes the step at `on_step_end` (after the scheduler, before logging and saving)."""
    from transformers import TrainerCallback

    class _Callback(TrainerCallback):
        def __init__(self):
            self._optimizer = None

        def on_step_begin(self, args, state, control, **kwargs):
            profile.step_begin()

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            self._optimizer = profile.part("optimizer")
            self._optimizer.__enter__()

        def on_optimizer_step(self, args, state, control, **kwargs):
            if self._optimizer is not None:
                self._optimizer.__exit__(None, None, None)
                self._optimizer = None

        def on_step_end(self, args, state, control, **kwargs):
            profile.step_end()

    return _Callback()
