"""The budget-conditioned policy's benchmark: one adapter per seed, served at several targets by its allocator.

    python launch/conditioned.py --seeds 0,1,2                          # train (cached) + measure, ~15 min a seed
    python launch/conditioned.py --seeds 0 --ratios 0.4 --threads 2     # one seed, one target

Per seed it trains `configs/benchmark_conditioned.yaml` (skipped when the run folder has a summary), then, on
the seed's 300 val prompts:
- the policy's own curves: greedy EM and tokens at every budget of the allocator's grid, per difficulty;
- the references on those curves, at each T: the best **uniform budget** (one b for every prompt: the same
  adapter without the allocator), **one budget per difficulty** and the **frontier** (per difficulty, the two
  budgets around the optimum mixed to meet T) — both oracles use val's own difficulty labels, which the
  allocator never sees;
- **served**: the allocator (fitted on train prompts) at T = ratio × base for every ratio, same adapter:
  EM, tokens, within 1.05·T, adherence (answers within their stated budget);
- the **warm start alone** served the same way (the allocator fitted on the base model's answers): what RL adds;
- a **stream** of the val prompts sorted easy to hard, served with `observe` after every 10: the mean tokens
  of every 100 consecutive requests against T, with EM per window;
- paired bootstraps over all seeds' val prompts: served vs the uniform budget, vs the warm start alone, vs
  the EM-only control (the untagged base model), and vs any `--peer NAME=DIR_PATTERN` run ({seed} in the
  pattern; e.g. terse_monotone runs of launch/compare.py on configs/benchmark_easy.yaml, same val prompts).

Writes `--out/results.json` and `--out/table.md`, and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from train.ab_test import paired_bootstrap
from train.allocator import Allocator, solve
from train.served_eval import budget_records


SERVED_KEYS = ("em", "mean_tokens", "adherence", "mean_budget", "mean_confidence", "by_difficulty", "by_budget")


def train_run(config: str, seed: int, out: Path, threads: int) -> dict:
    summary = out / "summary.json"
    if not summary.exists():
        cmd = [sys.executable, str(REPO / "train/run.py"), "--config", config, "--seed", str(seed),
               "--output_dir", str(out), "--report_to", "none", "--torch_threads", str(threads)]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=REPO, env={**os.environ, "WANDB_MODE": "offline"})
    return json.loads(summary.read_text())


def curves(records: list[dict], grid: list[int]) -> dict:
    """{difficulty: {budget: (em, mean tokens)}} from budget records on labelled rows."""
    out: dict = {}
    for r in records:
        out.setdefault(r["difficulty"], {}).setdefault(r["budget"], []).append((r["correct"], r["tokens"]))
    return {d: {b: (statistics.fmean(c for c, _ in v), statistics.fmean(t for _, t in v)) for b, v in sorted(per.items())}
            for d, per in sorted(out.items())}


def references(records: list[dict], grid: list[int], target: float) -> dict:
    """Uniform budget, one budget per difficulty and the frontier at `target`, on val's own curves."""
    by_budget = {b: [r for r in records if r["budget"] == b] for b in grid}
    uniform = None
    for b in grid:
        rs = by_budget[b]
        tokens = statistics.fmean(r["tokens"] for r in rs)
        if tokens <= target:
            em = statistics.fmean(r["correct"] for r in rs)
            if uniform is None or em > uniform["em"]:
                uniform = {"budget": b, "em": em, "mean_tokens": tokens}
    c = curves(records, grid)
    ds = sorted(c)
    n = len({r["prompt"] for r in records})
    weights = [sum(1 for r in by_budget[grid[0]] if r["difficulty"] == d) / n for d in ds]
    em = [[c[d][b][0] for b in grid] for d in ds]
    tok = [[c[d][b][1] for b in grid] for d in ds]
    sol = solve(em, tok, weights, target)
    front_em = sum(w * sum(s * em[g][k] for k, s in plan) for g, (plan, w) in enumerate(zip(sol["plan"], weights)))
    front_tok = sum(w * sum(s * tok[g][k] for k, s in plan) for g, (plan, w) in enumerate(zip(sol["plan"], weights)))
    pure = [plan[0][0] for plan in sol["plan"]]  # the cheaper side of every mixed group: one budget each
    return {"uniform": uniform, "frontier": {"em": front_em, "mean_tokens": front_tok},
            "per_difficulty": {"em": sum(w * em[g][k] for g, (k, w) in enumerate(zip(pure, weights))),
                               "mean_tokens": sum(w * tok[g][k] for g, (k, w) in enumerate(zip(pure, weights))),
                               "budgets": {d: grid[k] for d, k in zip(ds, pure)}}}


