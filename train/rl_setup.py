"""The RL stages of a run: the dual controller, the rewards and the trainer built around them.

Called by `train/run.py`'s `main()` in this order, each taking the run's context (`RunContext`): `build_controller`
(what λ holds), `build_rewards` (the registry's rewards and the learned per-prompt budgets), `build_trainer`
(TRL GRPO/RLOO owning the controller, with the periodic evaluation and the schedule's stages).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict

logger = logging.getLogger("terse")


def build_controller(ctx):
    """The dual controller that sets λ, holding `ctx.targets.controller` — or, for a budget-conditioned run,
    the price of overshooting the stated budget, held to `adherence_target` (fixed `overshoot_price`: none)."""
    from train.dual import DualController, DualSettings

    script_args = ctx.script_args
    mode, target = script_args.constraint, ctx.targets.controller
    if script_args.budget_conditioned:
        mode = "none" if script_args.overshoot_price is not None else "adherence"
        target = script_args.adherence_target
    return DualController(DualSettings(
        mode=mode, target=target, lr=script_args.dual_lr, kp=script_args.dual_kp,
        lambda_init=script_args.lambda_init, lambda_max=script_args.lambda_max, ema=script_args.dual_ema,
        warmup_steps=script_args.dual_warmup_steps, em_scale=script_args.dual_em_scale,
    ))


def build_rewards(ctx):
    """Rewards from the registry (the `weight: dual` one is scaled by −λ; each reward's weight goes to the
    trainer in build_trainer) and the learned budget model."""
    from rewards import build_rewards as from_registry
    from rewards.budgets import BudgetModelSettings, make_budget_model

    script_args = ctx.script_args
    reward_spec = dict(script_args.rewards)
    if script_args.budget_conditioned:  # EM − price · overshoot of the row's stated budget, every answer charged
        price = "dual" if script_args.overshoot_price is None else -script_args.overshoot_price
        reward_spec = {"exact_match": reward_spec.get("exact_match") or {},
                       "budget_penalty": {"weight": price, "correct_only": False, "cap": 1.0}}
        return from_registry(reward_spec), None
    if script_args.constraint == "none":  # EM only: the controlled penalty is dropped
        reward_spec = {k: v for k, v in reward_spec.items() if (v or {}).get("weight") != "dual"}
    budget = ctx.targets.tokens.penalty_unit  # the rewards read it as each row's token_budget (the trainer's)
    rewards = from_registry(reward_spec)
    if "exact_match" not in [r.name for r in rewards]:
        raise ValueError("the recipe's rewards must include exact_match (the accuracy the constraint protects)")
    budget_model = None
    if script_args.learned_budget:  # a per-prompt budget, learned online; the global budget until then
        settings = BudgetModelSettings(
            quantile=script_args.budget_quantile, reliable_accuracy=script_args.budget_reliable_accuracy
        )
        budget_model = make_budget_model(script_args.budget_allocation, fallback=budget, settings=settings,
                                         kind_split=script_args.budget_kind_split)
    return rewards, budget_model


def build_trainer(ctx, controller, rewards, budget_model):
    """TRL GRPO/RLOO + LoRA owning the controller, with the periodic evaluation and the schedule's stages.
    The trainer gets its own copy of the training arguments, with the rewards' weights (the controlled one
    at 0: λ scales it) and, under a schedule, the stages' total steps."""
    from trl import get_peft_config

    from train.tracking import guard_wandb_callbacks
    from train.trainer import TRAINERS, DualWiring

    script_args, model_args, schedule = ctx.script_args, ctx.model_args, ctx.schedule
    names = [r.name for r in rewards]
    training_args = copy.copy(ctx.training_args)
    training_args.reward_weights = [0.0 if r.dual else float(r.weight) for r in rewards]
    if schedule is not None:
        training_args.max_steps = schedule.total_steps  # the run ends with its last stage
    if script_args.algorithm == "rloo":
        training_args = to_rloo_config(training_args)
    trainer = TRAINERS[script_args.algorithm](
        model=ctx.model,
        reward_funcs=[r.func for r in rewards],
        args=training_args,
        train_dataset=ctx.task.rl_dataset(ctx.train_rows),
        processing_class=ctx.tokenizer,
        peft_config=None if is_peft(ctx.model) else get_peft_config(model_args),  # a warm start's adapter: continued
        dual=DualWiring(controller, ctx.targets.tokens, dual_index=next((i for i, r in enumerate(rewards) if r.dual), None),
                        em_index=names.index("exact_match"), measure=script_args.dual_measure,
                        trace=script_args.dual_trace),
        budget_model=budget_model,
        reward_states={r.name: r.state for r in rewards if r.state is not None},
        lora_plus_ratio=script_args.lora_plus_ratio,
        layer_lr_decay=script_args.layer_lr_decay,
    )
    guard_wandb_callbacks(trainer)
    if script_args.step_profile:  # before the periodic evaluation: an evaluation is not part of a step
        import torch

        from train.step_profile import StepProfile

        cuda = trainer.accelerator.device.type == "cuda"
        trainer.enable_profile(StepProfile(sync=torch.cuda.synchronize if cuda else None,
                                           warmup=generation_cycle(training_args)))
    periodic, rule = attach_evaluation(ctx, trainer)
    return trainer, periodic, rule


