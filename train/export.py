"""Export a trained run for serving: a vLLM-loadable LoRA adapter, its tokenizer, budget model and model card.

    python -m train.export runs/arith --out exports/arith            # adapter (+ tokenizer, card, budget model)
    python -m train.export runs/arith --out exports/arith --merge    # also a merged full model in merged/
    python -m train.export runs/front --out exports/t30 --step 90    # a budget schedule's stage (frontier.json)
    python -m train.export runs/front --out exports/t30 --budget 30  # the front point with most EM at ≤ 30 tokens

Why a separate, boring step: what a server picks up must be exactly what was trained and must load on
the first try. So the adapter is checked against the rules vLLM's LoRA loader enforces *before* anything
is written (no `modules_to_save`, no DoRA, no embedding or LM-head weights, rank ≤ `--max_lora_rank`),
every file is written into a temporary sibling directory that is renamed into place only when complete
(a server never sees half an export), and an existing export is never replaced without `--overwrite`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


from rewards.budgets import BUDGET_MODEL_FILE
from train.allocator import ALLOCATOR_FILE

EMBEDDING_MODULES = ("embed_tokens", "lm_head", "wte", "wpe", "embed_in", "embed_out")


class ExportError(Exception):
    """An export that would not serve; the message names the rule that failed."""


def check_vllm_rules(peft_config, max_lora_rank: int) -> None:
    """Raise ExportError naming the first rule of vLLM's LoRA loader this adapter breaks."""
    if str(getattr(peft_config, "peft_type", "")).split(".")[-1].upper() != "LORA":
        raise ExportError(f"adapter type is {peft_config.peft_type}, vLLM serves LoRA adapters only")
    if getattr(peft_config, "use_dora", False):
        raise ExportError("adapter uses DoRA (use_dora=True); vLLM's LoRA loader does not support DoRA")
    if getattr(peft_config, "modules_to_save", None):
        raise ExportError(f"adapter has modules_to_save={peft_config.modules_to_save}; vLLM cannot load them")
    if peft_config.r > max_lora_rank:
        raise ExportError(f"LoRA rank r={peft_config.r} exceeds --max_lora_rank {max_lora_rank}")
    targets = peft_config.target_modules
    names = [targets] if isinstance(targets, str) else list(targets or [])
    bad = [n for n in names if any(e in n for e in EMBEDDING_MODULES)]
    if bad:
        raise ExportError(f"adapter targets embedding/LM-head modules {bad}; vLLM serves adapters without them")
    if getattr(peft_config, "rank_pattern", None) and max(peft_config.rank_pattern.values()) > max_lora_rank:
        raise ExportError(f"a per-module rank in rank_pattern exceeds --max_lora_rank {max_lora_rank}")


def front_point(run_dir, step: int | None = None, budget: float | None = None) -> dict:
    """The front point of a scheduled run (`frontier.json`) at `step`, or the one with the most EM at mean
    tokens ≤ `budget`. Raises ExportError naming what is missing."""
    from train.schedule import best_within, read_frontier

    points = read_frontier(run_dir)
    if not points:
        raise ExportError(f"{run_dir} has no frontier.json: --step/--budget export the stages of a budget_schedule run")
    if budget is not None:
        try:
            return best_within(points, budget)
        except ValueError as err:
            raise ExportError(str(err)) from None
    match = [p for p in points if p["step"] == step]
    if not match:
        raise ExportError(f"no front point at step {step}; the front has steps {[p['step'] for p in points]}")
    return match[0]


