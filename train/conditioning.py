"""One adapter for any budget, on any task and model: `--budget_conditioned true`.

The prompt states a token budget (`train/budget_statement.py`), the adapter learns to answer as well as it can
within it, and an allocator (`train/allocator.py`) picks each prompt's budget at serving time so that mean
tokens hold T. Three stages, each in this file:

1. **A warm start that teaches the base model to keep a stated budget** (`distill_warm_start`), with no
   outside model: the base model answers each of `distill_rows` train prompts `distill_samples` times at
   `distill_temperature`, once plainly and once under each of `distill_instructions` ("Answer in a few
   words.", "Explain step by step.": length-eliciting, so one prompt gets right answers of several lengths).
   The answers the run's answer check marks right are kept, with each row's gold answer where that check
   accepts it and, `distill_passage_column`, the passage's sentences that hold the gold (candidates:
   `train/distill_answers.py`); a task with its own right answers of several lengths (`budget_answers`:
   chain_easy's traces in every mode) gives those instead. Each is tagged with a grid budget for which it is
   the longest right answer that fits (`tag_answers`; `distill_cut_to_fit`: the budgets under a prompt's
   shortest right answer get it cut to fit), and the adapter is fine-tuned on (prompt + budget statement →
   answer) with TRL's SFTTrainer. Cached in `cache_dir/conditioned/` by every setting that changes it. Why
   self-distillation: the answers are the model's own or the data's (nothing it cannot already say), so the
   warm start teaches only *which* of them fits which budget.
2. **RL over sampled budgets** (`ConditionedTask.rl_dataset`): each RL prompt states a budget drawn
   log-uniformly from the grid; the reward is EM − λ·overshoot(n, b) (`budget_penalty` reading the row's
   `token_budget`, every answer charged: adherence is the contract), λ held by the dual controller to
   `adherence_target` (train/dual.py, adherence mode), or fixed by `overshoot_price`.
3. **The allocator** (train/allocator_stage.py `fit_allocator`): fitted on the policy's answers to calibration prompts
   (a fifth of train, never in RL or the warm start) at every grid budget, over the feature family chosen by
   cross-validation (`train/allocator_features.py`).

The grid (`budget_grid`, else derived): geometric from the shortest right answers — the base model's plain
and instructed samples and the accepted golds, on train prompts, not val — up to the completion cap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from train import tasks
from train.budget_statement import BudgetStatement, derive_grid, sampling_weights
from train.distill_answers import cut_to_fit, gold_answers, passage_answers, sample_answers

logger = logging.getLogger(__name__)

CALIBRATION_SHARE = 5  # one train prompt in five calibrates the allocator (never in RL or the warm start)


def _hash_share(prompt, salt: str, share: int) -> bool:
    text = prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True)
    return int.from_bytes(hashlib.blake2b((salt + text).encode(), digest_size=4).digest(), "little") % share == 0


def is_calibration(prompt) -> bool:
    """Whether a train prompt is held out to calibrate the allocator (a stable hash of its text)."""
    return _hash_share(prompt, "calibration\x00", CALIBRATION_SHARE)


@dataclass(frozen=True)
class ConditionedTask:
    """Any task (built-in or your data), its prompts stating a budget: what `--budget_conditioned true` runs.

    It answers what the pipeline asks of a budget-conditioned task (`budget_prompt`, `budget_grid`,
    `budget_tag`, `calibration_rows`) and hands everything else to the task it wraps."""

    inner: object
    statement: BudgetStatement = BudgetStatement()
    grid: tuple = ()
    seed: int = 0

    @property
    def name(self) -> str:
        return self.inner.name

    def __getattr__(self, attr):  # load, test_rows, sft_rows, ...: the wrapped task's
        if attr.startswith("__") or attr in ("inner", "statement", "grid", "seed"):
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def with_grid(self, grid: list[int]) -> ConditionedTask:
        return replace(self, grid=tuple(sorted(grid)))

    def budget_grid(self) -> list[int]:
        if not self.grid:
            raise ValueError("the budget grid is not set yet (it is derived after the warm start's samples)")
        return list(self.grid)

    def budget_prompt(self, prompt, budget: float):
        return self.statement.state(prompt, budget)

    def budget_tag(self) -> dict:
        return {"tag": self.statement.template, "tag_unit": self.statement.unit}

    def calibration_rows(self, train_rows: list[dict]) -> list[dict]:
        return [r for r in train_rows if is_calibration(r["prompt"])]

    def learning_rows(self, train_rows: list[dict]) -> list[dict]:
        """The train rows the warm start and RL may use: all but the calibration rows."""
        return [r for r in train_rows if not is_calibration(r["prompt"])]

    def rl_dataset(self, train_rows: list[dict]):
        """The wrapped task's RL dataset over the learning rows, each prompt stating a budget drawn
        log-uniformly from the grid (by `seed`), which the reward reads as `token_budget`."""
        dataset = self.inner.rl_dataset(self.learning_rows(train_rows))
        grid, weights = self.budget_grid(), sampling_weights(self.budget_grid())
        rng = random.Random(self.seed * 1000 + 79)
        budgets = rng.choices(grid, weights=weights, k=len(dataset))

        def stated(row, index):
            return {"prompt": self.statement.state(row["prompt"], budgets[index]), "token_budget": float(budgets[index])}

        return dataset.map(stated, with_indices=True)


# -- the warm start: self-distillation ------------------------------------------------------------------------
def budget_ranges(lengths: list[int], grid: list[int]) -> list[list[int]]:
    """For one prompt's right answers of `lengths` tokens (sorted, distinct), the grid budgets for which each
    is the longest right answer that fits: answer i gets [its length, the next one's length − 1], the longest
    answer every budget from its length up. An answer whose range holds no grid budget gets none (the next,
    longer answer fits the same budgets and is preferred there).

    >>> budget_ranges([4, 10, 40], [5, 10, 15, 20, 40, 80])
    [[5], [10, 15, 20], [40, 80]]
    """
    out = []
    for i, n in enumerate(lengths):
        hi = lengths[i + 1] - 1 if i + 1 < len(lengths) else max(grid)
        out.append([b for b in grid if n <= b <= hi])
    return out


def tag_answers(samples: list[dict], grid: list[int], seed: int = 0, every_budget: bool = False) -> list[dict]:
    """The warm start's examples from candidate answers {prompt, completion, tokens, correct}: per prompt, its
    right answers (one per length, the first seen), each tagged with a budget drawn from the grid budgets for
    which it is the longest right answer that fits (`budget_ranges`) — or, `every_budget`, once with each of
    them. Longer than the grid's largest: dropped.

    Why a range and not the tightest budget each answer fits: tagged with the tightest budget only, the
    budgets between answer lengths are never stated in training. Measured on chain_easy (seed 0, grid 5–100,
    300 LoRA steps): the budgets no example stated were kept on 17% (15 tokens) to 63% (35) of val answers,
    against 100% at 5 and 90% at 50 — a model told 15 wrote its 27-token answer. With every grid budget
    stated, "budget b" reads as "the longest answer you know to be right within b" at every b, as
    `chain_budget`'s tagged traces taught it.

    >>> s = [{"prompt": "q", "completion": c, "tokens": n, "correct": ok}
    ...      for c, n, ok in [(" 7", 2, True), (" it is 7", 4, True), (" 8", 2, False), (" so 7", 4, True)]]
    >>> [(t["completion"], t["budget"]) for t in tag_answers(s, [2, 3, 8])]
    [(' 7', 3), (' it is 7', 8)]
    >>> [(t["completion"], t["budget"]) for t in tag_answers(s, [2, 3, 8], every_budget=True)]
    [(' 7', 2), (' 7', 3), (' it is 7', 8)]

    Why every budget as an option: with few right answers per prompt (SmolLM2 on SQuAD: 255 over 8 budgets, 5 of
    them at 2 tokens) one drawn budget per answer leaves the small budgets all but unstated and never shows the
    same prompt at two budgets; every budget puts each prompt's short and long answers side by side, so only
    the statement tells them apart.
    """
    import random

    rng = random.Random(seed * 1000 + 80)
    by_prompt: dict[str, dict[int, dict]] = {}
    for s in samples:
        if s["correct"] and s["tokens"] <= max(grid):
            by_prompt.setdefault(json.dumps(s["prompt"], sort_keys=True), {}).setdefault(s["tokens"], s)
    out = []
    for answers in by_prompt.values():
        lengths = sorted(answers)
        for n, budgets in zip(lengths, budget_ranges(lengths, sorted(grid)), strict=True):
            for budget in (budgets if every_budget else [rng.choice(budgets)] if budgets else []):
                out.append({**answers[n], "budget": budget})
    return out


def sft_examples(tagged: list[dict], statement: BudgetStatement) -> list[dict]:
    """(prompt + budget statement → answer) rows for TRL's SFTTrainer (chat prompts: an assistant message)."""
    rows = []
    for t in tagged:
        prompt = statement.state(t["prompt"], t["budget"])
        completion = t["completion"] if isinstance(prompt, str) else [{"role": "assistant", "content": t["completion"]}]
        rows.append({"prompt": prompt, "completion": completion})
    return rows


def adherence_by_budget(records: list[dict]) -> dict:
    """{"budget": {n, em, adherence, mean_tokens}} from budget records {budget, correct, tokens}: the front's
    per-budget table (`train.front.per_budget`), keyed for JSON."""
    from train.front import per_budget

    return {str(b): figures for b, figures in per_budget(records).items()}


def distill_key(model_path: str, script_args, training_args, model_args, rows: list[dict]) -> str:
    """What changes the warm start: the model, the adapter's shape, the statement, the sampling, the SFT and the
    rows. (Without the adapter's shape a run asking for LoRA r 64 was handed the cached r 16 adapter.)"""
    fields = {k: getattr(script_args, k) for k in (
        "budget_prompt_template", "budget_unit", "budget_grid", "budget_grid_points", "distill_rows",
        "distill_samples", "distill_temperature", "distill_instructions", "distill_steps", "distill_learning_rate")}
    fields |= {f"peft_{k}": getattr(model_args, k, None) for k in (
        "use_peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "lora_modules_to_save", "use_dora")}
    fields |= {"model": str(model_path), "seed": training_args.seed, "cap": training_args.max_completion_length,
               "tagging": "longest-fitting range",  # tag_answers' rule (the first one tagged the tightest budget)
               **({"every_budget": True} if script_args.distill_every_budget else {}),  # earlier keys unchanged
               **({"passage": script_args.distill_passage_column} if script_args.distill_passage_column else {}),
               **({"cut_to_fit": True} if script_args.distill_cut_to_fit else {}),
               "rows": hashlib.sha256(json.dumps([r["prompt"] for r in rows], sort_keys=True).encode()).hexdigest()}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:12]


def distill_warm_start(ctx, task: ConditionedTask):
    """Stage: sample, tag, fine-tune (cached). Returns (the model with its trained adapter, the grid, a report
    of the samples and of adherence and EM per budget on val before RL)."""
    from trl import get_peft_config

    from train.budget_statement import parse_grid
    from train.files import write_json_atomic

    script_args, training_args, model_args = ctx.script_args, ctx.training_args, ctx.model_args
    rows = task.learning_rows(ctx.train_rows)
    rows = random.Random(training_args.seed).sample(rows, min(len(rows), script_args.distill_rows))
    key = distill_key(ctx.model_path, script_args, training_args, model_args, rows)
    cache = Path(script_args.cache_dir) / "conditioned" / key
    peft_config = get_peft_config(model_args)
    if (cache / "distill.json").exists():
        logger.info("budget warm start: using the cached one in %s", cache)
        report = json.loads((cache / "distill.json").read_text())
        return _load_adapter(ctx.model, cache, peft_config), report["grid"], report
    if ctx.state is not None and ctx.state.num_processes > 1:
        raise RuntimeError("the budget warm start is built in one process: run this recipe once without "
                           "`accelerate launch` (or with --num_processes 1) to cache it, then launch again")
    if isinstance(task.inner, tasks.HasBudgetAnswers):  # a task with its own right answers of several lengths
        samples = task.inner.budget_answers(rows)
    else:
        column = script_args.distill_passage_column  # quoted first: a column the data lack stops before sampling
        passages = passage_answers(ctx.tokenizer, rows, column) if column else []
        samples = _cached_samples(ctx, rows, cache.parent) + gold_answers(ctx.tokenizer, rows) + passages
    right = [s["tokens"] for s in samples if s["correct"]]
    grid = parse_grid(script_args.budget_grid) if script_args.budget_grid else \
        derive_grid(right, ctx.max_new, script_args.budget_grid_points, unit=script_args.budget_unit)
    tagged = tag_answers(samples, grid, training_args.seed, every_budget=script_args.distill_every_budget)
    if script_args.distill_cut_to_fit:
        tagged += cut_to_fit(ctx.tokenizer, samples, grid)
    if not tagged:
        raise ValueError("budget warm start: none of the base model's sampled answers was right, so there is "
                         "nothing to teach it; check the answer check and prompts with the preflight first")
    examples = sft_examples(tagged, task.statement)
    logger.info("budget warm start: %d samples, %d right, %d distinct right answers over the grid %s",
                len(samples), len(right), len(examples), grid)
    tmp = Path(tempfile.mkdtemp(prefix=key + ".tmp-", dir=_mkdir(cache.parent)))
    try:
        model = _fine_tune(ctx, examples, peft_config, tmp)
        by_budget = adherence_by_budget(_val_sweep(model, ctx, task, grid))
        report = {"grid": grid, "samples": len(samples), "right": len(right), "examples": len(examples),
                  "by_instruction": _by_instruction(samples), "tagged_per_budget": _count(tagged, grid),
                  "before_rl": by_budget, "steps": script_args.distill_steps}
        write_json_atomic(str(tmp / "distill.json"), report)
        if cache.exists():
            shutil.rmtree(cache)
        tmp.replace(cache)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for b, fig in report["before_rl"].items():
        logger.info("budget warm start, val at budget %s: EM %.3f, adherence %.3f, %.1f tokens", b, fig["em"],
                    fig["adherence"], fig["mean_tokens"])
    return model, grid, report


def _cached_samples(ctx, rows: list[dict], folder: Path) -> list[dict]:
    """The base model's sampled answers, cached apart from the warm start (`samples-<key>.json`) by what changes
    them only — the model, the rows, the instructions, the sampling and the cap — so that a new tagging rule or
    SFT setting reuses them (SmolLM2 on SQuAD: 480 samples, ~8 min on one CPU thread)."""
    from train.files import JsonCache

    a, t = ctx.script_args, ctx.training_args
    fields = {"model": str(ctx.model_path), "dtype": str(getattr(ctx.model_args, "dtype", None)), "seed": t.seed,
              "cap": ctx.max_new, "instructions": a.distill_instructions,
              "samples": a.distill_samples, "temperature": a.distill_temperature,
              "rows": [[r["prompt"], r.get("answer"), r.get("answer_check")] for r in rows]}  # what `correct` reads
    key = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:12]
    cache = JsonCache(str(folder / f"samples-{key}.json"))
    samples = cache.read()
    if samples is not None:
        logger.info("budget warm start: using the cached samples in %s", cache.path)
        return samples
    samples = sample_answers(ctx, rows)
    cache.write(samples)
    return samples


def _fine_tune(ctx, examples: list[dict], peft_config, out: Path):
    """The warm start's SFT (TRL SFTTrainer on the LoRA adapter, loss on the answer only); the adapter is saved
    in `out`. Returns the model with its trained adapter."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    script_args, training_args = ctx.script_args, ctx.training_args
    torch.manual_seed(training_args.seed)
    config = SFTConfig(
        output_dir=str(out / "sft"), max_steps=script_args.distill_steps,
        per_device_train_batch_size=min(16, len(examples)), learning_rate=script_args.distill_learning_rate,
        lr_scheduler_type="cosine", warmup_steps=max(1, script_args.distill_steps // 20), logging_steps=10,
        save_strategy="no", report_to="none", seed=training_args.seed, data_seed=training_args.seed,
        completion_only_loss=True, dataloader_num_workers=0, use_cpu=training_args.use_cpu,
        bf16=training_args.bf16, gradient_checkpointing=training_args.gradient_checkpointing,
        max_length=None)
    trainer = SFTTrainer(model=ctx.model, args=config, train_dataset=Dataset.from_list(examples),
                         processing_class=ctx.tokenizer, peft_config=peft_config)
    trainer.train()
    trainer.model.save_pretrained(out)
    shutil.rmtree(out / "sft", ignore_errors=True)
    return trainer.model


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _load_adapter(model, cache: Path, peft_config):
    """The cached warm start onto the base model: its LoRA adapter, trainable (RL continues it)."""
    if peft_config is None:
        raise ValueError("--budget_conditioned true trains a LoRA adapter: set use_peft true")
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(cache), is_trainable=True)


def _val_sweep(model, ctx, task: ConditionedTask, grid: list[int]) -> list[dict]:
    from train.served_eval import budget_records

    rows = ctx.val_rows[: ctx.script_args.conditioning_report_rows]
    return budget_records(model, ctx.tokenizer, rows, grid, task.budget_prompt, ctx.max_new)


def _by_instruction(samples: list[dict]) -> dict:
    out: dict = {}
    for instruction in dict.fromkeys(s["instruction"] for s in samples):
        at = [s for s in samples if s["instruction"] == instruction]
        out[instruction or "(none)"] = {"n": len(at), "em": sum(s["correct"] for s in at) / len(at),
                                        "mean_tokens": sum(s["tokens"] for s in at) / len(at)}
    return out


def _count(tagged: list[dict], grid: list[int]) -> dict:
    return {str(b): sum(t["budget"] == b for t in tagged) for b in grid}
