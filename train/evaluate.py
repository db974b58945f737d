"""`python -m train.evaluate`: evaluate the base model and/or adapters on a split, A/B-test two of them, serve a
budget-conditioned adapter through its allocator or sweep its whole front. The library it runs on:
train/generation.py (generation and metrics), train/served_eval.py (through an allocator), train/front.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from train.generation import Decoding, evaluate, fold_report
from train.preflight import preflight_report, preview_rows, print_preflight, write_preflight_rows
from train.served_eval import STREAM_CHUNK, evaluate_allocated
from train.tasks.dataset import DataSpec

logger = logging.getLogger(__name__)


CLI_DOC = """Evaluate the base model and/or adapters on a split; with two models, a paired bootstrap A/B test.

    python -m train.evaluate runs/arith                       # a run: its base model and its adapter
    python -m train.evaluate base runs/arith --split test      # A = the base model, B = the run's adapter
    python -m train.evaluate runs/a runs/b --temperature 1.0   # two runs, greedy and sampled, A/B on both
    python -m train.evaluate base runs/a --num_beams 4 --temperature 1.0 --samples 5   # decoding side by side
    python -m train.evaluate --model M --dataset_name my.csv --prompt_column q --answer_column gold \\
        --answer_check text                                    # the preflight: look before you train

A model is `base`, a run directory (its `export/` or `adapter/` and `summary.json`), or an adapter
directory. Writes JSON (`--out`, default `<first run>/eval_<split>.json`) and, with `--report_to wandb`,
logs the figures as a W&B eval run (offline unless a server is reachable).
"""


# The data flags are DataSpec's fields (one source of names); skip_bad_rows is a switch of its own.
DATA_FLAGS = tuple(name for name in DataSpec.__dataclass_fields__ if name != "skip_bad_rows")


def _resolve(spec: str, base_model: str | None) -> tuple[str, str | None, dict]:
    """(base model path, adapter path or None, the run's summary or {}) for one model spec."""
    import json
    from pathlib import Path

    if spec == "base":
        if not base_model:
            raise ValueError("'base' needs --model, or a run/adapter beside it to take the base model from")
        return base_model, None, {}
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"no such run or adapter directory: {spec}")
    summary = json.loads((path / "summary.json").read_text()) if (path / "summary.json").exists() else {}
    for adapter in (path / "export", path / "adapter", path):
        if (adapter / "adapter_config.json").exists():
            config = json.loads((adapter / "adapter_config.json").read_text())
            return base_model or summary.get("base_model") or config["base_model_name_or_path"], str(adapter), summary
    raise FileNotFoundError(f"{spec}: no adapter_config.json in it, its export/ or its adapter/")


