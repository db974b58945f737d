"""The real-model contest's figures: val (from each run) and test (evaluated here) per method and seed, paired
bootstraps, a Pareto plot and the table docs/benchmark.md shows ("A real model on real data").

    python -m launch.research.real_model_report --config configs/smollm2_squad.yaml \\
        --run terse_global:0=RUNDIR --run em_only:0=RUNDIR --run truncation:0=RUNDIR ... \\
        --out docs/results/smollm2_squad.json --plot docs/smollm2-squad-pareto.png --table

Each RUNDIR is a finished `train/run.py` run (launch/compare.py's run cache). Val figures are the run's own final
evaluation (`summary.json`, `val_per_example.json`); test figures are computed here, greedy, in the run's dtype,
once per run (cached as `test_eval.json` in the run directory, every completion kept), and for the base model once
(cached beside the first run). Per method: contains-EM, strict EM, F1, mean / p90 tokens, share cut at the cap,
mean ± range over seeds; Terse against EM-only and against the best peer by a paired bootstrap over prompts (each
prompt's correctness averaged over the seeds a method has). `--completions_out` writes every test completion
(`completion`, `gold`, method, seed) for `check_answer_checks contains`.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

FIGURES = ("em", "strict_em", "f1", "mean_tokens", "p90_tokens", "truncated")


def spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values), "n": len(values)}


def figures(result: dict) -> dict:
    return {k: result[k] for k in FIGURES if k in result}


def test_eval(run_dir: Path | None, model_path: str, rows: list[dict], max_new: int, dtype: str, cache: Path) -> dict:
    """Greedy test figures of a run's adapter (or the base model when `run_dir` is None), cached at `cache`."""
    if cache.exists():
        return json.loads(cache.read_text())
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.generation import evaluate
    from train.tasks.dataset import prompts_for

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype))
    if run_dir is not None:
        model = PeftModel.from_pretrained(model, str(run_dir / "adapter"))
    result = evaluate(model, tokenizer, prompts_for(tokenizer, rows), max_new, desc=f"test {run_dir or 'base'}",
                      batch_size=32)  # beside a training run: a smaller batch keeps the peak memory low
    cache.write_text(json.dumps(result))
    return result