def model_card(summary: dict, name: str, rank: int, merged: bool) -> str:
    b, f = summary.get("base", {}), summary.get("final", {})
    base_model = summary.get("base_model", "?")
    c = summary.get("constraint", {})
    lines = [
        f"# {name}",
        "",
        "A LoRA adapter trained with [Terse](https://example.invalid/terse): GRPO with reward",
        "EM − λ·length penalty, λ set by dual ascent.",
        "",
        f"- base model: `{base_model}`",
        f"- task: `{summary.get('task', 'arith')}`",
        f"- constraint: `{c.get('mode')}`, target {c.get('target')}",
        f"- final λ: {summary.get('lambda')}",
        f"- steps: {summary.get('steps')}, algorithm: {summary.get('algorithm', 'grpo')}",
        "",
        "| | val EM | mean completion tokens |",
        "|---|---|---|",
        f"| before (base) | {b.get('em', float('nan')):.3f} | {b.get('mean_tokens', float('nan')):.1f} |",
        f"| after (adapter) | {f.get('em', float('nan')):.3f} | {f.get('mean_tokens', float('nan')):.1f} |",
        "",
        "## Serve with vLLM",
        "",
        "```bash",
        f"vllm serve {base_model} --enable-lora --lora-modules {name}=$PWD --max-lora-rank {max(rank, 8)}",
        "```",
        "",
        "## Load with PEFT",
        "",
        "```python",
        "from peft import AutoPeftModelForCausalLM",
        "from transformers import AutoTokenizer",
        "model = AutoPeftModelForCausalLM.from_pretrained('.')",
        "tokenizer = AutoTokenizer.from_pretrained('.')",
        "```",
    ]
    if merged:
        lines += ["", "`merged/` holds base + adapter as one model: `AutoModelForCausalLM.from_pretrained('merged')`."]
    if summary.get("frontier"):
        lines += ["", "## The run's accuracy–length front (one scheduled run; this export is marked)", "",
                  "| step | target T | val EM | mean tokens | λ | |", "|---|---|---|---|---|---|"]
        for p in summary["frontier"]:
            mark = "**this export**" if p["step"] == summary.get("selected_step") else ""
            lines.append(f"| {p['step']} | {p['target']:.1f} | {p['em']:.3f} | {p['mean_tokens']:.1f} | "
                         f"{p['lambda']:.3f} | {mark} |")
        lines += ["", "Any other point: `python -m train.export RUN --out DIR --step N` (or `--budget T`)."]
    lines += [
        "",
        "## Token budget hint",
        "",
        "If `budget_model.json` is present, `rewards.budgets.predict_budget('.', prompt)` returns the",
        "learned per-prompt token budget, usable as a per-request max-tokens hint.",
        "",
        "If `allocator.json` is present (a budget-conditioned policy), `train.allocator.Allocator.load('.')`",
        "gives each prompt its budget for any mean-token target: `set_target(T)`, `prompt_with_budget(prompt)`,",
        "then `observe(tokens, correct)` after each answer to hold T on live traffic.",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ExportOptions:
    """How an export is written: also a merged full model (`merge`), over an existing export (`overwrite`), and
    the highest LoRA rank the server takes (`max_lora_rank`, vLLM's --max-lora-rank)."""

    merge: bool = False
    overwrite: bool = False
    max_lora_rank: int = 64


def export(run_dir: str | os.PathLike, out: str | os.PathLike, options: ExportOptions = ExportOptions(),
           adapter_subdir: str = "adapter", step: int | None = None, budget: float | None = None) -> Path:
    """Export `run_dir/adapter` (+ summary) to `out`; returns `out`. Raises ExportError with the reason.
    With `step` or `budget`, the stage of a budget-schedule run that `front_point` picks instead."""
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir, out = Path(run_dir), Path(out)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    if step is not None or budget is not None:
        point = front_point(run_dir, step, budget)
        adapter_subdir = point["checkpoint"]
        summary = {**summary, "selected_step": point["step"], "lambda": point["lambda"], "steps": point["step"],
                   "final": {"em": point["em"], "mean_tokens": point["mean_tokens"]},
                   "constraint": {**summary.get("constraint", {}), "target": point["target"]}}
    adapter_dir = run_dir / adapter_subdir
    if out.exists() and not options.overwrite:
        raise ExportError(f"{out} already exists; pass --overwrite to replace it")
    if not (adapter_dir / "adapter_config.json").exists():
        raise ExportError(f"no LoRA adapter at {adapter_dir} (expected adapter_config.json): is {run_dir} a Terse run?")

    check_vllm_rules(PeftConfig.from_pretrained(adapter_dir), options.max_lora_rank)  # before anything is loaded or written
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    base = AutoModelForCausalLM.from_pretrained(PeftConfig.from_pretrained(adapter_dir).base_model_name_or_path)
    model = PeftModel.from_pretrained(base, adapter_dir)
    return export_model(model, tokenizer, summary, adapter_dir, out, options)


def export_model(model, tokenizer, summary: dict, adapter_dir: Path, out: Path,
                 options: ExportOptions = ExportOptions()) -> Path:
    """The export of a PEFT model already in memory (the run's own, at its end: nothing is read back from disk);
    `adapter_dir` holds the files saved beside its adapter (budget model, allocator). Written to a temporary
    folder and swapped into `out` only once checked."""
    from peft import PeftConfig

    peft_config = model.peft_config["default"]
    merge, max_lora_rank = options.merge, options.max_lora_rank
    check_vllm_rules(peft_config, max_lora_rank)  # before anything is written
    if out.exists() and not options.overwrite:
        raise ExportError(f"{out} already exists; pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True, save_embedding_layers=False)
        tokenizer.save_pretrained(tmp)
        generation_config = getattr(model.get_base_model(), "generation_config", None)
        if generation_config is not None:
            generation_config.save_pretrained(tmp)
        for extra in (BUDGET_MODEL_FILE, ALLOCATOR_FILE):  # the budget hint, the allocator that serves any T
            if (adapter_dir / extra).exists():
                shutil.copy2(adapter_dir / extra, tmp / extra)
        if summary:
            (tmp / "terse_summary.json").write_text(json.dumps(summary, indent=2))
        if merge:
            merged = model.merge_and_unload()
            merged.save_pretrained(tmp / "merged", safe_serialization=True)
            tokenizer.save_pretrained(tmp / "merged")
        (tmp / "README.md").write_text(model_card(summary, out.name, peft_config.r, merge))
        check_vllm_rules(PeftConfig.from_pretrained(tmp), max_lora_rank)  # what was written, too
        if out.exists():  # --overwrite: move the old one aside first, drop it only after the swap
            old = out.with_name(f".{out.name}.old-{int(time.time())}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="a Terse output_dir (holding adapter/ and summary.json)")
    parser.add_argument("--out", required=True, help="export directory (must not exist unless --overwrite)")
    parser.add_argument("--merge", action="store_true", help="also write base + adapter merged into merged/")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing export")
    parser.add_argument("--max_lora_rank", type=int, default=64, help="refuse adapters of a higher rank (vLLM's --max-lora-rank)")
    point = parser.add_mutually_exclusive_group()
    point.add_argument("--step", type=int, help="a budget-schedule run: export the stage that ended at this step")
    point.add_argument("--budget", type=float, help="a budget-schedule run: the stage with the most EM at mean tokens <= this")
    args = parser.parse_args(argv)
    started = time.time()
    try:
        out = export(args.run_dir, args.out, ExportOptions(args.merge, args.overwrite, args.max_lora_rank),
                     step=args.step, budget=args.budget)
    except ExportError as err:
        print(f"export failed: {err}", file=sys.stderr)
        return 2
    print(f"exported {args.run_dir} -> {out} in {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