def serve(model, tokenizer, rows, allocator, target, max_new, stream=False) -> dict:
    from train.served_eval import STREAM_CHUNK, evaluate_allocated

    allocator.set_target(target)
    allocator.recent, allocator.stats = [], {"requests": 0, "tokens": 0.0, "scored": 0, "correct": 0.0}
    return evaluate_allocated(model, tokenizer, rows, allocator, max_new, stream_chunk=STREAM_CHUNK if stream else 0)


def measure_seed(args, seed: int) -> dict:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train import tasks
    from train.generation import evaluate

    torch.set_num_threads(args.threads)
    out = Path(args.out) / f"s{seed}"
    summary = train_run(args.config, seed, out, args.threads)
    task = tasks.get("chain_budget")
    train_rows, val_rows = task.load(seed)
    max_new = summary["max_completion_length"]
    allocator = Allocator.load(out / "adapter")
    grid = allocator.grid
    tokenizer = AutoTokenizer.from_pretrained(out / "adapter")
    base = AutoModelForCausalLM.from_pretrained(summary["base_model"])
    base_tokens = summary["base"]["mean_tokens"]
    untagged = evaluate(base, tokenizer, val_rows, max_new, desc="EM-only control (untagged base)")

    # the warm start alone, served by an allocator fitted on its own answers to the same train prompts
    import random

    pool = task.calibration_rows(train_rows)  # the prompts the run's allocator was fitted on (train/run.py)
    fit_rows = random.Random(seed).sample(pool, min(len(pool), summary["final"]["allocator"]["fit_rows"]))
    sft_alloc = Allocator.fit(budget_records(base, tokenizer, fit_rows, grid, task.budget_prompt, max_new),
                              grid, allocator.target, **task.budget_tag())
    policy = PeftModel.from_pretrained(base, out / "adapter")
    policy.eval()
    # The allocator as train/run.py fits it now, from the run's calibration answers (recorded by the run, or
    # answered again by the policy for a run made before they were): a fix to the fit is measured without
    # retraining, and the adapter and export get the allocator measured here.
    records_path = out / "allocator_records.json"
    if records_path.exists():
        records = json.loads(records_path.read_text())
    else:
        records = budget_records(policy, tokenizer, fit_rows, grid, task.budget_prompt, max_new)
        records_path.write_text(json.dumps(records))
    allocator = Allocator.fit(records, grid, allocator.target, **task.budget_tag())
    for where in ("adapter", "export"):
        if (out / where).exists():
            allocator.save(out / where)
    val_records = budget_records(policy, tokenizer, val_rows, grid, task.budget_prompt, max_new)
    result = {"seed": seed, "base": {"em": untagged["em"], "mean_tokens": untagged["mean_tokens"]},
              "run_base_tokens": base_tokens, "curves": {str(d): {str(b): v for b, v in per.items()}
                                                         for d, per in curves(val_records, grid).items()},
              "targets": {}, "per_example": {"untagged": untagged["per_example"]}}
    for ratio in args.ratios:
        target = ratio * base_tokens
        served = serve(policy, tokenizer, val_rows, allocator, target, max_new)
        with policy.disable_adapter():
            warm = serve(policy, tokenizer, val_rows, sft_alloc, target, max_new)
        refs = references(val_records, grid, target)
        ub = refs["uniform"]["budget"] if refs["uniform"] else grid[0]
        uniform_pe = {"correct": [float(r["correct"]) for r in val_records if r["budget"] == ub],
                      "tokens": [r["tokens"] for r in val_records if r["budget"] == ub]}
        result["targets"][str(ratio)] = {
            "target": target, "references": refs,
            "served": {k: served[k] for k in SERVED_KEYS},
            "warm_start_served": {k: warm[k] for k in ("em", "mean_tokens", "adherence")},
            "mu": allocator.mu, "predicted": allocator.predicted()}
        result["per_example"][str(ratio)] = {"served": served["per_example"], "warm": warm["per_example"],
                                             "uniform": uniform_pe}
    result["stream"] = stream(policy, tokenizer, val_rows, allocator, args.stream_ratio * base_tokens, max_new)
    result["stream"]["ratio"] = args.stream_ratio
    return result


def stream(policy, tokenizer, val_rows, allocator, target, max_new) -> dict:
    """The val prompts easy to hard (by difficulty, stable), served with `observe` after every 10."""
    order = sorted(range(len(val_rows)), key=lambda i: val_rows[i]["difficulty"])
    streamed = serve(policy, tokenizer, [val_rows[i] for i in order], allocator, target, max_new, stream=True)
    return {"target": target, "em": streamed["em"], "mean_tokens": streamed["mean_tokens"],
            "windows": streamed["windows"],
            "max_window_over_T": max(w["mean_tokens"] for w in streamed["windows"]) / target}


