"""Rewards, chosen by name in a recipe, each with its own parameters nested under it.

    rewards:
      exact_match: {}                    # weight 1.0 unless given
      token_penalty:
        weight: dual                     # scaled by −λ from the dual controller every step
        correct_only: true

Each reward is a plain function `f(completions, **kwargs) -> list[float]` as TRL calls it. A reward's
weight lives beside its parameters (a number, or `dual` for the one whose coefficient the dual
controller sets), so there is no separate weights list to keep in line by hand.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from rewards.budget_penalty import budget_penalty
from rewards.exact_match import exact_match
from rewards.peers import (
    LaserDState,
    alp,
    arora_zanette,
    kimi_length,
    laser_d,
    linear_length,
    pass_rate_linear,
    shorter_better,
    trl_cosine,
    trl_soft_overlong,
    truncation,
)
from rewards.reward_model import reward_model
from rewards.token_penalty import token_penalty

REGISTRY: dict[str, Callable[..., list[float]]] = {
    "exact_match": exact_match,
    "token_penalty": token_penalty,
    "budget_penalty": budget_penalty,
    "reward_model": reward_model,  # human feedback: a sequence-classification model's score (rewards/reward_model.py)
    # published peers, for comparison (rewards/peers.py)
    "linear_length": linear_length,
    "kimi_length": kimi_length,
    "arora_zanette": arora_zanette,
    "truncation": truncation,
    "shorter_better": shorter_better,
    "trl_soft_overlong": trl_soft_overlong,
    "trl_cosine": trl_cosine,
    # per-prompt peers (rewards/peers.py)
    "alp": alp,
    "pass_rate_linear": pass_rate_linear,
    "laser_d": laser_d,
}
# Rewards with memory across steps: a fresh state object per run, bound as their `state` parameter and
# saved in checkpoints by the trainer (like the learned budget model). Its settings are the reward's
# parameters named in the state's constructor (e.g. `laser_d: {window: 512}`).
STATEFUL = {"laser_d": LaserDState}
DUAL = "dual"


@dataclass
class Reward:
    name: str
    func: Callable[..., list[float]]  # params already bound; __name__ is `name` (TRL logs by it)
    weight: float | str  # a number, or DUAL
    params: dict = field(default_factory=dict)
    state: object | None = None  # for STATEFUL rewards: has state_dict() / load_state_dict()

    @property
    def dual(self) -> bool:
        return self.weight == DUAL


def bind(func: Callable, name: str, params: dict) -> Callable:
    """`func` with `params` fixed, named `name` (TRL logs a reward by its function's name)."""
    bound = functools.update_wrapper(functools.partial(func, **params), func)
    bound.__name__ = name
    return bound


def parameter_names(func: Callable) -> tuple[str, ...]:
    """The named parameters of a reward (or a state's constructor), by signature: wrappers that keep
    `__wrapped__` (functools.wraps, mutation testing's trampolines) report the wrapped function's."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(p.name for p in inspect.signature(func).parameters.values() if p.kind in kinds)


RUN_SET = ("budget_tokens", "token_budget")  # the run's T reaches every reward as each row's token_budget


def build_rewards(spec: dict[str, dict | None]) -> list[Reward]:
    """Rewards from a recipe's `rewards:` mapping. T is not a reward's parameter: the trainer hands every
    reward each row's `token_budget` (the run's T, a learned budget or the row's stated one), so that moving T
    rebinds nothing."""
    if not isinstance(spec, dict) or not spec:
        raise ValueError("`rewards` must be a non-empty mapping of reward name -> parameters")
    rewards = []
    for name, params in spec.items():
        if name not in REGISTRY:
            raise ValueError(f"unknown reward {name!r} in `rewards`; registered: {sorted(REGISTRY)}")
        params = dict(params or {})
        weight = params.pop("weight", 1.0)
        if weight != DUAL and not isinstance(weight, (int, float)):
            raise ValueError(f"rewards.{name}.weight must be a number or {DUAL!r}, got {weight!r}")
        func = REGISTRY[name]
        accepted = parameter_names(func)
        state = None
        if name in STATEFUL:
            factory = STATEFUL[name]
            own = parameter_names(factory)
            state = factory(**{k: params.pop(k) for k in list(params) if k in own})
            accepted = (*accepted, *own)
            params["state"] = state
        if set(params) & set(RUN_SET):
            raise ValueError(f"rewards.{name}: {sorted(set(params) & set(RUN_SET))} is the run's token target; set it "
                             "with --budget_tokens or --budget_ratio (each row's token_budget reaches the rewards)")
        unknown = set(params) - set(accepted)
        if unknown:
            raise ValueError(f"rewards.{name}: unknown parameter(s) {sorted(unknown)}; accepted: {accepted[1:]}")
        rewards.append(Reward(name=name, func=bind(func, name, params), weight=weight, params=params, state=state))
    if sum(r.dual for r in rewards) > 1:
        raise ValueError("at most one reward can have `weight: dual`")
    return rewards