def cli(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=CLI_DOC,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="one or two of: base, a run directory, an adapter directory "
                        "(default with --model: base)")
    parser.add_argument("--model", help="base model path (default: the run's or the adapter's own)")
    parser.add_argument("--task", help="task name (default: the run's task, else arith)")
    parser.add_argument("--data_path", help="the task's local files (gsm8k)")
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--size", type=int, help="only the first N rows")
    parser.add_argument("--val_size", type=int, help="val rows as the run draws them (default: the run's, else the task's)")
    parser.add_argument("--seed", type=int, default=None, help="the split's seed (default: the run's, else 0)")
    parser.add_argument("--max_new_tokens", type=int, default=None, help="default: the run's, else 128")
    parser.add_argument("--temperature", type=float, help="also evaluate sampled completions at this temperature")
    parser.add_argument("--num_beams", type=int, default=1, help="also evaluate beam search with this many beams")
    parser.add_argument("--samples", type=int, default=1,
                        help="with --temperature: also a majority vote over this many samples per prompt")
    parser.add_argument("--budget", type=float, help="a budget-conditioned run: also serve it through its allocator "
                        "at this mean-token target T (any T, same adapter)")
    parser.add_argument("--budget_ratio", type=float, help="as --budget, T = this × the run's base tokens")
    parser.add_argument("--front", action="store_true", help="a budget-conditioned run: EM, tokens and adherence at "
                        "every budget of its grid, and served through its allocator at T = 0.3 … 0.7 × base beside "
                        "the best single budget (a table and a PNG beside --out; train/front.py)")
    parser.add_argument("--stream", action="store_true", help="with --budget: the allocator's online control on, "
                        "rows in order, observe() after every 10 (reports per-100-request windows)")
    parser.add_argument("--folds", type=int, default=0, help="also report EM and tokens on K disjoint folds of "
                        "the rows (K >= 2), with their spread")
    parser.add_argument("--n_boot", type=int, default=5000)
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--report_to", default="none", choices=["none", "wandb"])
    parser.add_argument("--rows_out", help="JSONL of every row (prompt, completion, extracted, gold, verdict); "
                        "default: beside --out")
    data = parser.add_argument_group("your own data (as train/run.py takes them; train/tasks/dataset.py)")
    for name in DATA_FLAGS:
        data.add_argument(f"--{name}", help="numeric, text, choice, regex:<pattern>, module:function"
                          if name == "answer_check" else None)
    data.add_argument("--skip_bad_rows", action="store_true")
    args = parser.parse_args(argv)
    if not args.models:
        if not args.model:
            parser.error("give a model: --model M, or a run / adapter directory")
        args.models = ["base"]
    if len(args.models) > 2:
        parser.error("give one or two models")
    if args.samples > 1 and args.temperature is None:
        parser.error("--samples needs --temperature (the vote is over sampled completions)")
    if args.num_beams < 1 or args.samples < 1:
        parser.error("--num_beams and --samples must be at least 1")
    if args.folds == 1 or args.folds < 0:
        parser.error("--folds must be 0 (off) or at least 2")
    try:
        return _run_cli(args)
    except (ValueError, KeyError, OSError) as err:
        print(f"train.evaluate: error: {err}", file=sys.stderr)
        return 2


@dataclass
class LoadedModel:
    """One model the CLI evaluates: the weights (with the run's adapter, if any), its tokenizer, the adapter's
    folder (its allocator.json beside it) and the run's summary."""

    name: str
    base_path: str
    model: object
    tokenizer: object
    adapter: str | None
    summary: dict


def _run_cli(args) -> int:
    from pathlib import Path

    specs = [s for s in args.models if s != "base"]
    resolved = {s: _resolve(s, args.model) for s in specs}  # run/adapter → (base model, adapter, summary)
    base_default = args.model or (resolved[specs[0]][0] if specs else None)
    resolved["base"] = _resolve("base", base_default) if "base" in args.models else None
    summary = next((r[2] for s, r in resolved.items() if s != "base" and r[2]), {})
    seed = args.seed if args.seed is not None else summary.get("seed", 0)
    max_new = args.max_new_tokens or summary.get("max_completion_length") or 128
    task, task_name = _task(args, summary)
    rows = task.load(seed, args.val_size or summary.get("val_size"), args.data_path)[1] if args.split == "val" else task.test_rows(seed, args.data_path)
    rows = rows[: args.size] if args.size else rows
    results = {}
    for spec in args.models:
        loaded, rows = _load(spec, resolved[spec], rows)
        results[spec if spec not in results else f"{spec}#2"] = _evaluate_one(loaded, rows, args, max_new)
    report, examples = _report(results, rows, args, {"task": task_name, "split": args.split, "n": len(rows),
                                                     "seed": seed, "max_new_tokens": max_new})
    out = Path(args.out) if args.out else Path(specs[0] if specs else ".") / f"eval_{args.split}.json"
    _write_and_print(report, examples, args, out)
    return 0