def load_run(args, seed: int):
    """A trained seed's run: (folder, summary, policy with its adapter, tokenizer, val rows)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train import tasks

    torch.set_num_threads(args.threads)
    out = Path(args.out) / f"s{seed}"
    summary = json.loads((out / "summary.json").read_text())
    policy = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(summary["base_model"]), out / "adapter")
    policy.eval()
    return out, summary, policy, AutoTokenizer.from_pretrained(out / "adapter"), tasks.get("chain_budget").load(seed)[1]


def reserve(args, seed: int, result: dict) -> dict:
    """For a measured seed after a change to the allocator (not to the policy): re-fit it from the run's
    recorded calibration answers, save it with the adapter and export, and serve every T and the stream
    again; the policy's curves, the references and the warm-start figures stay."""
    from train import tasks

    out, summary, policy, tokenizer, val_rows = load_run(args, seed)
    task = tasks.get("chain_budget")
    old = Allocator.load(out / "adapter")
    allocator = Allocator.fit(json.loads((out / "allocator_records.json").read_text()), old.grid, old.target,
                              **task.budget_tag())
    for where in ("adapter", "export"):
        allocator.save(out / where)
    max_new, base_tokens = summary["max_completion_length"], summary["base"]["mean_tokens"]
    for ratio in args.ratios:
        served = serve(policy, tokenizer, val_rows, allocator, ratio * base_tokens, max_new)
        entry = result["targets"][str(ratio)]
        entry["served"] = {k: served[k] for k in SERVED_KEYS}
        entry["mu"], entry["predicted"] = allocator.mu, allocator.predicted()
        result["per_example"][str(ratio)]["served"] = served["per_example"]
    result["stream"] = stream(policy, tokenizer, val_rows, allocator, args.stream_ratio * base_tokens, max_new)
    result["stream"]["ratio"] = args.stream_ratio
    return result


def restream(args, seed: int, result: dict) -> dict:
    """The stream again for a measured seed (after a change to the online control), nothing else."""
    out, summary, policy, tokenizer, val_rows = load_run(args, seed)
    result["stream"] = stream(policy, tokenizer, val_rows, Allocator.load(out / "adapter"),
                              args.stream_ratio * summary["base"]["mean_tokens"], summary["max_completion_length"])
    result["stream"]["ratio"] = args.stream_ratio
    return result


def pooled_bootstrap(results: list[dict], ratio: str, a_key, b_key) -> dict:
    ca, cb, ta, tb = [], [], [], []
    for r in results:
        a, b = a_key(r, ratio), b_key(r, ratio)
        if a is None or b is None:
            return None
        ca += a["correct"]
        cb += b["correct"]
        ta += a["tokens"]
        tb += b["tokens"]
    return paired_bootstrap(ca, cb, ta, tb)


def peer_per_example(pattern: str, seed: int) -> dict | None:
    path = Path(pattern.format(seed=seed)) / "val_per_example.json"
    return json.loads(path.read_text()) if path.exists() else None


