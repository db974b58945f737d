"""TRL glue: GRPO / RLOO trainers that own the dual controller. The only module that touches TRL internals.

Pattern borrowed from TRL's own controlled coefficient (`use_adaptive_entropy` in `GRPOTrainer`):
- λ lives on the trainer and enters the reward as the weight of the `weight: dual` reward (−λ), so
  the reward functions stay pure;
- the controller is fed values already reduced across processes (TRL gathers every reward over all
  ranks, and we gather the completion lengths the same way), so every rank computes the same λ;
- λ moves once per optimizer step, at the gradient-accumulation boundary, and the new λ shapes the
  rewards of the next generation batch;
- λ and the controller state are logged as metrics (`dual/*`) and saved/restored with checkpoints.

The optional learned budget model (`rewards/budgets/model.py`) is owned the same way: before the rewards
of a batch are computed, its prediction for each prompt is added to the batch as the `token_budget`
column (which TRL hands to every reward function); after, it learns from the lengths of the batch's
correct completions, gathered from all ranks so that every rank holds the same weights.

With `--step_profile true` the same overrides charge TRL's generation, log-prob, reward and loss methods
(and the accelerator's backward) to the parts of a `train.step_profile.StepProfile`; without it they pass
straight through.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass

import torch
from accelerate.utils import gather_object
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOTrainer, RLOOTrainer

from rewards.budgets import BUDGET_MODEL_FILE, BudgetModel, read_state
from train.dual import DualController
from train.target import TokenTarget
from train.files import COMPLETE_MARKER, write_json_atomic
from train.tasks import prompt_text

DUAL_STATE_FILE = "dual_state.json"
REWARD_STATE_FILE = "reward_state_{}.json"  # a stateful reward's memory (rewards.STATEFUL)
FLOOR_LEVEL = 0.8  # em_floor mode: learned budgets share 0.8 × the recent mean length


class LayerwiseOptimizerMixin:
    """LoRA+ and per-layer learning rates (`train/layerwise.py`) in the trainer's optimizer, when either is on."""

    def __init__(self, *args, lora_plus_ratio: float = 1.0, layer_lr_decay: float = 1.0, **kwargs):
        self.lora_plus_ratio, self.layer_lr_decay = lora_plus_ratio, layer_lr_decay  # read by create_optimizer
        super().__init__(*args, **kwargs)

    def create_optimizer(self, model=None):
        """The trainer's optimizer, with LoRA+ and per-layer learning rates when either is on
        (`train/layerwise.py`); otherwise exactly TRL's / transformers' own."""
        if self.optimizer is None and (self.lora_plus_ratio != 1.0 or self.layer_lr_decay != 1.0):
            from train.layerwise import param_groups

            opt_model = self.model if model is None else model
            optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            kwargs = {k: v for k, v in kwargs.items() if k != "lr"}
            groups = param_groups(opt_model.named_parameters(), self.args.learning_rate, self.args.weight_decay,
                                  {n for n, _ in opt_model.named_parameters()} - set(self.get_decay_parameter_names(opt_model)),
                                  self.lora_plus_ratio, self.layer_lr_decay)
            self.optimizer = optimizer_cls([{k: v for k, v in g.items() if k != "names"} for g in groups], **kwargs)
        return super().create_optimizer(model)