def _load(spec: str, resolved: tuple, rows: list[dict]) -> tuple[LoadedModel, list[dict]]:
    """The model `spec` names, and the rows' prompts as its tokenizer renders them."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.tasks.dataset import prompts_for

    base_path, adapter, summary = resolved
    tokenizer = AutoTokenizer.from_pretrained(adapter or base_path)
    model = AutoModelForCausalLM.from_pretrained(base_path)
    if adapter:
        model = PeftModel.from_pretrained(model, adapter)
    return LoadedModel(spec, base_path, model, tokenizer, adapter, summary), prompts_for(tokenizer, rows)


def _evaluate_one(loaded: LoadedModel, rows: list[dict], args, max_new: int) -> dict:
    """Every evaluation the flags ask of one model: greedy always; served through its allocator, the front,
    beam search, sampling and majority vote when asked."""
    from pathlib import Path

    model, tokenizer, spec = loaded.model, loaded.tokenizer, loaded.name
    entry = {"base_model": loaded.base_path, "adapter": loaded.adapter, "greedy": evaluate(model, tokenizer, rows, max_new, desc=spec)}
    if loaded.adapter and (args.budget or args.budget_ratio):
        entry["served"] = _serve(loaded, rows, args, max_new)
    if loaded.adapter and args.front:
        from train.front import run_front

        png = Path(args.out).with_suffix(".png") if args.out else Path(spec) / f"front_{args.split}.png"
        entry["front"] = run_front(loaded, rows, max_new, png)
    if args.num_beams > 1:
        entry[f"beam{args.num_beams}"] = evaluate(model, tokenizer, rows, Decoding(max_new, num_beams=args.num_beams),
                                                  desc=spec)
    if args.temperature is not None:
        entry["sampled"] = evaluate(model, tokenizer, rows, Decoding(max_new, temperature=args.temperature), desc=spec)
    if args.samples > 1:
        entry[f"vote{args.samples}"] = evaluate(model, tokenizer, rows, Decoding(
            max_new, temperature=args.temperature, samples=args.samples), desc=spec)
    return entry


def _report(results: dict, rows: list[dict], args, header: dict) -> tuple[dict, list]:
    """The JSON report: each model's figures per mode (folds when asked), the paired A/B test of two models and
    the preflight of the first; and the preflight's example rows."""
    from train.ab_test import paired_bootstrap

    report = {**header, "models": {}, "ab_test": {}}
    for name, entry in results.items():
        report["models"][name] = {k: {m: v for m, v in r.items() if m not in ("completions", "per_example")}
                                  for k, r in entry.items() if isinstance(r, dict)}
        if args.folds:
            for mode, r in entry.items():
                if isinstance(r, dict) and "per_example" in r and not (mode == "served" and args.stream):
                    report["models"][name][mode]["folds"] = fold_report(rows, r["per_example"], args.folds,
                                                                        header["seed"])
    if len(results) == 2:
        (name_a, a), (name_b, b) = results.items()
        for mode in a:
            if mode in b and isinstance(a[mode], dict) and "per_example" in a[mode]:
                pa, pb = a[mode]["per_example"], b[mode]["per_example"]
                report["ab_test"][mode] = {"a": name_a, "b": name_b, **paired_bootstrap(
                    pa["correct"], pb["correct"], pa["tokens"], pb["tokens"], n_boot=args.n_boot, seed=header["seed"])}
    first = next(iter(results.values()))["greedy"]
    examples = preview_rows(first, rows)
    report["preflight"] = preflight_report(first, rows, examples, header["max_new_tokens"])
    return report, examples


def _write_and_print(report: dict, examples: list, args, out) -> None:
    import json
    from pathlib import Path

    out.write_text(json.dumps(report, indent=1))
    rows_out = Path(args.rows_out) if args.rows_out else out.with_name(out.stem + "_rows.jsonl")
    write_preflight_rows(rows_out, examples)
    _print_report(report)
    if args.folds:
        for name, modes in report["models"].items():
            for mode, r in modes.items():
                if isinstance(r, dict) and "folds" in r:
                    f = r["folds"]
                    print(f"{name} {mode}, {f['folds']} folds: EM " + " ".join(f"{x['em']:.3f}" for x in f["per_fold"])
                          + f" (mean {f['em_mean']:.3f} ± {f['em_std']:.3f} sd, range {f['em_range']:.3f}); tokens "
                          + " ".join(f"{x['mean_tokens']:.1f}" for x in f["per_fold"]) + f" (± {f['tokens_std']:.1f})")
    print_preflight(report["preflight"])
    print(f"\nwrote {out} and {rows_out}")
    if args.report_to == "wandb":
        _log_wandb(report, out.parent)