def attach_evaluation(ctx, trainer):
    """The callbacks that watch val during training: the periodic evaluation with its selection rule and early
    stopping, the LR guard, the schedule's stages. Returns (the periodic evaluation, the selection rule or None)."""
    from train.periodic_eval import EarlyStopping, PeriodicEval, ValEvaluation
    from train.schedule import StageCallback
    from train.selection import SelectionRule

    script_args, base, schedule = ctx.script_args, ctx.base, ctx.schedule
    # Selection: highest EM within T (budget), fewest tokens at EM >= F (em_floor), highest EM (none). A schedule
    # ships its own stage instead.
    rule = None
    if script_args.select_checkpoint and schedule is None and not script_args.budget_conditioned:
        # (a budget-conditioned run ships its last step: untagged val answers say nothing of budget keeping)
        rule = SelectionRule(script_args.constraint, ctx.targets.constraint, script_args.selection_tolerance)
    val = ValEvaluation(ctx.tokenizer, ctx.val_rows, ctx.max_new)  # one greedy val evaluation per step, shared
    periodic = PeriodicEval(trainer, val, script_args.eval_every, rule, EarlyStopping.from_args(script_args))
    if script_args.eval_every:
        trainer.add_callback(periodic)
    if script_args.lr_guard:  # after `periodic`: it reads the evaluation made at the same step
        from train.lr_guard import LRGuard, LRGuardSettings

        floor = ctx.targets.constraint if script_args.constraint == "em_floor" else None
        trainer.add_callback(LRGuard(trainer, periodic, base["em"], floor, LRGuardSettings.from_args(script_args)))
    if schedule is not None:
        trainer.add_callback(StageCallback(trainer, schedule, base["mean_tokens"], val))
    return periodic, rule


def is_peft(model) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def generation_cycle(training_args) -> int:
    """Optimizer steps per generation call: TRL generates once per `steps_per_generation × num_iterations`
    micro-batches. A step profile's warm-up is one such cycle, so that the steps it averages hold whole
    cycles (a mean that started after a generating step would hide most of the generation)."""
    micro = (training_args.steps_per_generation or training_args.gradient_accumulation_steps) * training_args.num_iterations
    return max(1, micro // training_args.gradient_accumulation_steps)


def to_rloo_config(grpo_args):
    """The same settings as an `RLOOConfig` (fields GRPO-only are dropped)."""
    from dataclasses import fields

    from trl import RLOOConfig

    names = {f.name for f in fields(RLOOConfig) if f.init}
    values = {k: v for k, v in asdict(grpo_args).items() if k in names}
    values.pop("generation_batch_size", None)  # derived from steps_per_generation; both may not be set
    return RLOOConfig(**values)
