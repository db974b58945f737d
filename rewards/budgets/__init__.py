"""Learned per-prompt token budgets: the budget models, the allocation rules they share, and a factory.

- `model.py`: `BudgetModel`, a ridge regression on a prompt's hashed n-grams that predicts the length it
  needs; budgets are shares of the target T (proportional allocation).
- `frontier.py`: `FrontierBudgetModel`, the same features with accuracy-per-length curves, allocated by
  a token price, a knapsack over prompt-size groups or its monotone variant.
- `allocation.py`: the pure allocation rules and the references computed from reliability curves
  (allocation frontier, best uniform cap, monotone and one-mode-per-difficulty choices).

Why a factory: callers (the run, the trainer's resume, export, the benchmark scripts) name a kind of
allocation or a saved folder, never a class, so no base class has to import its subclass to load it.

>>> model = make_budget_model("monotone", fallback=30.0)
>>> type(model).__name__, model.frontier.monotone
('FrontierBudgetModel', True)
>>> type(make_budget_model("proportional", fallback=30.0)).__name__
'BudgetModel'
"""

from __future__ import annotations

import os

from rewards.budgets.frontier import FrontierBudgetModel, FrontierSettings
from rewards.budgets.model import BUDGET_MODEL_FILE, BudgetModel, BudgetModelSettings, read_state

ALLOCATIONS = ("proportional", "frontier", "knapsack", "monotone")

__all__ = ["ALLOCATIONS", "BUDGET_MODEL_FILE", "BudgetModel", "BudgetModelSettings", "FrontierBudgetModel",
           "FrontierSettings", "load_budget_model", "make_budget_model", "predict_budget", "read_state"]


def make_budget_model(allocation: str = "proportional", fallback: float = 0.0,
                      settings: BudgetModelSettings | None = None, kind_split: int = 1) -> BudgetModel:
    """A fresh budget model for `--budget_allocation`.

    Args:
        allocation: `proportional` (shares of T by predicted need), `frontier` (one token price),
            `knapsack` (one length per prompt-size group) or `monotone` (knapsack, never shorter for a
            larger group).
        fallback: the budget every prompt gets until the model has seen enough answers (the global T).
        settings: the regression's settings (quantile, reliable accuracy, ...).
        kind_split: knapsack kinds per size group (`--budget_kind_split`).

    Returns:
        A `BudgetModel` or `FrontierBudgetModel`.
    """
    settings = settings or BudgetModelSettings()
    if allocation == "proportional":
        return BudgetModel(settings, fallback=fallback)
    if allocation not in ALLOCATIONS:
        raise ValueError(f"unknown budget allocation {allocation!r}; choose one of {', '.join(ALLOCATIONS)}")
    pure = allocation != "frontier"  # lands in the 1.05 × T band the contest counts
    return FrontierBudgetModel(settings, fallback=fallback, frontier=FrontierSettings(
        pure=pure, level_tolerance=0.05 if pure else 0.0, monotone=allocation == "monotone", kind_split=kind_split))


def load_budget_model(directory: str | os.PathLike) -> BudgetModel:
    """The budget model saved in a checkpoint or exported adapter folder, of the class its file names."""
    state = read_state(directory)
    model = FrontierBudgetModel() if state.get("kind") == "frontier" else BudgetModel()
    model.load_state_dict(state)
    return model


def predict_budget(directory: str | os.PathLike, prompts: str | list[str]) -> float | list[float]:
    """Token budget(s) from a saved budget model (a checkpoint or an exported adapter directory)."""
    model = load_budget_model(directory)
    if isinstance(prompts, str):
        return model.predict([prompts])[0]
    return model.predict(prompts)
