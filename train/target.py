"""The run's targets, worked out once: T (the token target) and F (the accuracy floor).

`TokenTarget` is the one owner of T. It is built once from the arguments and the base model's val figures
(`compute_targets`), moved only by a budget schedule's stages (`move`, through the trainer's `retarget`), and
read by everything that counts in T: the dual controller in budget mode, the learned budgets' level, the
length penalties (each row's `token_budget` where the row states none), the allocator's serving target and the
summary. Why one object: T was worked out in five places (the controller's target, a float for the
allocator, one for the penalties, a partial's keyword rebound at every stage, the summary's own), and a
schedule that moved one of them had to find all the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass
class TokenTarget:
    """T in tokens, and the unit the length penalties count in.

    `tokens`: T now (a schedule's current stage, else the constraint's T; in em_floor mode the allocator's T,
    budget_ratio × base tokens); `base_tokens`: the base model's mean val tokens; `penalties_follow`: the length
    penalties count in T (budget mode) or in the base model's tokens (em_floor mode, where T does not bind).

    >>> t = TokenTarget(tokens=30.0, base_tokens=60.0, penalties_follow=True)
    >>> t.penalty_unit, t.ratio
    (30.0, 0.5)
    >>> t.move(24.0); t.penalty_unit
    24.0
    >>> TokenTarget(tokens=30.0, base_tokens=60.0, penalties_follow=False).penalty_unit
    60.0
    """

    tokens: float
    base_tokens: float
    penalties_follow: bool = True

    @property
    def penalty_unit(self) -> float:
        return self.tokens if self.penalties_follow else self.base_tokens

    @property
    def ratio(self) -> float:
        return self.tokens / self.base_tokens if self.base_tokens else float("nan")

    def move(self, tokens: float) -> None:
        if not tokens > 0:
            raise ValueError(f"a token target must be > 0, got {tokens}")
        self.tokens = float(tokens)


@dataclass(frozen=True)
class Targets:
    """The constraint's numbers, computed once from the arguments and the base model's val figures.

    `constraint`: T in tokens (budget mode) or F in greedy val EM (em_floor mode), as the user reads them;
    `controller`: what the dual controller holds (the schedule's first stage, or F shifted to sampled EM);
    `tokens`: the run's `TokenTarget` (T whatever the mode, and the penalties' unit);
    `sampled_em`: the base model's sampled val EM (em_floor mode only)."""

    constraint: float
    controller: float
    tokens: TokenTarget
    sampled_em: float | None = None


def constraint_value(script_args, base: dict, mode: str | None = None) -> float:
    """T in tokens (budget mode), F in EM (em_floor mode), from the arguments and the base model's val figures."""
    mode = mode or script_args.constraint
    if mode == "budget":
        return script_args.budget_tokens or script_args.budget_ratio * base["mean_tokens"]
    if mode == "em_floor":
        if script_args.em_floor is not None:
            return script_args.em_floor
        return max(0.0, base["em"] - script_args.em_tolerance)
    return 0.0


def compute_targets(ctx) -> Targets:
    """T or F once, for every stage that needs it. In em_floor mode the controller sees the EM of *sampled*
    training completions, which sits below greedy val EM: its target is F shifted by the base model's
    measured greedy − sampled gap, so that holding the sampled EM there holds greedy val EM at F."""
    from train.generation import Decoding, evaluate

    script_args, base, schedule = ctx.script_args, ctx.base, ctx.schedule
    constraint = constraint_value(script_args, base)
    controller = schedule.ratio(0) * base["mean_tokens"] if schedule else constraint
    sampled_em = None
    if script_args.constraint == "em_floor":
        sampled = evaluate(ctx.model, ctx.tokenizer, ctx.val_rows,
                           Decoding(ctx.max_new, temperature=ctx.training_args.temperature), desc="base eval (sampled)")
        sampled_em = sampled["em"]
        controller = max(0.0, min(1.0, constraint - (base["em"] - sampled_em)))
        logger.info("em floor: greedy F=%.3f, sampled-EM target %.3f", constraint, controller)
    budget_mode = script_args.constraint == "budget" and not script_args.budget_conditioned
    if budget_mode:
        t = controller
    elif script_args.budget_tokens or script_args.budget_ratio:  # the T an allocator serves (a conditioned run)
        t = constraint_value(script_args, base, "budget")
    else:  # no T given (em_floor, none): T is the base model's length, which nothing holds
        t = base["mean_tokens"]
    tokens = TokenTarget(tokens=t, base_tokens=base["mean_tokens"], penalties_follow=budget_mode)
    return Targets(constraint=constraint, controller=controller, tokens=tokens, sampled_em=sampled_em)