def bootstrap(a: list[list[float]], b: list[list[float]], ta, tb, seed: int = 0) -> dict:
    """Paired over prompts, each prompt's correctness and tokens averaged over a method's seeds."""
    from train.ab_test import paired_bootstrap

    def mean_over_seeds(lists):
        return [statistics.fmean(v) for v in zip(*lists)]

    return paired_bootstrap(mean_over_seeds(a), mean_over_seeds(b), mean_over_seeds(ta), mean_over_seeds(tb), seed=seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the recipe the runs were trained from")
    parser.add_argument("--run", action="append", required=True, help="METHOD:SEED=RUNDIR")
    parser.add_argument("--terse", default="terse_global", help="the method reported as Terse")
    parser.add_argument("--control", default="em_only")
    parser.add_argument("--peers", default="truncation,alp", help="the peers, best first by val EM within 1.05·T")
    parser.add_argument("--out", required=True)
    parser.add_argument("--plot")
    parser.add_argument("--table", action="store_true", help="print the markdown table")
    parser.add_argument("--completions_out")
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args(argv)
    from train.run import parse_args
    from train.tasks.dataset import DataSpec, load_test
    script_args, training_args, model_args = parse_args(["--config", args.config])
    spec = DataSpec.from_args(script_args)
    test_rows = load_test(spec)
    from train.tasks.dataset import read_split, to_rows

    val_rows = to_rows(read_split(spec, spec.dataset_val_split), spec, "val")
    runs: dict[str, dict[int, Path]] = {}
    for item in args.run:
        label, _, path = item.partition("=")
        method, _, seed = label.partition(":")
        runs.setdefault(method, {})[int(seed)] = Path(path).expanduser()
    first = next(iter(next(iter(runs.values())).values()))
    first_summary = json.loads((first / "summary.json").read_text())
    base_val = first_summary["base"] if "base" in first_summary else None
    model_path = first_summary.get("base_model") or model_args.model_name_or_path
    max_new = training_args.max_completion_length
    import hashlib

    base_key = hashlib.sha256(json.dumps([model_path, args.config, max_new, args.dtype]).encode()).hexdigest()[:12]
    base_test = test_eval(None, model_path, test_rows, max_new, args.dtype, first.parent / f"base_test_eval.{base_key}.json")
    report = {"config": args.config, "model": model_path, "dtype": args.dtype, "max_completion_length": max_new,
              "val_n": None, "test_n": len(test_rows), "base": {"val": base_val, "test": figures(base_test)},
              "methods": {}, "bootstrap": {}}
    per_prompt: dict[str, dict[str, list]] = {}
    completions = [{"method": "base", "seed": None, "split": "test", "completion": c, "gold": r["answer"]}
                   for c, r in zip(base_test["completions"], test_rows)]
    for method, seeds in runs.items():
        entry = {"seeds": {}}
        keep = {"val_correct": [], "val_tokens": [], "test_correct": [], "test_tokens": []}
        for seed, run_dir in sorted(seeds.items()):
            summary = json.loads((run_dir / "summary.json").read_text())
            val = summary["final"]
            val_pe = json.loads((run_dir / "val_per_example.json").read_text())
            test = test_eval(run_dir, model_path, test_rows, max_new, args.dtype, run_dir / "test_eval.json")
            entry["seeds"][seed] = {"dir": str(run_dir), "target_tokens": summary["constraint"]["target"] if summary["constraint"]["mode"] == "budget" else None,
                                    "val": figures(val), "test": figures(test), "steps": summary.get("steps")}
            report["val_n"] = len(val_pe["correct"])
            keep["val_correct"].append([float(c) for c in val_pe["correct"]])
            keep["val_tokens"].append(val_pe["tokens"])
            keep["test_correct"].append([float(c) for c in test["per_example"]["correct"]])
            keep["test_tokens"].append(test["per_example"]["tokens"])
            completions += [{"method": method, "seed": seed, "split": "test", "completion": c, "gold": r["answer"]}
                            for c, r in zip(test["completions"], test_rows)]
            val_texts = json.loads((run_dir / "val_completions.json").read_text())  # every val row, or the first 50
            completions += [{"method": method, "seed": seed, "split": "val", "completion": c, "gold": r["answer"]}
                            for c, r in zip(val_texts, val_rows)]
        for split in ("val", "test"):
            entry[split] = {k: spread([s[split][k] for s in entry["seeds"].values() if k in s[split]])
                            for k in FIGURES if all(k in s[split] for s in entry["seeds"].values())}
        report["methods"][method] = entry
        per_prompt[method] = keep
    targets = [s["target_tokens"] for m in report["methods"].values() for s in m["seeds"].values() if s["target_tokens"]]
    # T as every run computes it (the controlled runs record it; the others share the base model's figures)
    report["target_tokens"] = targets[0] if targets else script_args.budget_ratio * base_val["mean_tokens"]
    peers = [p for p in args.peers.split(",") if p in per_prompt]
    for other in [args.control, *peers]:
        if args.terse in per_prompt and other in per_prompt:
            t, o = per_prompt[args.terse], per_prompt[other]
            report["bootstrap"][f"{args.terse}_vs_{other}"] = {
                split: bootstrap(o[f"{split}_correct"], t[f"{split}_correct"], o[f"{split}_tokens"], t[f"{split}_tokens"])
                for split in ("val", "test")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    if args.completions_out:
        with open(args.completions_out, "w") as f:
            for record in completions:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    if args.table:
        print(table(report))
    if args.plot:
        plot(report, args.plot)
    return 0


def table(report: dict) -> str:
    """The markdown table docs/benchmark.md shows, made from the report alone."""
    def cell(split_figs, key, digits=3):
        f = split_figs.get(key)
        if f is None:
            return "–"
        show = (lambda v: f"{v:.1%}") if key == "truncated" else (lambda v: f"{v:.{digits}f}")
        return show(f["mean"]) + (f" ({show(f['min'])}–{show(f['max'])})" if f["n"] > 1 else "")

    target = report.get("target_tokens")
    lines = [f"T = {target:.1f} tokens; val n = {report['val_n']}, test n = {report['test_n']}; mean (range) over seeds",
             "", "| method | seeds | split | contains-EM | strict EM | F1 | mean tokens | p90 | cut at cap |",
             "|---|---|---|---|---|---|---|---|---|"]
    base = report["base"]
    for split in ("val", "test"):
        b = base.get(split) or {}
        if b:
            lines.append(f"| untrained | – | {split} | {b['em']:.3f} | {b.get('strict_em', 0):.3f} | {b.get('f1', 0):.3f} | "
                         f"{b['mean_tokens']:.1f} | {b.get('p90_tokens', 0):.0f} | {b.get('truncated', 0):.1%} |")
    for method, m in report["methods"].items():
        for split in ("val", "test"):
            s = m[split]
            lines.append(f"| {method} | {len(m['seeds'])} | {split} | {cell(s, 'em')} | {cell(s, 'strict_em')} | "
                         f"{cell(s, 'f1')} | {cell(s, 'mean_tokens', 1)} | {cell(s, 'p90_tokens', 0)} | {cell(s, 'truncated')} |")
    for name, splits in report["bootstrap"].items():
        for split, r in splits.items():
            lines.append(f"\n{name} ({split}, {r['n']} prompts): EM {r['em_diff']:+.3f} [{r['em_ci'][0]:+.3f}, "
                         f"{r['em_ci'][1]:+.3f}], tokens {r['tokens_diff']:+.1f} [{r['tokens_ci'][0]:+.1f}, {r['tokens_ci'][1]:+.1f}]")
    return "\n".join(lines)


def plot(report: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, split in zip(axes, ("val", "test")):
        b = report["base"].get(split)
        if b:
            ax.scatter([b["mean_tokens"]], [b["em"]], marker="*", s=150, color="black", label="untrained")
        for method, m in report["methods"].items():
            xs = [s[split]["mean_tokens"] for s in m["seeds"].values()]
            ys = [s[split]["em"] for s in m["seeds"].values()]
            ax.scatter(xs, ys, label=method)
        if report.get("target_tokens"):
            ax.axvline(report["target_tokens"], color="grey", ls="--", lw=1)
            ax.axvline(1.05 * report["target_tokens"], color="grey", ls=":", lw=1)
        ax.set_title(f"SmolLM2-135M-Instruct on SQuAD ({split})")
        ax.set_xlabel("mean completion tokens")
    axes[0].set_ylabel("contains-EM")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