class StepProfileMixin:
    """`--step_profile true`: TRL's generation, log-prob, reward and loss methods (and the accelerator's
    backward) charged to the parts of a `train.step_profile.StepProfile`; without one they pass straight through."""

    profile = None  # a train.step_profile.StepProfile once enable_profile is called

    def enable_profile(self, profile) -> None:
        """Charge every part of each optimizer step to `profile` (train/step_profile.py): the overrides below
        open the parts; backward is the accelerator's, wrapped here; the callback marks the step and the
        optimizer. Added before the periodic evaluation, so that an evaluation is not charged to a step."""
        from train.step_profile import make_callback

        self.profile = profile
        backward = self.accelerator.backward

        def timed_backward(loss, **kwargs):
            with profile.part("backward"):
                return backward(loss, **kwargs)

        self.accelerator.backward = timed_backward
        self.add_callback(make_callback(profile))

    def _part(self, name: str):
        return self.profile.part(name) if self.profile is not None else contextlib.nullcontext()

    def _generate(self, *args, **kwargs):
        with self._part("generation"):
            return super()._generate(*args, **kwargs)

    def _generate_and_score_completions(self, *args, **kwargs):
        with self._part("batch prep"):
            return super()._generate_and_score_completions(*args, **kwargs)

    def _get_per_token_logps_and_entropies(self, *args, **kwargs):
        with self._part("policy forward" if torch.is_grad_enabled() else "old/ref log-probs"):
            return super()._get_per_token_logps_and_entropies(*args, **kwargs)

    def compute_loss(self, *args, **kwargs):
        with self._part("loss"):
            return super().compute_loss(*args, **kwargs)


@dataclass(frozen=True)
class DualWiring:
    """What the controller is wired to: the controller, T, which reward's weight is −λ (`dual_index`, None: none)
    and which is exact match (`em_index`), what length it measures in budget mode (`measure`: sampled or greedy),
    and whether each step is traced per process (`trace`)."""

    controller: DualController
    token_target: TokenTarget
    dual_index: int | None
    em_index: int
    measure: str = "sampled"
    trace: bool = True