def _serve(loaded: LoadedModel, rows: list[dict], args, max_new: int) -> dict:
    """The run as served through its allocator at --budget (or --budget_ratio × its base tokens)."""
    from train.allocator import Allocator

    allocator = Allocator.load(loaded.adapter)
    target = args.budget or args.budget_ratio * loaded.summary["base"]["mean_tokens"]
    allocator.set_target(target)
    result = evaluate_allocated(loaded.model, loaded.tokenizer, rows, allocator, max_new,
                                stream_chunk=STREAM_CHUNK if args.stream else 0)
    result["target"], result["mu"] = target, result["plan"]["mu"] if not args.stream else allocator.mu
    print(f"served at T = {target:.1f}: EM {result['em']:.3f}, {result['mean_tokens']:.1f} tokens, adherence "
          f"{result['adherence']:.3f}, μ {result['mu']:.4f}" + (
              f", worst 100-request window {max(w['mean_tokens'] for w in result['windows']) / target:.3f}·T"
              if args.stream else ""))
    return result


def _task(args, summary: dict):
    """(task, name): your own data when --dataset_name is given (or the run was trained on them), else the
    built-in task named by --task or the run."""
    from train import tasks

    given = {k: getattr(args, k) for k in DATA_FLAGS if getattr(args, k) is not None}
    recorded = summary.get("data_spec") or {}
    if given.get("dataset_name") or recorded.get("dataset_name"):
        from train.tasks.dataset import DatasetTask

        fields = {**recorded, **given, "skip_bad_rows": args.skip_bad_rows or recorded.get("skip_bad_rows", False)}
        spec = DataSpec(**{k: v for k, v in fields.items() if k in DataSpec.__dataclass_fields__})
        return DatasetTask(spec), spec.dataset_name
    if args.answer_check not in (None, "numeric"):
        raise ValueError(f"--answer_check {args.answer_check} needs --dataset_name (the built-in tasks are numeric)")
    name = args.task or summary.get("task") or "arith"
    return tasks.get(name), name


def _print_report(report: dict) -> None:
    print(f"\n{report['task']} {report['split']} ({report['n']} prompts, ≤ {report['max_new_tokens']} new tokens)\n")
    print("| model | mode | EM | F1 | mean tokens | median | p90 | tokens/oracle | truncated |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, modes in report["models"].items():
        for mode, r in modes.items():
            if "em" not in r:  # the front has its own tables (printed by train/front.py)
                continue
            ratio = f"{r['tokens_over_oracle']:.2f}" if "tokens_over_oracle" in r else "–"
            f1 = f"{r['f1']:.3f}" if "f1" in r else "–"
            print(f"| {name} | {mode} | {r['em']:.3f} | {f1} | {r['mean_tokens']:.1f} | {r['median_tokens']:.0f} | "
                  f"{r['p90_tokens']:.0f} | {ratio} | {r['truncated']:.3f} |")
    for mode, t in report["ab_test"].items():
        print(f"\nA/B ({mode}, B = {t['b']} vs A = {t['a']}, paired bootstrap {t['level']:.0%}): "
              f"EM {t['em_diff']:+.3f} [{t['em_ci'][0]:+.3f}, {t['em_ci'][1]:+.3f}] (p = {t['p_em']:.3f}), "
              f"tokens {t['tokens_diff']:+.1f} [{t['tokens_ci'][0]:+.1f}, {t['tokens_ci'][1]:+.1f}]")


def _log_wandb(report: dict, where) -> None:
    from train.tracking import configure_wandb

    configure_wandb(["wandb"], str(where))
    try:
        import wandb

        run = wandb.init(project="terse", job_type="eval", config={k: report[k] for k in ("task", "split", "n", "seed")})
        for name, modes in report["models"].items():
            for mode, r in modes.items():
                run.summary.update({f"{name}/{mode}/{k}": v for k, v in r.items() if isinstance(v, (int, float))})
        for mode, t in report["ab_test"].items():
            run.summary.update({f"ab/{mode}/{k}": v for k, v in t.items() if isinstance(v, (int, float))})
        run.finish()
    except Exception as err:  # noqa: BLE001 - logging must never fail the evaluation
        logger.warning("W&B logging failed: %s", err)


if __name__ == "__main__":
    raise SystemExit(cli())
