"""Checkpoint selection and early stopping from the periodic val evaluations.

Why: the last step of an RL run is not necessarily its best. The checkpoint worth shipping is the one that
satisfies the constraint best: the highest EM within the token budget (budget mode), the fewest tokens
at or above the EM floor (em_floor mode), the highest EM when there is no constraint. And a run whose λ
and val metrics have stopped moving is spending compute for nothing: it can stop.

Pure functions over a list of evaluation records {step, em, mean_tokens, lambda}; the trainer glue lives
in `train/periodic_eval.py` (`PeriodicEval`).
"""

from __future__ import annotations

from dataclasses import dataclass

# "Within the budget" everywhere (checkpoint selection, the contest tables, the tuner's objective): mean
# tokens ≤ T·(1 + this). One number, so a run the contest counts as on budget is one selection could ship.
BUDGET_TOLERANCE = 0.05


@dataclass(frozen=True)
class SelectionRule:
    mode: str  # "budget" | "em_floor" | "none"
    target: float  # T (tokens) or F (EM); unused for "none"
    tolerance: float = BUDGET_TOLERANCE  # budget mode: mean tokens may exceed T by this fraction

    def feasible(self, record: dict) -> bool:
        """Budget mode allows a little slack over T; the EM floor has none: F is already the tolerated
        loss below the base model (base − em_tolerance), and a slack in EM units bought tokens with
        accuracy (arith: a checkpoint at EM 0.953 and 30.1 tokens won over one at 1.000 and 31.0, F = 0.98)."""
        if self.mode == "budget":
            return record["mean_tokens"] <= self.target * (1 + self.tolerance)
        if self.mode == "em_floor":
            return record["em"] >= self.target
        return True

    def key(self, record: dict) -> tuple:
        """Larger is better. Infeasible records rank below every feasible one, by how far off they are."""
        if not self.feasible(record):
            miss = (record["mean_tokens"] / self.target - 1) if self.mode == "budget" else (self.target - record["em"])
            return (0, -miss, 0.0, -record["step"])
        if self.mode == "em_floor":
            return (1, -record["mean_tokens"], record["em"], -record["step"])
        return (1, record["em"], -record["mean_tokens"], -record["step"])  # ties: fewer tokens, earlier


def select(records: list[dict], rule: SelectionRule) -> dict | None:
    """The evaluation record of the checkpoint to keep (None when there is none)."""
    return max(records, key=rule.key) if records else None


def settled(records: list[dict], patience: int, em_tol: float = 0.01, tokens_tol: float = 0.03,
            lambda_tol: float = 0.02) -> bool:
    """True when, over the last `patience` evaluations after the first, no evaluation moved EM by more than
    `em_tol`, mean tokens by more than `tokens_tol` (relative) or λ by more than `lambda_tol` from the one
    before it: the controller has found its operating point and training stopped changing the model."""
    if patience <= 0 or len(records) < patience + 1:
        return False
    window = records[-(patience + 1):]
    return all(_quiet(before, after, em_tol, tokens_tol, lambda_tol) for before, after in zip(window, window[1:]))


def _quiet(before: dict, after: dict, em_tol: float, tokens_tol: float, lambda_tol: float) -> bool:
    """One evaluation to the next moved nothing: EM, mean tokens (relative) and λ each within tolerance."""
    return (abs(after["em"] - before["em"]) <= em_tol
            and abs(after["mean_tokens"] / max(before["mean_tokens"], 1e-9) - 1) <= tokens_tol
            and abs(after.get("lambda", 0.0) - before.get("lambda", 0.0)) <= lambda_tol)


def adaptive_patience(records: list[dict], patience: int, max_patience: int = 0, em_tol: float = 0.01,
                      tokens_tol: float = 0.03, lambda_tol: float = 0.02) -> tuple[int, int]:
    """(patience now, quiet evaluations in a row) for early stopping whose patience follows the run.

    Why: a fixed patience waits as long after a run that stopped changing at once as after one that is
    still shortening its answers between pauses. Here patience starts at `patience` and grows by one for
    every evaluation at flat EM (|ΔEM| ≤ em_tol) whose mean tokens fell by more than `tokens_tol` — the run
    is still buying length for free, and its next pause may be temporary — up to `max_patience` (default
    2 × patience). Once EM, tokens and λ are all flat it shrinks by one for every quiet evaluation after
    the first, down to 1: with both settled there is nothing left to wait for. Training stops when the
    quiet run reaches the patience (`settled_adaptive`); with no growth that is after ⌈(patience + 1) / 2⌉
    quiet evaluations instead of `patience`.

    >>> flat = [{"em": 0.9, "mean_tokens": 20.0, "lambda": 0.1}] * 4
    >>> adaptive_patience(flat, 3)
    (1, 3)
    >>> shortening = [{"em": 0.9, "mean_tokens": t, "lambda": 0.1} for t in (40.0, 30.0, 24.0, 24.0)]
    >>> adaptive_patience(shortening, 3)
    (5, 1)
    """
    if patience <= 0:
        return 0, 0
    cap = max_patience or 2 * patience
    grown, quiet = patience, 0
    for before, after in zip(records, records[1:]):
        falling = after["mean_tokens"] / max(before["mean_tokens"], 1e-9) - 1 < -tokens_tol
        if abs(after["em"] - before["em"]) <= em_tol and falling:
            grown = min(cap, grown + 1)
        quiet = quiet + 1 if _quiet(before, after, em_tol, tokens_tol, lambda_tol) else 0
    return max(1, grown - max(0, quiet - 1)), quiet


def settled_adaptive(records: list[dict], patience: int, max_patience: int = 0, **tolerances) -> bool:
    """True when the quiet evaluations in a row have reached the adaptive patience (`adaptive_patience`)."""
    if patience <= 0:
        return False
    now, quiet = adaptive_patience(records, patience, max_patience, **tolerances)
    return quiet >= now
