"""Terse's entry point: RL fine-tuning that makes a model spend fewer tokens without losing accuracy.

    accelerate launch train/run.py                                  # the embedded default recipe
    accelerate launch train/run.py --config configs/arith.yaml --max_steps 20 --output_dir runs/try

`main()` reads top to bottom as named stages: recipe → task → base model → baseline evaluation → budget
schedule (if any) → the targets (`train/target.py`) → dual controller → rewards → trainer (`train/rl_setup.py`)
→ training → selection and final evaluation → allocator (`train/allocator_stage.py`) → adapter, export and
summary.json (`train/outputs.py`). The stages not imported are functions below `main()`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from train import tasks
from train.allocator_stage import fit_allocator
from train.outputs import Outcome, write_outputs
from train.rl_setup import build_controller, build_rewards, build_trainer
from train.target import Targets, compute_targets, constraint_value


REPO = Path(__file__).resolve().parent.parent
DEFAULT_RECIPE = REPO / "configs" / "arith.yaml"
logger = logging.getLogger("terse")


def parse_args(argv: list[str] | None = None):
    """(script, training, model) arguments from the YAML recipe (default: configs/arith.yaml) + CLI."""
    from trl import GRPOConfig, ModelConfig, TrlParser

    from train.config import ScriptArguments

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--config" not in argv:
        argv = ["--config", str(DEFAULT_RECIPE), *argv]
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "--use_cpu" not in argv:
        import torch

        # Several processes and not one GPU each (a CPU-only machine, or the CPU config on a one-GPU machine,
        # where rank 1 would ask for a CUDA device that is not there): torch.distributed over gloo on the CPU.
        if cpu_fallback(int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"])), torch.cuda.device_count()):
            argv += ["--use_cpu", "true"]
    parser = TrlParser((ScriptArguments, GRPOConfig, ModelConfig))
    return parser.parse_args_and_config(argv)


@dataclass
class RunContext:
    """What the stages share. main() fills it stage by stage: a stage reads the context and returns what it
    made, and no stage writes into the recipe's three argument objects or into another stage's results."""

    script_args: Any
    training_args: Any
    model_args: Any
    started: float = 0.0
    state: Any = None  # accelerate's PartialState
    task: Any = None
    train_rows: list = field(default_factory=list)
    val_rows: list = field(default_factory=list)
    model: Any = None
    tokenizer: Any = None
    model_path: str = ""
    base: dict = field(default_factory=dict)  # the base model's greedy val evaluation
    schedule: Any = None  # train.schedule.BudgetSchedule, or None for one fixed target
    targets: Targets | None = None
    conditioning: dict | None = None  # the budget warm start's report (budget_conditioned runs)

    @property
    def out(self) -> Path:
        return Path(self.training_args.output_dir)

    @property
    def max_new(self) -> int:
        return self.training_args.max_completion_length


def cpu_fallback(local_processes: int, cuda_devices: int) -> bool:
    """Several processes on a machine without one GPU each run on the CPU (gloo)."""
    return local_processes > 1 and cuda_devices < local_processes


def main(argv: list[str] | None = None, callbacks: list | None = None) -> dict:
    """The run as a page of named stages; each stage is a function below, in this order. `callbacks`: extra
    TrainerCallbacks (e.g. launch/tune.py's pruning), added after Terse's own."""
    script_args, training_args, model_args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    ctx = RunContext(script_args, training_args, model_args, started=time.time())
    ctx.state = setup_process(ctx)
    ctx.task, ctx.train_rows, ctx.val_rows = load_task(ctx)
    ctx.model, ctx.tokenizer, ctx.model_path = load_base_model(ctx)
    ctx.train_rows, ctx.val_rows = fit_prompts(ctx)
    ctx.base = measure_baseline(ctx)
    write_preflight(ctx)
    ctx.schedule = plan_schedule(ctx)
    ctx.targets = compute_targets(ctx)
    if ctx.script_args.budget_conditioned:  # teach the model to keep a stated budget before RL
        ctx.model, ctx.task, ctx.conditioning = condition_on_budgets(ctx)
    controller = build_controller(ctx)
    rewards, budget_model = build_rewards(ctx)
    trainer, periodic, rule = build_trainer(ctx, controller, rewards, budget_model)
    for callback in callbacks or []:
        trainer.add_callback(callback)
    run = train(ctx, trainer)
    final, selected = select_and_evaluate(ctx, trainer, periodic, rule, budget_model)
    allocator = None
    if isinstance(ctx.task, tasks.BudgetConditioned):  # a budget-conditioned policy: served through its allocator at T
        final, allocator = fit_allocator(ctx, trainer.model, final)
    return write_outputs(ctx, trainer, Outcome(run, final, selected, budget_model, allocator))


# -- the stages ---------------------------------------------------------------------------------------------
def setup_process(ctx: RunContext):
    """Accelerate's process state, torch threads and W&B (offline unless a server answers)."""
    import torch
    from accelerate import PartialState

    from train.tracking import configure_wandb

    script_args, training_args = ctx.script_args, ctx.training_args
    state = PartialState(cpu=training_args.use_cpu)
    # `accelerate launch` sets OMP_NUM_THREADS=1; on a CPU run that halves the speed on 2 cores. Use every
    # core this process has a share of, unless told otherwise.
    local_procs = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    torch.set_num_threads(script_args.torch_threads or max(1, (os.cpu_count() or 1) // local_procs))
    configure_wandb(training_args.report_to, training_args.output_dir)
    return state


def load_task(ctx: RunContext):
    """Fixed train/val splits with gold answers (and an oracle length where the task has one)."""
    script_args, training_args = ctx.script_args, ctx.training_args
    if script_args.dataset_name:  # your own data, by hub id, file or folder (train/tasks/dataset.py)
        from train.tasks.dataset import DatasetTask, DataSpec

        task = DatasetTask(DataSpec.from_args(script_args))
        logger.info("data: %s (answer_check %s)", script_args.dataset_name, script_args.answer_check)
    else:
        task = tasks.get(script_args.task)
    train_rows, val_rows = task.load(training_args.seed, script_args.val_size, script_args.data_path)
    if script_args.budget_conditioned:  # any task, its prompts stating a budget (train/conditioning.py)
        from train.budget_statement import BudgetStatement
        from train.conditioning import ConditionedTask

        if isinstance(task, tasks.BudgetConditioned):
            raise ValueError(f"task {task.name} already states budgets in its prompts: drop budget_conditioned")
        task = ConditionedTask(task, BudgetStatement(script_args.budget_prompt_template, script_args.budget_unit),
                               seed=training_args.seed)
    return task, train_rows, val_rows


def fit_prompts(ctx: RunContext):
    """Chat-message prompts stay messages for a model with a chat template (TRL and the evaluator apply
    it); a model without one gets them as plain text."""
    from train.tasks.dataset import prompts_for

    fitted = prompts_for(ctx.tokenizer, ctx.train_rows), prompts_for(ctx.tokenizer, ctx.val_rows)
    if fitted[0] is not ctx.train_rows:
        logger.info("the tokenizer has no chat template: prompts are given as plain text")
    return fitted


def load_base_model(ctx: RunContext):
    """The built-in warm start (`builtin:<task>-tiny`, trained once and cached) or any HF causal LM."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.base_model import BUILTIN_MODEL, BUILTIN_PREFIX, cached_base_model

    script_args, training_args, model_args = ctx.script_args, ctx.training_args, ctx.model_args
    task, train_rows, state = ctx.task, ctx.train_rows, ctx.state
    model_path = model_args.model_name_or_path or BUILTIN_MODEL
    looks_local = model_path.startswith((".", "/", "~")) or model_path.count("/") > 1
    builtin = model_path.startswith(BUILTIN_PREFIX)
    if not builtin and looks_local and not Path(model_path).expanduser().exists():
        raise FileNotFoundError(f"model_name_or_path: no such directory {model_path!r}")
    if builtin and getattr(task, "base_task", None):  # built on another task's base model (chain_budget)
        with state.main_process_first():
            model_path = str(continued_base_model(script_args, training_args, task, train_rows))
    elif builtin or script_args.warm_start_pretrained:
        settings = warm_start_settings(script_args, training_args, None if builtin else model_path)
        with state.main_process_first():  # one rank trains the warm start, the others read the cache
            model_path = str(cached_base_model(script_args.cache_dir, settings, task.sft_rows(train_rows)))
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(
        model_path,
        dtype=getattr(torch, model_dtype(model_args.dtype, training_args.bf16)),
        attn_implementation=model_args.attn_implementation,
    )
    return model, tokenizer, model_path


def continued_base_model(script_args, training_args, task, train_rows):
    """The base model of a task that continues another's (`task.base_task`): that task's built-in base model
    (the same cache entry its own runs use), then `task.continue_share` × warm_start_steps more SFT steps on this task's
    warm-start rows (e.g. chain_easy's base model learning to follow a budget tag). Why not from scratch:
    the tagged mix trained from scratch for the same 900 steps never learned to copy long chains (val EM
    0.49, 0.05–0.67 at three or more operations), which the plain base model learns; continuing keeps it."""
    from dataclasses import replace

    from train.base_model import cached_base_model, continued_settings

    first = replace(warm_start_settings(script_args, training_args, None), task=task.base_task)
    base_path = cached_base_model(script_args.cache_dir, first, tasks.get(task.base_task).sft_rows(train_rows))
    settings = continued_settings(first, task, script_args.warm_start_steps, str(base_path))
    return cached_base_model(script_args.cache_dir, settings, task.sft_rows(train_rows))


def warm_start_settings(script_args, training_args, pretrained: str | None):
    """The warm start's settings (`WarmStartSettings.from_args`: one owner of the defaults)."""
    from train.base_model import WarmStartSettings

    return WarmStartSettings.from_args(script_args, training_args, pretrained)


def measure_baseline(ctx: RunContext) -> dict:
    """The base model's greedy val EM and mean tokens: they fix the token target T (or the EM floor F)."""
    from train.generation import evaluate
    from train.files import base_eval_cache

    cache = base_eval_cache(ctx.script_args.cache_dir, ctx.model_path, ctx.model.dtype, ctx.val_rows, ctx.max_new)
    base = cache.read()
    if base is None:
        base = evaluate(ctx.model, ctx.tokenizer, ctx.val_rows, ctx.max_new, desc="base eval")
        if ctx.state.is_main_process:
            cache.write(base)
    else:
        logger.info("base model: val figures from %s (same weights, rows and cap)", cache.path)
    logger.info("base model: val EM %.3f, mean tokens %.1f", base["em"], base["mean_tokens"])
    return base


def write_preflight(ctx: RunContext) -> None:
    """The untrained model on val, looked at before step 1 (the same report as `python -m train.evaluate`):
    EM (and F1), tokens, truncation and example rows, in output_dir/preflight.json and preflight_rows.jsonl."""
    from train.preflight import preflight_report, preview_rows, print_preflight, write_preflight_rows
    from train.files import write_json_atomic

    if not ctx.state.is_main_process:
        return
    out = ctx.out
    out.mkdir(parents=True, exist_ok=True)
    examples = preview_rows(ctx.base, ctx.val_rows)
    report = preflight_report(ctx.base, ctx.val_rows, examples, ctx.max_new)
    write_json_atomic(str(out / "preflight.json"), report)
    write_preflight_rows(out / "preflight_rows.jsonl", examples)
    print_preflight(report)


def plan_schedule(ctx: RunContext):
    """The dynamic token budget (`budget_schedule`), or None for one fixed target. The run lasts as long as
    its stages (`schedule.total_steps`; build_trainer gives the trainer that many steps)."""
    script_args, training_args, base = ctx.script_args, ctx.training_args, ctx.base
    if script_args.budget_schedule is None:
        return None
    from train.schedule import BudgetSchedule

    auto = {}
    if script_args.budget_schedule.strip().lower() == "auto":
        auto = {"floor": constraint_value(script_args, base, "em_floor"), "start": script_args.budget_schedule_start,
                "factor": script_args.budget_schedule_factor, "max_stages": script_args.budget_schedule_stages}
    schedule = BudgetSchedule.plan(script_args.budget_schedule, training_args.max_steps,
                                   script_args.budget_stage_steps, **auto)
    logger.info("budget schedule: %s, steps per stage %s", schedule.ratios or "auto", schedule.stage_steps)
    return schedule


def condition_on_budgets(ctx: RunContext):
    """The budget warm start (self-distillation, cached): the model with its trained adapter, the task with its
    grid, and the warm start's report (adherence and EM per budget on val before RL)."""
    from train.conditioning import distill_warm_start

    model, grid, report = distill_warm_start(ctx, ctx.task)
    if ctx.state.is_main_process:
        from train.files import write_json_atomic

        ctx.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(str(ctx.out / "conditioning.json"), report)
    return model, ctx.task.with_grid(grid), report


def train(ctx: RunContext, trainer) -> dict:
    """Train (resuming from the latest complete checkpoint with `--resume_from_checkpoint true`)."""
    from train.files import latest_complete_checkpoint

    resume = ctx.training_args.resume_from_checkpoint
    if isinstance(resume, str) and resume.lower() in ("true", "latest"):
        resume = latest_complete_checkpoint(str(ctx.out))  # skips a half-written last one
        if resume is None:
            raise FileNotFoundError(f"--resume_from_checkpoint true: no complete checkpoint in {ctx.out}")
    started = time.time()
    trainer.train(resume_from_checkpoint=resume)
    seconds = time.time() - started
    steps_run = trainer.state.global_step - (int(Path(resume).name.rsplit("-", 1)[1]) if resume else 0)
    lengths = [h["completions/mean_length"] for h in trainer.state.log_history if "completions/mean_length" in h]
    return {"seconds": seconds, "steps_run": steps_run,
            "train_tokens": round(sum(lengths) / len(lengths), 2) if lengths else None}


def select_and_evaluate(ctx: RunContext, trainer, periodic, rule, budget_model):
    """The final val evaluation, and which weights ship: the schedule's shipped stage, else the evaluated
    checkpoint that best satisfies the constraint (when it beats the last step), else the last step."""
    from rewards.budgets import read_state
    from train.generation import evaluate
    from train.selection import select
    from train.files import load_adapter_weights

    model, out, max_new, schedule = trainer.model, ctx.out, ctx.max_new, ctx.schedule
    tokenizer, val_rows = ctx.tokenizer, ctx.val_rows
    final = evaluate(model, tokenizer, val_rows, max_new, desc="final eval")
    last = {"step": trainer.state.global_step, "em": final["em"], "mean_tokens": final["mean_tokens"],
            "lambda": trainer.controller.lam}
    # A schedule ships its shipped stage (auto with no stage held: the most generous one; none finished: the last step).
    shipped = (schedule.shipped() or next(iter(schedule.points), None)) if schedule is not None else None
    if shipped is not None:
        checkpoint = out / shipped["checkpoint"]
        selected = {k: shipped[k] for k in ("step", "em", "mean_tokens", "lambda", "target")}
    else:
        selected = select(periodic.records + [last], rule) if rule is not None else last
        checkpoint = out / f"checkpoint-{selected['step']}"
    if selected["step"] != last["step"]:  # an earlier checkpoint ships: put its weights in and evaluate it
        load_adapter_weights(model, checkpoint)
        if budget_model is not None and (checkpoint / "budget_model.json").exists():
            budget_model.load_state_dict(read_state(checkpoint))
        final = evaluate(model, tokenizer, val_rows, max_new, desc="selected eval")
        logger.info("shipping checkpoint %s (EM %.3f, %.1f tokens) over the last step", checkpoint, final["em"],
                    final["mean_tokens"])
    selected = {**selected, "evaluations": periodic.records + [last], "stopped_early_at": periodic.stopped_early_at}
    return final, selected


def model_dtype(dtype: str | None, bf16: bool) -> str:
    """The weights' dtype: as given, else bfloat16 with `--bf16 true` (one flag turns a recipe bf16 on a GPU:
    weights and autocast together), else float32."""
    if dtype and dtype != "auto":
        return dtype
    return "bfloat16" if bf16 else "float32"


def cli(argv: list[str] | None = None) -> int:
    """`main()` for the command line: bad input gets one clear paragraph naming the culprit and exit 2."""
    try:
        main(argv)
    except (ValueError, KeyError, OSError) as err:  # OSError: a file, model path or hub id that is not there
        message = f"{type(err).__name__}: {err}"
    else:
        return 0
    print(f"\nterse: error: {message}\n(run with --help for the arguments; nothing was written over)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(cli())