def report(results: list[dict], args) -> str:
    lines = []
    seeds = [r["seed"] for r in results]
    for ratio in map(str, args.ratios):
        t = [r["targets"][ratio] for r in results]
        targets = ", ".join(f"{x['target']:.1f}" for x in t)
        lines += [f"### T = {ratio} × base ({targets} tokens; seeds {seeds})", "",
                  "| | " + " | ".join(f"seed {s}" for s in seeds) + " | mean EM ± range |", "|---|" + "---|" * (len(seeds) + 1)]

        def row(name, cells):
            ems = [c[0] for c in cells if c is not None]
            spread = f"{statistics.fmean(ems):.3f} ± {max(ems) - min(ems):.3f}" if ems else "—"
            lines.append(f"| {name} | " + " | ".join(
                f"{c[0]:.3f} ({c[1]:.1f}{' ✓' if c[1] <= 1.05 * x['target'] else ''})" if c else "—"
                for c, x in zip(cells, t)) + f" | {spread} |")

        row("**served by the allocator**", [(x["served"]["em"], x["served"]["mean_tokens"]) for x in t])
        row("warm start alone, served", [(x["warm_start_served"]["em"], x["warm_start_served"]["mean_tokens"]) for x in t])
        row("*frontier (val labels)*", [(x["references"]["frontier"]["em"], x["references"]["frontier"]["mean_tokens"]) for x in t])
        row("*one budget per difficulty*", [(x["references"]["per_difficulty"]["em"],
                                             x["references"]["per_difficulty"]["mean_tokens"]) for x in t])
        row("*best uniform budget, same adapter*", [(x["references"]["uniform"]["em"], x["references"]["uniform"]["mean_tokens"])
                                                    if x["references"]["uniform"] else None for x in t])
        row("EM-only control (untagged base)", [(r["base"]["em"], r["base"]["mean_tokens"]) for r in results])
        lines.append("")
        lines.append("adherence (answers within their stated budget): " + ", ".join(
            f"{x['served']['adherence']:.3f}" for x in t) + "; μ: " + ", ".join(f"{x['mu']:.4f}" for x in t))
        lines.append("")
        pairs = [("served − uniform budget (same adapter)", lambda r, q: r["per_example"][q]["uniform"],
                  lambda r, q: r["per_example"][q]["served"]),
                 ("served − warm start alone", lambda r, q: r["per_example"][q]["warm"],
                  lambda r, q: r["per_example"][q]["served"]),
                 ("served − EM-only control", lambda r, q: r["per_example"]["untagged"],
                  lambda r, q: r["per_example"][q]["served"])]
        for name, pattern in args.peer:
            pairs.append((f"served − {name}", lambda r, q, p=pattern: peer_per_example(p, r["seed"]),
                          lambda r, q: r["per_example"][q]["served"]))
        lines += ["| paired bootstrap, all seeds' val prompts | EM difference [95% CI] | tokens difference |", "|---|---|---|"]
        for name, a, b in pairs:
            test = pooled_bootstrap(results, ratio, a, b)
            lines.append(f"| {name} | " + (f"{test['em_diff']:+.3f} [{test['em_ci'][0]:+.3f}, {test['em_ci'][1]:+.3f}] | "
                                          f"{test['tokens_diff']:+.1f}" if test else "— (no runs) | —") + " |")
        lines.append("")
        d_rows = [x["served"]["by_difficulty"] for x in t]
        lines.append("served per difficulty (mean over seeds, EM / tokens / budget): " + ", ".join(
            f"d={d}: {statistics.fmean(r[d]['em'] for r in d_rows):.2f} / {statistics.fmean(r[d]['mean_tokens'] for r in d_rows):.1f}"
            f" / {statistics.fmean(r[d]['mean_budget'] for r in d_rows):.1f}" for d in sorted(d_rows[0], key=int)))
        lines.append("")
    s = [r["stream"] for r in results]
    lines += [f"### Stream, easy to hard, T = {s[0]['ratio']} × base, observe after every 10 requests", "",
              "| seed | EM | mean tokens | worst 100-request window / T | window EM first → last |", "|---|---|---|---|---|"]
    for r, x in zip(results, s):
        lines.append(f"| {r['seed']} | {x['em']:.3f} | {x['mean_tokens']:.1f} | {x['max_window_over_T']:.3f} | "
                     f"{x['windows'][0]['em']:.2f} → {x['windows'][-1]['em']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/benchmark_conditioned.yaml")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--ratios", default="0.3,0.4,0.5,0.6")
    parser.add_argument("--stream_ratio", type=float, default=0.4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--restream", action="store_true", help="measured seeds: run the stream again, keep the rest")
    parser.add_argument("--reserve", action="store_true", help="measured seeds: re-fit the allocator from the run's "
                        "recorded calibration answers and serve every T and the stream again")
    parser.add_argument("--out", default="runs/conditioned")
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=DIR_PATTERN",
                        help="a run per seed to bootstrap against, e.g. terse_monotone=runs/compare/x/s{seed}")
    args = parser.parse_args(argv)
    args.ratios = [float(x) for x in args.ratios.split(",")]
    args.peer = [tuple(p.split("=", 1)) for p in args.peer]
    results = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        cache = Path(args.out) / f"s{seed}" / "conditioned_measure.json"
        if cache.exists() and json.loads(cache.read_text()).get("ratios") == args.ratios:
            result = json.loads(cache.read_text())["result"]
            if args.reserve or args.restream:
                result = reserve(args, seed, result) if args.reserve else restream(args, seed, result)
                cache.write_text(json.dumps({"ratios": args.ratios, "result": result}))
            results.append(result)
            continue
        result = measure_seed(args, seed)
        cache.write_text(json.dumps({"ratios": args.ratios, "result": result}))
        results.append(result)
    text = report(results, args)
    out = Path(args.out)
    (out / "table.md").write_text(text)
    (out / "results.json").write_text(json.dumps([{k: v for k, v in r.items() if k != "per_example"} for r in results],
                                                 indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
