"""Script arguments: what Terse adds to TRL's `GRPOConfig` and `ModelConfig`.

Flat fields so every one can be set on the command line (`--constraint none`, `--budget_ratio 0.4`);
rewards are the exception — a mapping of reward name to its own parameters (see `rewards/__init__.py`),
set in the YAML recipe or as JSON on the command line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from rewards.budgets import ALLOCATIONS  # how learned budgets share the target
from rewards.token_penalty import PENALTY_CAP
from train.budget_statement import DEFAULT_TEMPLATE
from train.dual import MODES, DualSettings

DUAL = DualSettings(mode="none")  # the controller's defaults: one source for the dual_* / lambda_* fields

DUAL_MEASURES = ("sampled", "greedy")
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
class ScriptArguments:
    task: str = field(default="arith", metadata={"help": "A built-in task: arith (the embedded default), chain, chain_graded, "
                      "chain_easy (the benchmark tasks, docs/benchmark.md), chain_budget (chain_easy with a stated budget), "
                      "gsm8k, word_problems (train/tasks); dataset_name replaces it."})
    # -- your own data (train/tasks/dataset.py), named as TRL / open-r1 name them --------------------------
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
    answer_column: str = field(
        default="answer", metadata={"help": "Column holding the gold answer (a string, a number or a list of acceptable answers)."})
    prompt_template: str | None = field(
        default=None, metadata={"help": "Python format string over the row's columns, e.g. '{question}\\n{choices}' "
                                "(replaces prompt_column)."})
    system_prompt: str | None = field(default=None, metadata={"help": "System message put before every prompt."})
    answer_pattern: str | None = field(
        default=None, metadata={"help": "Regex whose first group is the gold answer inside answer_column (GSM8K: '####\\s*(.+)')."})
    answer_check: str = field(
        default="numeric",
        metadata={"help": "How a completion is scored against the gold answer (rewards/answer_check.py): numeric, text "
                  "(SQuAD-normalised; F1 reported too), contains (the gold inside a sentence answer; strict EM and F1 "
                  "reported too), choice (option letter), regex:<pattern>, or module:function."})
    skip_bad_rows: bool = field(
        default=False, metadata={"help": "Drop rows with an empty or missing prompt or answer (and log how many) instead of stopping."})
    data_path: str | None = field(
        default=None, metadata={"help": "Local directory with the task's files instead of the hub (gsm8k)."}
    )
    algorithm: str = field(default="grpo", metadata={"help": "grpo (TRL GRPOTrainer) or rloo (TRL RLOOTrainer)."})
    rewards: JSONMapping = field(
        default_factory=lambda: JSONMapping(json.loads(json.dumps(DEFAULT_REWARDS))),
        metadata={"help": "Mapping reward name -> parameters (YAML, or JSON on the command line)."},
    )
    # -- the constraint and its dual controller --------------------------------------------------------
    constraint: str = field(default="budget", metadata={"help": f"One of {MODES}; none trains on EM only."})
    budget_tokens: float | None = field(default=None, metadata={"help": "Absolute mean-token target T."})
    budget_ratio: float | None = field(
        default=None, metadata={"help": "T as a fraction of the base model's mean val tokens, in (0, 1]."}
    )
    em_floor: float | None = field(default=None, metadata={"help": "Absolute EM floor F in [0, 1] (em_floor mode)."})
    em_tolerance: float | None = field(
        default=None, metadata={"help": "F = base val EM minus this (em_floor mode)."}
    )
    dual_lr: float = field(default=DUAL.lr, metadata={"help": "Dual step size (integral gain)."})
    dual_kp: float = field(default=DUAL.kp, metadata={"help": "Proportional gain (0: plain dual ascent)."})
    dual_ema: float = field(default=DUAL.ema, metadata={"help": "EMA factor smoothing the measured constraint."})
    dual_em_scale: float = field(
        default=DUAL.em_scale, metadata={"help": "em_floor mode: EM slack that counts as one unit of controller error."}
    )
    dual_warmup_steps: int = field(default=DUAL.warmup_steps, metadata={"help": "Optimizer steps before λ may move."})
    dual_measure: str = field(
        default="sampled",
        metadata={"help": "Budget mode: what length the controller holds at T — 'sampled' (the training "
                  "completions' mean, free) or 'greedy' (the served length: each step's prompts decoded greedily)."},
    )
    dual_trace: bool = field(
        default=True,
        metadata={"help": "Write λ, the controller state and the budget model's weight digest per step and process "
                  "to output_dir/dual_trace/rank{R}.jsonl (what shows every rank held the same λ)."},
    )
    lambda_init: float = field(default=DUAL.lambda_init, metadata={"help": "Initial λ."})
    lambda_max: float = field(default=DUAL.lambda_max, metadata={"help": "Upper bound of λ."})
    learned_budget: bool = field(
        default=False,
        metadata={"help": "Learn a per-prompt token budget online and hand it to the rewards as `token_budget`."},
    )
    budget_allocation: str = field(
        default="proportional",
        metadata={"help": "How learned budgets share the target: 'proportional' (T · need(x) / mean need) or "
                  "'frontier' (the allocation frontier's rule on learned reliability curves: a prompt's long "
                  "answer is funded only where it buys accuracy; rewards/budgets/frontier.py) or 'knapsack' (the same curves, "
                  "one length per kind of prompt: a knapsack over prompt-size groups spending up to 1.05 × T) or "
                  "'monotone' (the knapsack with no larger prompt answered shorter than a smaller one: one threshold "
                  "on the prompt's size, which a small policy can follow)."},
    )
    budget_kind_split: int = field(
        default=1,
        metadata={"help": "knapsack: split each prompt-size group into this many kinds by the prompt's first word, "
                  "so the knapsack can give up a share of one size (rewards/budgets/frontier.py kind_of); 1: size only."},
    )
    budget_quantile: float = field(
        default=0.25, metadata={"help": "Quantile of a prompt's reliably-correct lengths the budget model regresses on."}
    )
    budget_reliable_accuracy: float = field(
        default=0.85,
        metadata={"help": "Accuracy (on fresh prompts) from which a completion length counts as sufficient for the budget model."},
    )
    # -- the dynamic token budget: one run, a whole front (train/schedule.py) -----------------------------
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
    # -- one adapter for any budget: budget conditioning on any task and model (train/conditioning.py) -----
    budget_conditioned: bool = field(
        default=False,
        metadata={"help": "Train one adapter that answers within a token budget stated in its prompt (warm start by "
                  "self-distillation, RL over sampled budgets), served through an allocator that holds T = "
                  "budget_ratio × base tokens; the same adapter serves any other T."},
    )
    budget_prompt_template: str = field(
        default=DEFAULT_TEMPLATE,
        metadata={"help": "How a budget is stated: {budget} is the budget in units; a system message for chat "
                  "prompts, appended to text prompts, or placed by {prompt} if the template names it."},
    )
    budget_unit: int = field(default=1, metadata={"help": "The statement counts units of this many tokens."})
    budget_grid: str | None = field(
        default=None,
        metadata={"help": "Budgets (tokens) the adapter learns and the allocator may state, e.g. 8,16,32,64 "
                  "(default: derived, geometric from the base model's shortest right answers to the cap)."},
    )
    budget_grid_points: int = field(default=8, metadata={"help": "Budgets in a derived grid."})
    adherence_target: float = field(
        default=0.95,
        metadata={"help": "RL prices overshoot of the stated budget by a λ the dual controller holds so that this "
                  "share of answers fits their budget."},
    )
    overshoot_price: float | None = field(
        default=None,
        metadata={"help": "A fixed price of overshoot instead of the dual-held one (chain_budget's recipe: 3.0)."},
    )
    distill_rows: int = field(default=256, metadata={"help": "Train prompts the base model answers for the warm start."})
    distill_samples: int = field(default=2, metadata={"help": "Sampled answers per prompt and instruction."})
    distill_temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of those answers."})
    distill_instructions: str = field(
        default="Answer in as few words as possible.|Explain your answer step by step.",
        metadata={"help": "Length-eliciting instructions, separated by |, each sampled beside the plain prompt."},
    )
    distill_every_budget: bool = field(
        default=False,
        metadata={"help": "Tag each right answer with every grid budget for which it is the longest right answer that "
                  "fits (one SFT example per budget, the same prompt side by side at each), instead of one budget "
                  "drawn from them. For few prompts with few right answers each (SQuAD: 255 examples over 8 budgets)."},
    )
    distill_steps: int = field(default=200, metadata={"help": "SFT steps of the warm start (TRL SFTTrainer, LoRA)."})
    distill_learning_rate: float = field(default=2e-4, metadata={"help": "SFT learning rate of the warm start."})
    conditioning_report_rows: int = field(
        default=64, metadata={"help": "Val rows answered at every grid budget to report adherence before RL."})
    allocator_feature: str = field(
        default="auto",
        metadata={"help": "What the allocator groups prompts by: length, column, text (a hashed n-gram model), or "
                  "auto (the lowest cross-validated Brier score; needs allocator_cv_folds >= 2)."},
    )
    allocator_feature_column: str | None = field(
        default=None, metadata={"help": "The data column the column feature reads (a category, a source)."})
    # -- budget-conditioned policy and its allocator (train/allocator.py; tasks with a budget tag) ------
    allocator_fit_rows: int = field(
        default=600,
        metadata={"help": "Train prompts (never val) the policy answers at every budget of the grid after training, "
                  "to fit the allocator's P(correct | prompt group, budget)."},
    )
    allocator_cv_folds: int = field(
        default=0,
        metadata={"help": "Choose the allocator fit's shrinkage and number of prompt groups by this many folds of "
                  "cross-validation on its calibration rows (0: the defaults, 2.0 and 12)."},
    )
    allocator_grid: str | None = field(
        default=None,
        metadata={"help": "Budgets (tokens) the allocator may state, e.g. 10,20,40 (default: every budget the task's tag "
                  "can state, up to max_completion_length)."},
    )
    # -- data, base model, evaluation ------------------------------------------------------------------
    val_size: int | None = field(default=None, metadata={"help": "Use only the first N val rows (default: all)."})
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
    lr_guard: bool = field(
        default=False,
        metadata={"help": "Performance-aware LR: cut the policy LR by lr_guard_factor while periodic val EM is more "
                  "than lr_guard_tolerance below the floor / best so far; restore it when EM recovers (needs eval_every)."},
    )
    lr_guard_factor: float = field(default=0.5, metadata={"help": "LR multiplier per evaluation below the reference."})
    lr_guard_tolerance: float = field(default=0.02, metadata={"help": "EM below the reference that counts as a fall."})
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
    step_profile: bool = field(default=False, metadata={"help": "Time each part of every optimizer step (generation, log-probs, backward, "
                               "optimizer, rewards, Terse; synchronised on a GPU) into output_dir/step_profile.json."})
    torch_threads: int | None = field(default=None, metadata={"help": "torch.set_num_threads (default: the cores divided by the local processes)."})

    def __post_init__(self):
        from rewards.answer_check import validate

        validate(self.answer_check)  # an unknown check, or a module:function that cannot be imported, fails here
        if self.answer_check != "numeric" and not self.dataset_name:
            raise ValueError(f"answer_check {self.answer_check!r} needs your own data (dataset_name): the built-in task "
                             f"{self.task!r} has numeric answers")
        if self.algorithm not in ("grpo", "rloo"):
            raise ValueError(f"algorithm must be 'grpo' or 'rloo', got {self.algorithm!r}")
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
        if self.budget_schedule is not None:
            from train.schedule import parse_schedule

            if self.constraint != "budget":
                raise ValueError(f"budget_schedule moves a token budget: it needs constraint budget, got {self.constraint!r}")
            if not isinstance(self.budget_schedule, str):  # a YAML list
                self.budget_schedule = ",".join(str(x) for x in self.budget_schedule)
            if self.budget_stage_steps is not None:
                self.budget_stage_steps = str(self.budget_stage_steps)
            if parse_schedule(self.budget_schedule) is None and self.em_floor is None and self.em_tolerance is None:
                self.em_tolerance = 0.02  # auto's floor: base EM − 0.02 unless given
        if self.dual_measure not in DUAL_MEASURES:
            raise ValueError(f"dual_measure must be one of {DUAL_MEASURES}, got {self.dual_measure!r}")
        if self.dual_measure == "greedy" and self.constraint == "em_floor":
            raise ValueError("dual_measure greedy measures served lengths for a token budget; the em_floor "
                             "constraint measures EM (use constraint budget, or dual_measure sampled)")
        if self.warm_start_steps < 1:
            raise ValueError(f"warm_start_steps must be >= 1, got {self.warm_start_steps}")
        if self.warm_start_learning_rate is not None and not self.warm_start_learning_rate > 0:
            raise ValueError(f"warm_start_learning_rate must be > 0, got {self.warm_start_learning_rate}")
        if self.warm_start_batch_size is not None and self.warm_start_batch_size < 1:
            raise ValueError(f"warm_start_batch_size must be >= 1, got {self.warm_start_batch_size}")
        if self.lr_guard and not self.eval_every:
            raise ValueError("lr_guard needs eval_every > 0 (it reacts to the periodic val evaluations)")
        if not 0 < self.lr_guard_factor < 1:
            raise ValueError(f"lr_guard_factor must lie in (0, 1), got {self.lr_guard_factor}")
        if not self.dual_em_scale > 0:
            raise ValueError(f"dual_em_scale must be > 0, got {self.dual_em_scale}")
        if self.selection_tolerance < 0:
            raise ValueError(f"selection_tolerance must be >= 0, got {self.selection_tolerance}")
        if self.early_stopping_patience < 0:
            raise ValueError(f"early_stopping_patience must be >= 0, got {self.early_stopping_patience}")
        if not self.lora_plus_ratio > 0:
            raise ValueError(f"lora_plus_ratio must be > 0 (1 is off), got {self.lora_plus_ratio}")
        if not 0 < self.layer_lr_decay <= 1:
            raise ValueError(f"layer_lr_decay must lie in (0, 1] (1 is off), got {self.layer_lr_decay}")
        if self.budget_conditioned:
            from train.budget_statement import BudgetStatement, parse_grid

            BudgetStatement(self.budget_prompt_template, self.budget_unit)  # a bad template fails here
            if self.budget_grid is not None:
                if not isinstance(self.budget_grid, str):  # a YAML list
                    self.budget_grid = ",".join(str(x) for x in self.budget_grid)
                parse_grid(self.budget_grid)
            if not 0 < self.adherence_target <= 1:
                raise ValueError(f"adherence_target must lie in (0, 1], got {self.adherence_target}")
            if self.overshoot_price is not None and self.overshoot_price < 0:
                raise ValueError(f"overshoot_price must be >= 0 (or unset: held by the dual controller), got "
                                 f"{self.overshoot_price}")
            if min(self.distill_rows, self.distill_samples, self.distill_steps, self.budget_grid_points - 1) < 1:
                raise ValueError("distill_rows, distill_samples and distill_steps must be >= 1, budget_grid_points >= 2")
            if self.learned_budget or self.budget_schedule is not None:
                raise ValueError("budget_conditioned states each prompt's budget itself: turn off learned_budget and "
                                 "budget_schedule")
        if self.allocator_feature not in ("auto", "length", "column", "text"):
            raise ValueError(f"allocator_feature must be auto, length, column or text, got {self.allocator_feature!r}")
        if self.allocator_feature == "column" and not self.allocator_feature_column:
            raise ValueError("allocator_feature column needs allocator_feature_column (the data column to read)")
        if self.allocator_cv_folds < 0 or self.allocator_cv_folds == 1:
            raise ValueError(f"allocator_cv_folds must be 0 (off) or >= 2, got {self.allocator_cv_folds}")
        if self.early_stopping_max_patience < 0:
            raise ValueError(f"early_stopping_max_patience must be >= 0, got {self.early_stopping_max_patience}")
        if self.early_stopping_adaptive and not self.early_stopping_patience:
            raise ValueError("early_stopping_adaptive adapts early_stopping_patience: set it (e.g. 3) too")
        if self.early_stopping_patience and not self.eval_every:
            raise ValueError("early_stopping_patience needs eval_every > 0 (it watches the periodic evaluations)")
        if self.budget_allocation not in ALLOCATIONS:
            raise ValueError(f"budget_allocation must be one of {ALLOCATIONS}, got {self.budget_allocation!r}")
        if self.budget_kind_split < 1:
            raise ValueError(f"budget_kind_split must be >= 1, got {self.budget_kind_split}")
        if self.budget_kind_split > 1 and self.budget_allocation != "knapsack":
            raise ValueError("budget_kind_split > 1 splits the knapsack's kinds: it needs budget_allocation knapsack, "
                             f"got {self.budget_allocation!r} (monotone orders its kinds by size alone)")
        if not 0 < self.budget_reliable_accuracy <= 1:
            raise ValueError(f"budget_reliable_accuracy must lie in (0, 1], got {self.budget_reliable_accuracy}")
        if not 0 <= self.budget_quantile <= 1:
            raise ValueError(f"budget_quantile must lie in [0, 1], got {self.budget_quantile}")
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


# -- the arguments as a user scans them: groups, everyday ones first (docs/recipes.md is generated from these) --
GROUPS: dict[str, tuple[str, ...]] = {
    "Data": ("task", "dataset_name", "dataset_config", "dataset_train_split", "dataset_val_split",
             "dataset_test_split", "prompt_column", "prompt_template", "system_prompt", "answer_column",
             "answer_pattern", "answer_check", "skip_bad_rows", "val_size", "data_path"),
    "Budget or floor": ("constraint", "budget_tokens", "budget_ratio", "em_floor", "em_tolerance"),
    "Rewards and algorithm": ("rewards", "algorithm"),
    "Schedule: one run, a whole front": ("budget_schedule", "budget_stage_steps", "budget_schedule_start",
                                         "budget_schedule_factor", "budget_schedule_stages"),
    "Evaluation, selection, stopping": ("eval_every", "select_checkpoint", "selection_tolerance",
                                        "early_stopping_patience", "early_stopping_adaptive",
                                        "early_stopping_max_patience", "lr_guard", "lr_guard_factor",
                                        "lr_guard_tolerance"),
    "Learning rates per layer": ("lora_plus_ratio", "layer_lr_decay"),
    "Base model and warm start": ("warm_start_steps", "warm_start_pretrained", "warm_start_learning_rate",
                                  "warm_start_batch_size", "cache_dir"),
    "Logging and runtime": ("torch_threads", "step_profile"),
    "Advanced: the dual controller": ("dual_lr", "dual_kp", "dual_ema", "dual_warmup_steps", "dual_measure",
                                      "lambda_init", "lambda_max", "dual_em_scale", "dual_trace"),
    "Advanced: learned per-prompt budgets": ("learned_budget", "budget_allocation", "budget_kind_split",
                                             "budget_quantile", "budget_reliable_accuracy"),
    "One adapter for any budget": ("budget_conditioned", "budget_prompt_template", "budget_unit", "budget_grid",
                                   "budget_grid_points", "adherence_target", "overshoot_price", "distill_rows",
                                   "distill_samples", "distill_temperature", "distill_instructions", "distill_every_budget", "distill_steps",
                                   "distill_learning_rate", "conditioning_report_rows"),
    "Advanced: budget-conditioned policy and allocator": ("allocator_fit_rows", "allocator_cv_folds", "allocator_grid",
                                                          "allocator_feature", "allocator_feature_column"),
}
MARKERS = ("<!-- arguments: generated by `python -m train.config --markdown`; edit train/config.py -->",
           "<!-- end of generated arguments -->")


def markdown_table() -> str:
    """Every Terse argument under its group's heading: name, type, default and help, from the fields."""
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(ScriptArguments)}
    lines = []
    for heading, names in GROUPS.items():
        lines += [f"**{heading}**", "", "| argument | type | default | meaning |", "|---|---|---|---|"]
        for name in names:
            f = fields[name]
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            shown = json.dumps(default) if isinstance(default, dict) else ("—" if default is None else f"`{default}`")
            # the annotation as written (HfArgumentParser replaces `f.type` by the resolved class in place)
            kind = str(ScriptArguments.__annotations__[name]).replace("JSONMapping", "mapping").replace(" | None", " (optional)")
            text = f.metadata.get("help", "").replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{name}` | {kind} | {shown} | {text} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m train.config --markdown   (the argument tables of docs/recipes.md)")
    print(MARKERS[0])
    print(markdown_table(), end="")
    print(MARKERS[1])
