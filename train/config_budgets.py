"""Terse's arguments, the groups of the controller and the budgets: the dual controller, learned per-prompt
budgets, one adapter for any budget and its allocator (`train/config_groups.py` has the everyday groups and says
how they are joined).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rewards.budgets import ALLOCATIONS  # how learned budgets share the target
from train.budget_statement import DEFAULT_TEMPLATE
from train.dual import DualSettings

DUAL = DualSettings(mode="none")  # the controller's defaults: one source for the dual_* / lambda_* fields
DUAL_MEASURES = ("sampled", "greedy")


@dataclass
class DualArguments:
    """Advanced: the dual controller"""

    dual_lr: float = field(default=DUAL.lr, metadata={"help": "Dual step size (integral gain)."})
    dual_kp: float = field(default=DUAL.kp, metadata={"help": "Proportional gain (0: plain dual ascent)."})
    dual_ema: float = field(default=DUAL.ema, metadata={"help": "EMA factor smoothing the measured constraint."})
    dual_warmup_steps: int = field(default=DUAL.warmup_steps, metadata={"help": "Optimizer steps before λ may move."})
    dual_measure: str = field(
        default="sampled",
        metadata={"help": "Budget mode: what length the controller holds at T — 'sampled' (the training "
                  "completions' mean, free) or 'greedy' (the served length: each step's prompts decoded greedily)."},
    )
    lambda_init: float = field(default=DUAL.lambda_init, metadata={"help": "Initial λ."})
    lambda_max: float = field(default=DUAL.lambda_max, metadata={"help": "Upper bound of λ."})
    dual_em_scale: float = field(
        default=DUAL.em_scale, metadata={"help": "em_floor mode: EM slack that counts as one unit of controller error."}
    )
    dual_trace: bool = field(
        default=True,
        metadata={"help": "Write λ, the controller state and the budget model's weight digest per step and process "
                  "to output_dir/dual_trace/rank{R}.jsonl (what shows every rank held the same λ)."},
    )

    def check(self):
        if self.dual_measure not in DUAL_MEASURES:
            raise ValueError(f"dual_measure must be one of {DUAL_MEASURES}, got {self.dual_measure!r}")
        if self.dual_measure == "greedy" and self.constraint == "em_floor":
            raise ValueError("dual_measure greedy measures served lengths for a token budget; the em_floor "
                             "constraint measures EM (use constraint budget, or dual_measure sampled)")
        if not self.dual_em_scale > 0:
            raise ValueError(f"dual_em_scale must be > 0, got {self.dual_em_scale}")


@dataclass
class LearnedBudgetArguments:
    """Advanced: learned per-prompt budgets"""

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

    def check(self):
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


@dataclass
class ConditioningArguments:
    """One adapter for any budget"""

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
    distill_passage_column: str | None = field(
        default=None,
        metadata={"help": "A text column holding a passage each row's gold answer is quoted from (extractive QA: "
                  "SQuAD's `context`): the sentence that holds the gold, and that sentence with its neighbours, join "
                  "the warm start's right answers where the row's check accepts them — long right answers a small "
                  "model's own samples may lack (SmolLM2 on SQuAD: its right answers were all 4–27 tokens)."},
    )
    distill_cut_to_fit: bool = field(
        default=False,
        metadata={"help": "The grid budgets under a prompt's shortest right answer get that answer cut to fit (its "
                  "first b-1 tokens): a budget too small to be right in still asks for a short answer, not an "
                  "overshoot. Without it those budgets are never stated in the warm start."},
    )
    distill_steps: int = field(default=200, metadata={"help": "SFT steps of the warm start (TRL SFTTrainer, LoRA)."})
    distill_learning_rate: float = field(default=2e-4, metadata={"help": "SFT learning rate of the warm start."})
    conditioning_report_rows: int = field(
        default=64, metadata={"help": "Val rows answered at every grid budget to report adherence before RL."})

    def check(self):
        if not self.budget_conditioned:
            return
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


@dataclass
class AllocatorArguments:
    """Advanced: budget-conditioned policy and allocator"""

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
    allocator_feature: str = field(
        default="auto",
        metadata={"help": "What the allocator groups prompts by: length, column, text (a hashed n-gram model), or "
                  "auto (the lowest cross-validated Brier score; needs allocator_cv_folds >= 2)."},
    )
    allocator_feature_column: str | None = field(
        default=None, metadata={"help": "The data column the column feature reads (a category, a source)."})

    def check(self):
        if self.allocator_feature not in ("auto", "length", "column", "text"):
            raise ValueError(f"allocator_feature must be auto, length, column or text, got {self.allocator_feature!r}")
        if self.allocator_feature == "column" and not self.allocator_feature_column:
            raise ValueError("allocator_feature column needs allocator_feature_column (the data column to read)")
        if self.allocator_cv_folds < 0 or self.allocator_cv_folds == 1:
            raise ValueError(f"allocator_cv_folds must be 0 (off) or >= 2, got {self.allocator_cv_folds}")