class DualControlMixin:
    """Adds a `DualController` to a TRL online trainer (GRPO or RLOO): λ, the measurement it needs (sampled or
    greedy), the learned budgets it feeds, and their checkpoint state. Its reward timing uses `_part` from
    `StepProfileMixin`, which comes after it in the trainers' bases."""

    def __init__(self, *args, dual: DualWiring, budget_model: BudgetModel | None = None,
                 reward_states: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.trace = dual.trace  # one line per step and process in dual_trace/ (distributed runs are checked with it)
        self.measure = dual.measure  # budget mode: hold the sampled or the served (greedy) length at T
        self._step_prompts: list = []  # this optimizer step's distinct prompts (greedy measurement)
        self.controller = dual.controller
        self.token_target = dual.token_target  # T (train/target.py): the budget-mode controller, budgets, penalties
        self.budget_model = budget_model
        self.reward_states = reward_states or {}  # name -> memory of a stateful reward (e.g. LASER-D's windows)
        self.dual_index = dual.dual_index  # which reward function's weight is −λ (None: no controlled reward)
        self.em_index = dual.em_index  # which reward function is exact match (the accuracy measurement)
        # [sum tokens, sum EM, completions, completions within their row's token_budget (adherence mode)]
        self._dual_window = torch.zeros(4, dtype=torch.float64)
        self._tokens_ema: float | None = None  # smoothed mean completion tokens (the em_floor budget level)
        self.overhead_seconds = 0.0  # wall time spent in what Terse adds to TRL (budgets, gathers, controller)
        self._overhead_logged = 0.0
        self._apply_lambda()

    def retarget(self, target: float) -> None:
        """Move the token target T (a budget schedule's next stage). Everything that counts in T reads the one
        `TokenTarget`: the learned budgets' level and the length penalties (through each row's `token_budget`)
        at the next batch; the budget-mode controller holds it from its next update."""
        self.token_target.move(target)
        if self.controller.settings.mode == "budget":
            self.controller.settings.target = self.token_target.tokens

    def _apply_lambda(self) -> None:
        if self.dual_index is not None:
            self.reward_weights[self.dual_index] = -self.controller.lam

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        started = time.perf_counter()
        with self._part("terse"):
            texts = [prompt_text(p) for p in prompts]
            if self.budget_model is not None:
                for row, budget in zip(inputs, self.budget_model.allocate(texts, self._budget_level()), strict=True):
                    row["token_budget"] = budget
            stated = [row.get("token_budget") for row in inputs]  # a budget model's, or the row's own
            for row in inputs:  # every other row: the penalties' unit, T in budget mode
                if row.get("token_budget") is None:
                    row["token_budget"] = self.token_target.penalty_unit
        self.overhead_seconds += time.perf_counter() - started
        with self._part("rewards"):
            rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        started = time.perf_counter()
        with self._part("terse"):
            self._record_batch(rewards_per_func, texts, completion_ids_list, prompts, stated)
        self.overhead_seconds += time.perf_counter() - started
        return rewards_per_func

    def _record_batch(self, rewards_per_func, texts, completion_ids_list, prompts=(), budgets=()) -> None:
        """Feed the controller's window and the budget model with the batch's lengths, EM and (rows that
        state a budget) how many answers fit it (all ranks)."""
        if self.model.training:  # evaluation must not move the controller or the budget model
            lengths = torch.tensor([len(ids) for ids in completion_ids_list], device=rewards_per_func.device)
            lengths = self.accelerator.gather(lengths).double().cpu()  # all ranks, like rewards_per_func
            kept = torch.zeros(1, dtype=torch.float64)
            if budgets and any(b for b in budgets):  # rows that state a budget: how many answers kept it
                kept_local = [float(len(ids) <= b) if b else float("nan")
                              for ids, b in zip(completion_ids_list, budgets, strict=True)]
                kept = self.accelerator.gather(torch.tensor(kept_local, device=rewards_per_func.device)).double().cpu()
            em = rewards_per_func[:, self.em_index].double().cpu()
            self._dual_window += torch.stack([lengths.sum(), em.nansum(), torch.tensor(float(len(lengths))),
                                              kept.nansum()])
            if self.measure == "greedy":
                seen = {prompt_text(p) for p in self._step_prompts}
                for prompt, text in zip(prompts, texts, strict=True):  # each once: GRPO repeats a prompt G times
                    if text not in seen:
                        seen.add(text)
                        self._step_prompts.append(prompt)
            if self.budget_model is not None:
                all_texts = gather_object(texts) if self.accelerator.num_processes > 1 else texts
                batch = self.budget_model.update(all_texts, lengths.long().tolist(), (em > 0.5).tolist())
                for key, value in batch.items():
                    self._metrics["train"][key].append(value)

    def _budget_level(self) -> float:
        """The mean budget the learned per-prompt budgets share: the token target T in budget mode; in
        em_floor mode `FLOOR_LEVEL` × the smoothed mean length of recent batches. The level sits below the
        current mean so that there is always a shorter target while λ > 0: at the mean itself, budgets
        followed the policy down until every answer matched its budget and the pressure vanished (arith:
        stuck at 31 tokens from step 120 to 160 with λ at its cap and EM 0.02 above the floor)."""
        if self.controller.settings.mode == "budget":
            return self.token_target.tokens
        level = self._tokens_ema if self._tokens_ema is not None else self.budget_model.fallback
        return FLOOR_LEVEL * level

    def training_step(self, model, inputs, num_items_in_batch):
        output = super().training_step(model, inputs, num_items_in_batch)
        if self._step % self.current_gradient_accumulation_steps == 0:  # optimizer-step boundary
            started = time.perf_counter()
            with self._part("terse"):
                self._dual_step()
            self.overhead_seconds += time.perf_counter() - started
            self._metrics["train"]["terse/overhead_seconds"].append(self.overhead_seconds - self._overhead_logged)
            self._overhead_logged = self.overhead_seconds
        return output

    def _dual_step(self) -> None:
        tokens, em, count, kept = self._dual_window.tolist()
        self._dual_window.zero_()
        mean_tokens = tokens / count if count else None
        mean_em = em / count if count else None
        adherence = kept / count if count else None
        if mean_tokens is not None:
            ema = self.controller.settings.ema
            self._tokens_ema = mean_tokens if self._tokens_ema is None else ema * self._tokens_ema + (1 - ema) * mean_tokens
        measured = {"em_floor": mean_em, "adherence": adherence}.get(self.controller.settings.mode, mean_tokens)
        if self.measure == "greedy" and self.controller.settings.mode == "budget":
            greedy = self._greedy_tokens()
            if greedy is not None:
                measured = greedy
                self._metrics["train"]["dual/greedy_tokens"].append(greedy)
        self.controller.update(measured)
        self._apply_lambda()
        if self.trace:
            self._trace_rank_state()
        metrics = self._metrics["train"]
        for key, value in self.controller.metrics().items():
            metrics[key].append(value)
        if mean_tokens is not None:
            metrics["dual/batch_tokens"].append(mean_tokens)
            metrics["dual/batch_em"].append(mean_em)
            if self.controller.settings.mode == "adherence":
                metrics["dual/batch_adherence"].append(adherence)

    def _greedy_tokens(self) -> float | None:
        """Mean greedy completion length of this step's distinct prompts, over all ranks (None: no prompts).

        Why: what is served is the greedy answer, and the sampled training completions are a biased measure
        of it — they keep a tail of other answer styles long after the argmax has moved. On the benchmark the
        sampled mean sat at T while greedy answers were 17% over (T = 0.4 × base) or 21% under (0.6 × base),
        so a controller holding the sampled mean never lands the served model on its budget."""
        from train.generation import generate

        prompts, self._step_prompts = self._step_prompts, []
        lengths = []
        if prompts:
            model = self.accelerator.unwrap_model(self.model)
            with torch.no_grad():
                lengths = generate(model, self.processing_class, prompts, self.args.max_completion_length,
                                   desc="greedy length")[1]
        if self.accelerator.num_processes > 1:
            lengths = [n for part in gather_object([lengths]) for n in part]
        return sum(lengths) / len(lengths) if lengths else None

    def _trace_rank_state(self) -> None:
        """One line per optimizer step and process in `output_dir/dual_trace/rank{R}.jsonl`: λ, the controller
        state and a digest of the budget model's weights, so that "every rank holds the same λ and weights"
        can be checked after any distributed run."""
        row = {"step": self.state.global_step + 1, **self.controller.state_dict()}
        row.pop("settings")
        if self.budget_model is not None:
            row["budget_weights_sha"] = hashlib.sha256(self.budget_model.weights.tobytes()).hexdigest()
        folder = os.path.join(self.args.output_dir, "dual_trace")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"rank{self.accelerator.process_index}.jsonl"), "a") as f:
            f.write(json.dumps(row) + "\n")

    # -- checkpoints: the controller travels with the model, optimizer and scheduler -------------------
    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            folder = os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
            state = {**self.controller.state_dict(), "tokens_ema": self._tokens_ema}
            write_json_atomic(os.path.join(folder, DUAL_STATE_FILE), state)
            if self.budget_model is not None:
                self.budget_model.save(folder)
            for name, reward_state in self.reward_states.items():
                write_json_atomic(os.path.join(folder, REWARD_STATE_FILE.format(name)), reward_state.state_dict())
            write_json_atomic(os.path.join(folder, COMPLETE_MARKER), {"step": self.state.global_step})

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None:
            path = os.path.join(checkpoint, DUAL_STATE_FILE)
            if os.path.exists(path):
                with open(path) as f:
                    state = json.load(f)
                self.controller.load_state_dict(state)
                self._tokens_ema = state.get("tokens_ema")
                self._apply_lambda()
            if self.budget_model is not None and os.path.exists(os.path.join(checkpoint, BUDGET_MODEL_FILE)):
                self.budget_model.load_state_dict(read_state(checkpoint))
            for name, reward_state in self.reward_states.items():
                path = os.path.join(checkpoint, REWARD_STATE_FILE.format(name))
                if os.path.exists(path):
                    with open(path) as f:
                        reward_state.load_state_dict(json.load(f))


class TerseGRPOTrainer(DualControlMixin, StepProfileMixin, LayerwiseOptimizerMixin, GRPOTrainer):
    """TRL's GRPOTrainer with the dual-controlled length penalty."""


class TerseRLOOTrainer(DualControlMixin, StepProfileMixin, LayerwiseOptimizerMixin, RLOOTrainer):
    """TRL's RLOOTrainer with the dual-controlled length penalty."""


TRAINERS = {"grpo": TerseGRPOTrainer, "rloo": TerseRLOOTrainer}
