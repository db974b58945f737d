"""Terse's arguments by group: one dataclass per group, each with its fields and the checks of its own values
(the everyday groups here, the controller's and the budgets' in `train/config_budgets.py`).

`train/config.py` joins them into `ScriptArguments` (one object, so a recipe and the command line set every field
by its flat name: `--budget_ratio 0.4`), calls every group's `check` in the order below, and generates
docs/recipes.md's tables from `GROUPS` — the order and headings a user scans, each group's fields in the order they
are written here, so no name is written twice. A check may read another group's fields (a schedule needs the
budget constraint); it sits in the group whose value it judges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from rewards.token_penalty import PENALTY_CAP
from train.config_budgets import (AllocatorArguments, ConditioningArguments, DualArguments,
                                  LearnedBudgetArguments)
from train.dual import MODES

WARM_START_STEPS = 900  # SFT steps of the built-in base model (train/base_model.py's default too)
DEFAULT_REWARDS = {"exact_match": {}, "budget_penalty": {"weight": "dual", "correct_only": True, "cap": PENALTY_CAP}}


class JSONMapping(dict):
    """A dict argparse can build from JSON text (`--rewards '{"exact_match": {}}'`); YAML gives a dict."""

    def __init__(self, value=()):
        if isinstance(value, str):
            value = json.loads(value)  # a ValueError: argparse reports "invalid JSONMapping value"
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping, got {value!r}")
        super().__init__(value)


@dataclass
class DataArguments:
    """Data"""

    task: str = field(default="arith", metadata={"help": "A built-in task: arith (the embedded default), chain, chain_graded, "
                      "chain_easy (the benchmark tasks, docs/benchmark.md), chain_budget (chain_easy with a stated budget), "
                      "gsm8k, word_problems (train/tasks); dataset_name replaces it."})
    dataset_name: str | None = field(
        default=None,
        metadata={"help": "Your data instead of a built-in task: a hub id, a .jsonl/.json/.csv/.parquet file, a folder "
                  "from Dataset.save_to_disk, or a folder of <split>.<ext> files."})
    dataset_config: str | None = field(default=None, metadata={"help": "The hub dataset's config (e.g. main)."})
    dataset_train_split: str = field(default="train", metadata={"help": "Split to train on."})
    dataset_val_split: str | None = field(
        default=None, metadata={"help": "Split to validate on (default: val_size train rows drawn by seed)."})
    dataset_test_split: str | None = field(default=None, metadata={"help": "Split for `train.evaluate --split test`."})
    prompt_column: str = field(
        default="prompt", metadata={"help": "Column holding the prompt (a string, or chat messages used as the conversation)."})
    prompt_template: str | None = field(
        default=None, metadata={"help": "Python format string over the row's columns, e.g. '{question}\\n{choices}' "
                                "(replaces prompt_column)."})
    system_prompt: str | None = field(default=None, metadata={"help": "System message put before every prompt."})
    answer_column: str = field(
        default="answer", metadata={"help": "Column holding the gold answer (a string, a number or a list of acceptable answers)."})
    answer_pattern: str | None = field(
        default=None, metadata={"help": "Regex whose first group is the gold answer inside answer_column (GSM8K: '####\\s*(.+)')."})
    answer_check: str = field(
        default="numeric",
        metadata={"help": "How a completion is scored against the gold answer (rewards/answer_check.py): numeric, text "
                  "(SQuAD-normalised; F1 reported too), contains (the gold inside a sentence answer; strict EM and F1 "
                  "reported too), choice (option letter), regex:<pattern>, or module:function."})
    skip_bad_rows: bool = field(
        default=False, metadata={"help": "Drop rows with an empty or missing prompt or answer (and log how many) instead of stopping."})
    val_size: int | None = field(default=None, metadata={"help": "Use only the first N val rows (default: all)."})
    data_path: str | None = field(
        default=None, metadata={"help": "Local directory with the task's files instead of the hub (gsm8k)."}
    )

    def check(self):
        from rewards.answer_check import validate

        validate(self.answer_check)  # an unknown check, or a module:function that cannot be imported, fails here
        if self.answer_check != "numeric" and not self.dataset_name:
            raise ValueError(f"answer_check {self.answer_check!r} needs your own data (dataset_name): the built-in task "
                             f"{self.task!r} has numeric answers")


@dataclass
class ConstraintArguments:
    """Budget or floor"""

    constraint: str = field(default="budget", metadata={"help": f"One of {MODES}; none trains on EM only."})
    budget_tokens: float | None = field(default=None, metadata={"help": "Absolute mean-token target T."})
    budget_ratio: float | None = field(
        default=None, metadata={"help": "T as a fraction of the base model's mean val tokens, in (0, 1]."}
    )
    em_floor: float | None = field(default=None, metadata={"help": "Absolute EM floor F in [0, 1] (em_floor mode)."})
    em_tolerance: float | None = field(
        default=None, metadata={"help": "F = base val EM minus this (em_floor mode)."}
    )

    def check(self):
        if self.constraint not in MODES:
            raise ValueError(f"constraint must be one of {MODES}, got {self.constraint!r}")
        if self.constraint == "budget":
            given = (self.budget_tokens is not None) + (self.budget_ratio is not None)
            if given == 2 or (given == 0 and self.budget_schedule is None):
                raise ValueError("constraint 'budget' needs exactly one of budget_tokens and budget_ratio")
            if self.budget_tokens is not None and not self.budget_tokens > 0:
                raise ValueError(f"budget_tokens must be > 0, got {self.budget_tokens}")
            if self.budget_ratio is not None and not 0 < self.budget_ratio <= 1:
                raise ValueError(f"budget_ratio must lie in (0, 1], got {self.budget_ratio}")
        if self.constraint == "em_floor":
            if (self.em_floor is None) == (self.em_tolerance is None):
                raise ValueError("constraint 'em_floor' needs exactly one of em_floor and em_tolerance")
            if self.em_floor is not None and not 0 <= self.em_floor <= 1:
                raise ValueError(f"em_floor must lie in [0, 1], got {self.em_floor}")
            if self.em_tolerance is not None and not 0 <= self.em_tolerance <= 1:
                raise ValueError(f"em_tolerance must lie in [0, 1], got {self.em_tolerance}")


@dataclass
class RewardArguments:
    """Rewards and algorithm"""

    rewards: JSONMapping = field(
        default_factory=lambda: JSONMapping(json.loads(json.dumps(DEFAULT_REWARDS))),
        metadata={"help": "Mapping reward name -> parameters (YAML, or JSON on the command line)."},
    )
    algorithm: str = field(default="grpo", metadata={"help": "grpo (TRL GRPOTrainer) or rloo (TRL RLOOTrainer)."})

    def check(self):
        if self.algorithm not in ("grpo", "rloo"):
            raise ValueError(f"algorithm must be 'grpo' or 'rloo', got {self.algorithm!r}")
        if not isinstance(self.rewards, dict):
            raise ValueError(f"rewards must be a mapping of reward name to parameters, got {self.rewards!r}")
        from rewards import build_rewards

        build_rewards(self.rewards)  # unknown names/parameters fail here, early
        for name, params in self.rewards.items():
            params = params or {}
            if params.get("weight") == "dual" and params.get("correct_only", True) and not self.budget_conditioned:
                # (a budget-conditioned run replaces the penalty by the overshoot of each row's stated budget)
                cap = params.get("cap", PENALTY_CAP)
                if self.lambda_max * cap >= 1.0:
                    raise ValueError(
                        f"lambda_max * rewards.{name}.cap = {self.lambda_max * cap:.3g} must be < 1, or a long "
                        "correct answer could score no better than a wrong one"
                    )


@dataclass
class ScheduleArguments:
    """Schedule: one run, a whole front"""

    budget_schedule: str | None = field(
        default=None,
        metadata={"help": "Stage targets as ratios of base tokens, e.g. 0.8,0.6,0.45,0.35 (replaces budget_ratio), "
                  "or 'auto': lower by budget_schedule_factor while the stage's val EM holds the floor."},
    )
    budget_stage_steps: str | None = field(
        default=None,
        metadata={"help": "Optimizer steps per stage, or per stage as a list (60,40,40,40); default: max_steps shared equally."},
    )
    budget_schedule_start: float = field(default=0.6, metadata={"help": "auto: the first stage's ratio."})
    budget_schedule_factor: float = field(default=0.75, metadata={"help": "auto: each next ratio = this × the last."})
    budget_schedule_stages: int = field(default=6, metadata={"help": "auto: at most this many stages."})

    def check(self):
        if self.budget_schedule is None:
            return
        from train.schedule import parse_schedule

        if self.constraint != "budget":
            raise ValueError(f"budget_schedule moves a token budget: it needs constraint budget, got {self.constraint!r}")
        if not isinstance(self.budget_schedule, str):  # a YAML list
            self.budget_schedule = ",".join(str(x) for x in self.budget_schedule)
        if self.budget_stage_steps is not None:
            self.budget_stage_steps = str(self.budget_stage_steps)
        if parse_schedule(self.budget_schedule) is None and self.em_floor is None and self.em_tolerance is None:
            self.em_tolerance = 0.02  # auto's floor: base EM − 0.02 unless given


@dataclass
class EvaluationArguments:
    """Evaluation, selection, stopping"""

    eval_every: int = field(default=0, metadata={"help": "Greedy val evaluation every N steps (0: off)."})
    select_checkpoint: bool = field(
        default=True,
        metadata={"help": "Keep and export the evaluated checkpoint that best satisfies the constraint (needs eval_every)."},
    )
    selection_tolerance: float = field(
        default=0.05,
        metadata={"help": "Selection slack in budget mode: mean tokens up to T·(1+this) count as within budget (em_floor mode: none)."},
    )
    early_stopping_patience: int = field(
        default=0, metadata={"help": "Stop once λ and val EM/tokens settled for this many evaluations (0: off)."}
    )
    early_stopping_adaptive: bool = field(
        default=False,
        metadata={"help": "Adapt the patience to the run: +1 per evaluation whose tokens fell at flat EM (up to "
                  "early_stopping_max_patience), −1 per quiet evaluation after the first once EM, tokens and λ are "
                  "flat (train/selection.py, adaptive_patience)."},
    )
    early_stopping_max_patience: int = field(
        default=0, metadata={"help": "Adaptive early stopping: the most the patience may grow to (0: 2 × early_stopping_patience)."}
    )
    lr_guard: bool = field(
        default=False,
        metadata={"help": "Performance-aware LR: cut the policy LR by lr_guard_factor while periodic val EM is more "
                  "than lr_guard_tolerance below the floor / best so far; restore it when EM recovers (needs eval_every)."},
    )
    lr_guard_factor: float = field(default=0.5, metadata={"help": "LR multiplier per evaluation below the reference."})
    lr_guard_tolerance: float = field(default=0.02, metadata={"help": "EM below the reference that counts as a fall."})

    def check(self):
        if self.lr_guard and not self.eval_every:
            raise ValueError("lr_guard needs eval_every > 0 (it reacts to the periodic val evaluations)")
        if not 0 < self.lr_guard_factor < 1:
            raise ValueError(f"lr_guard_factor must lie in (0, 1), got {self.lr_guard_factor}")
        if self.selection_tolerance < 0:
            raise ValueError(f"selection_tolerance must be >= 0, got {self.selection_tolerance}")
        if self.early_stopping_patience < 0:
            raise ValueError(f"early_stopping_patience must be >= 0, got {self.early_stopping_patience}")
        if self.early_stopping_max_patience < 0:
            raise ValueError(f"early_stopping_max_patience must be >= 0, got {self.early_stopping_max_patience}")
        if self.early_stopping_adaptive and not self.early_stopping_patience:
            raise ValueError("early_stopping_adaptive adapts early_stopping_patience: set it (e.g. 3) too")
        if self.early_stopping_patience and not self.eval_every:
            raise ValueError("early_stopping_patience needs eval_every > 0 (it watches the periodic evaluations)")


@dataclass
class LayerLRArguments:
    """Learning rates per layer"""

    lora_plus_ratio: float = field(
        default=1.0,
        metadata={"help": "LoRA+: the LoRA B matrices learn at learning_rate × this (PEFT's rule; the paper suggests "
                  "16). 1: one learning rate (train/layerwise.py)."},
    )
    layer_lr_decay: float = field(
        default=1.0,
        metadata={"help": "Per-layer decay: decoder layer i of L learns at learning_rate × this^(L − 1 − i), the top "
                  "layer at learning_rate. 1: off (train/layerwise.py)."},
    )

    def check(self):
        if not self.lora_plus_ratio > 0:
            raise ValueError(f"lora_plus_ratio must be > 0 (1 is off), got {self.lora_plus_ratio}")
        if not 0 < self.layer_lr_decay <= 1:
            raise ValueError(f"layer_lr_decay must lie in (0, 1] (1 is off), got {self.layer_lr_decay}")


@dataclass
class WarmStartArguments:
    """Base model and warm start"""

    warm_start_steps: int = field(default=WARM_START_STEPS, metadata={"help": "SFT steps of the built-in base model."})
    warm_start_pretrained: bool = field(
        default=False,
        metadata={"help": "Fine-tune model_name_or_path (a pretrained LM) on the task's warm-start traces first, "
                  "warm_start_steps steps, cached in cache_dir (tasks with traces: arith, chain*)."},
    )
    warm_start_learning_rate: float | None = field(
        default=None, metadata={"help": "Warm-start SFT learning rate (default: 3e-3 built-in, 5e-5 pretrained)."})
    warm_start_batch_size: int | None = field(
        default=None, metadata={"help": "Warm-start SFT batch size (default: 64 built-in, 16 pretrained)."})
    cache_dir: str = field(default=".cache/terse", metadata={"help": "Where warm-started base models are cached."})

    def check(self):
        if self.warm_start_steps < 1:
            raise ValueError(f"warm_start_steps must be >= 1, got {self.warm_start_steps}")
        if self.warm_start_learning_rate is not None and not self.warm_start_learning_rate > 0:
            raise ValueError(f"warm_start_learning_rate must be > 0, got {self.warm_start_learning_rate}")
        if self.warm_start_batch_size is not None and self.warm_start_batch_size < 1:
            raise ValueError(f"warm_start_batch_size must be >= 1, got {self.warm_start_batch_size}")


@dataclass
class RuntimeArguments:
    """Logging and runtime"""

    torch_threads: int | None = field(default=None, metadata={"help": "torch.set_num_threads (default: the cores divided by the local processes)."})
    step_profile: bool = field(default=False, metadata={"help": "Time each part of every optimizer step (generation, log-probs, backward, "
                               "optimizer, rewards, Terse; synchronised on a GPU) into output_dir/step_profile.json."})

    def check(self):
        pass  # any value is valid: torch checks the thread count


# The groups as a user scans them, everyday ones first: docs/recipes.md's order, and the order of the checks.
GROUPS = (DataArguments, ConstraintArguments, RewardArguments, ScheduleArguments, EvaluationArguments,
          LayerLRArguments, WarmStartArguments, RuntimeArguments, DualArguments, LearnedBudgetArguments,
          ConditioningArguments, AllocatorArguments)
