"""Terse against the published length penalties: same task, seed, steps and token budget, side by side.

    python launch/compare.py --config configs/benchmark.yaml --quick                  # every method once
    python launch/compare.py --config configs/benchmark.yaml --budget_ratio 0.6 --workers 8   # 3 seeds, sweeps
    python launch/compare.py --quick                                                  # the embedded arith task

Every method is `train/run.py` on the recipe's task (default: the embedded arith task; the benchmark task is
`configs/benchmark.yaml`) with the same settings (launch/research/bench_budget.py's `common_args`: steps, seed,
T = budget_ratio × base tokens, evaluation and checkpoint selection every 40 steps) and its own rewards.
Fixed-coefficient methods sweep their coefficient at the first seed and run their best point (highest EM
within 1.05·T) at every seed. Runs are cached by their settings (`train/runcache.py`): an interrupted
comparison resumes, and adding a method runs only that method. `--workers N` runs N at once (each with
cores ÷ N threads). W&B groups the runs as `compare`.

On a task with answer modes (the benchmark task) the base model's reliability curves
(`launch/reliability.py`, computed per seed if missing) give the allocation frontier EM*(T) and the best
uniform cap: the table reports each method's gap to the frontier, and the plot draws both curves.

Written to `--out` (default `runs/compare/<recipe>-r<ratio>/`): `table.md` (per method: runs needed to
land within the budget, val EM ± spread, mean tokens ± spread, gap to the frontier, budget error, time;
then EM / tokens per difficulty; then the verdict with paired-bootstrap intervals), `pareto.png` (EM
against mean tokens, one point per run, frontier and uniform curves, base model) and `results.json`.
Spread is the range (max − min) over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from train.runcache import BUDGET_RATIO, cached_run, common_args, settings_key
from train.selection import BUDGET_TOLERANCE


def rewards(**spec) -> list[str]:
    """--rewards JSON: the method's reward plus exact_match at weight 0 (the accuracy every method is measured by)."""
    return ["--rewards", json.dumps({"exact_match": {"weight": 0.0}, **spec})]


COMPLETIONS_PER_STEP = 64  # configs/arith.yaml: 8 prompts × 8 generations
FIXED = ["--constraint", "none"]  # a fixed coefficient: no controller
# Terse's price form: a linear price on every answer's tokens (no correct-above-wrong cap: λ_max · cap > 1).
PRICE_FORM = ["--learned_budget", "false", "--lambda_max", "2.0", "--rewards",
              json.dumps({"exact_match": {}, "token_penalty": {"weight": "dual", "correct_only": False, "cap": 4.0}})]


def one_length_per_kind(allocation: str) -> list[str]:
    """The knapsack methods' settings (`--budget_allocation knapsack` or `monotone`): every answer priced,
    λ_max 2 and λ from 1 at step 0."""
    return ["--learned_budget", "true", "--budget_allocation", allocation, "--lambda_max", "2.0",
            "--lambda_init", "1.0", "--dual_warmup_steps", "0",
            "--rewards", json.dumps({"exact_match": {}, "budget_penalty": {
                "weight": "dual", "correct_only": False, "cap": 2.0}})]


# name: (what it is, arguments at the published default, {coefficient: [sweep values]} or None).
# `{T}` in an argument is replaced by the token target T (measured from the base model by the first run),
# `{R}` / `{1.125R}` by that multiple of the contest's budget ratio (fill_ratio).
PLACEHOLDER = re.compile(r"\{[0-9.]*[TR]\}")  # any of them: what a caller without a T or ratio must refuse
METHODS: dict[str, tuple[str, list[str], dict | None]] = {
    "terse": ("Terse: PI dual ascent on the budget, learned per-prompt budgets",
              ["--learned_budget", "true"], None),
    "terse_frontier": ("Terse: PI dual ascent on the budget, learned budgets allocated by the frontier's rule "
                       "on learned reliability curves (rewards/budgets/frontier.py)",
                       ["--learned_budget", "true", "--budget_allocation", "frontier"], None),
    "terse_frontier_price": ("Terse, learned frontier-rule budgets, overshoot priced on every answer (wrong ones "
                             "too, λ_max 2): may trade accuracy for tokens where the frontier does",
                             ["--learned_budget", "true", "--budget_allocation", "frontier", "--lambda_max", "2.0",
                              "--rewards", json.dumps({"exact_match": {}, "budget_penalty": {
                                  "weight": "dual", "correct_only": False, "cap": 2.0}})], None),
    "terse_knapsack": ("Terse, learned budgets, one length per kind of prompt (a knapsack over prompt-size groups "
                       "on the learned curves), overshoot priced on every answer (λ_max 2) so a kind can be shortened, "
                       "λ from 1 at step 0 so the sacrifice starts while the policy still samples every mode",
                       one_length_per_kind("knapsack"), None),
    "terse_monotone": ("Terse, learned budgets, one length per kind of prompt with no longer prompt answered shorter "
                       "(the knapsack under a size-order constraint), otherwise as terse_knapsack",
                       one_length_per_kind("monotone"), None),
    "terse_knapsack_split": ("Terse knapsack over finer kinds: each prompt-size group split three ways by the "
                             "prompt's first word, so a share of one size can be given up (the frontier's move)",
                             [*one_length_per_kind("knapsack"), "--budget_kind_split", "3"], None),
    "terse_monotone_descent": ("Terse monotone reaching T by descent: the budget held at 1.125·T for the first half "
                               "of the steps, then at T (train/schedule.py), so the kinds given up first are the "
                               "ones that cost least; same steps, one run",
                               [*one_length_per_kind("monotone"), "--budget_schedule", "{1.125R},{R}"], None),
    "terse_global_descent": ("the descent's control: one global budget on the same two-stage schedule",
                             ["--learned_budget", "false", "--budget_schedule", "{1.125R},{R}"], None),
    "terse_conditioned": ("Terse, budget-conditioned: the prompt states a budget, the policy learns to answer "
                          "within it (warm start + RL on sampled budgets, overshoot priced at λ = 3), and an allocator "
                          "fitted on the policy's own answers picks each prompt's budget under T "
                          "(train/allocator.py; task chain_budget: chain_easy's prompts with a budget tag)",
                          ["--task", "chain_budget", "--model_name_or_path", "builtin:chain_budget-tiny",
                           "--constraint", "none", "--eval_every", "0", "--select_checkpoint", "false",
                           "--rewards", json.dumps({"exact_match": {}, "budget_penalty": {
                               "weight": -3.0, "correct_only": False, "cap": 1.0}})], None),
    "terse_global": ("Terse's default recipe: PI dual ascent on the budget, one global budget",
                     ["--learned_budget", "false"], None),
    "terse_price": ("Terse, price form: PI dual ascent on the budget, a linear token price on every answer "
                    "(EM − λ·n/T, the allocation frontier's Lagrangian)", PRICE_FORM, None),
    "terse_price_served": ("Terse, price form holding the served (greedy) length at T",
                           [*PRICE_FORM, "--dual_measure", "greedy"], None),
    "terse_served": ("Terse, learned budgets, holding the served (greedy) length at T",
                     ["--learned_budget", "true", "--dual_measure", "greedy"], None),
    "terse_lr_guard": ("Terse (learned budgets) with the performance-aware learning rate (train/lr_guard.py)",
                       ["--learned_budget", "true", "--lr_guard", "true"], None),
    "em_only": ("plain TRL GRPO, EM reward alone", ["--constraint", "none"], None),
    "leash": ("LEASH/LACONIC: plain dual ascent on the budget, one global budget, relative overshoot",
              ["--learned_budget", "false", "--dual_kp", "0", "--dual_ema", "0"], None),
    "a_dlp": ("A-DLP: plain dual ascent on the raw EM gap to a floor (base − 0.02), linear penalty on every answer",
              ["--constraint", "em_floor", "--em_tolerance", "0.02", "--dual_kp", "0", "--dual_ema", "0",
               "--dual_em_scale", "1",
               "--rewards", json.dumps({"exact_match": {}, "token_penalty": {"weight": "dual", "correct_only": False}})],
              None),
    "linear": ("fixed linear penalty c − λ·n/L_max", [*FIXED, *rewards(linear_length={"coef": 0.2})],
               {"coef": [0.1, 0.2, 0.4, 0.8]}),
    "kimi": ("Kimi k1.5 group-normalised length reward", [*FIXED, *rewards(kimi_length={"w": 1.0})],
             {"w": [0.25, 0.5, 1.0]}),
    "arora_zanette": ("Arora & Zanette 2025, sigmoid of the z-scored length", [*FIXED, *rewards(arora_zanette={"alpha": 0.2})],
                      {"alpha": [0.05, 0.1, 0.2, 0.4]}),
    "trl_cosine": ("TRL get_cosine_scaled_reward (Yeo et al. 2025)", [*FIXED, *rewards(trl_cosine={"max_len": 128})],
                   {"max_len": [64, 128, 256]}),
    "trl_soft_overlong": ("TRL get_soft_overlong_punishment (DAPO)",
                          [*FIXED, *rewards(trl_soft_overlong={"max_len": 64, "cache": 16})],
                          {"max_len": [32, 48, 64]}),
    "truncation": ("ThinkPrune/DLER truncation: 0 beyond L = T", [*FIXED, *rewards(truncation={"limit": "{T}"})],
                   {"limit": ["{0.8T}", "{T}", "{1.25T}", "{1.5T}"]}),  # L < T: it overshoots T at L = T
    "shorter_better": ("ShorterBetter: α·c − β·|n − shortest correct|",
                       [*FIXED, *rewards(shorter_better={"alpha": 1.0, "beta": 0.001})],
                       {"beta": [0.001, 0.01, 0.03]}),
    # per-prompt peers: the price of a token depends on how well the policy solves the prompt
    "alp": ("ALP (Just Enough Thinking): c − β/N·max(solve rate, 1/K)·n",
            [*FIXED, *rewards(alp={"beta": 0.2, "max_len": 128})], {"beta": [0.1, 0.2, 0.4, 0.8]}),
    "pass_rate_linear": ("prime-rl pass-rate-scaled linear: c − coef·pass rate·n/max_G n",
                         [*FIXED, *rewards(pass_rate_linear={"coef": 0.25})], {"coef": [0.1, 0.25, 0.5, 1.0]}),
    "laser_d": ("LASER-D: c + α·[c and n ≤ L_T(bucket)], bucket targets recomputed online",
                [*FIXED, *rewards(laser_d={"alpha": 0.5})], {"alpha": [0.25, 0.5, 1.0]}),
}
PER_PROMPT = ("terse", "terse_conditioned", "terse_frontier", "terse_frontier_price", "terse_knapsack", "terse_monotone",
              "terse_monotone_descent", "terse_knapsack_split", "alp", "pass_rate_linear", "laser_d")  # methods whose length price differs per prompt


def with_coefficient(args: list[str], name: str, value) -> list[str]:
    """The method's arguments with one reward parameter changed (for a sweep)."""
    i = args.index("--rewards")
    spec = json.loads(args[i + 1])
    reward = next(k for k in spec if k != "exact_match")
    spec[reward][name] = value
    return [*args[:i], "--rewards", json.dumps(spec), *args[i + 2:]]


def fill_target(args: list[str], target: float) -> list[str]:
    out = []
    for a in args:
        for tag, factor in (("{0.8T}", 0.8), ("{T}", 1.0), ("{1.25T}", 1.25), ("{1.5T}", 1.5)):
            a = a.replace(f'"{tag}"', str(round(target * factor))).replace(tag, str(round(target * factor)))
        out.append(a)
    return out


def fill_ratio(args: list[str], ratio: float) -> list[str]:
    """`{R}` / `{1.125R}` in an argument → that multiple of the contest's budget ratio (a schedule's stages)."""
    return [re.sub(r"\{([0-9.]*)R\}", lambda m: f"{float(m.group(1) or 1) * ratio:.4g}", a) for a in args]


def t_from_base(run: dict, ratio: float) -> float:
    return run["base"]["mean_tokens"] * ratio


def within_budget(tokens: float, target: float) -> bool:
    return tokens <= target * (1 + BUDGET_TOLERANCE)


def feasible_key(run: dict, target: float) -> tuple:
    """Best point of a sweep: highest EM within the budget; if none fits, the fewest tokens."""
    f = run["final"]
    if within_budget(f["mean_tokens"], target):
        return (1, f["em"], -f["mean_tokens"])
    return (0, -f["mean_tokens"], f["em"])


def runs_to_budget(tried: list[dict], target: float) -> int | None:
    """Runs a user needs to land within the budget: the whole sweep if any of its points does (nobody knows
    beforehand which will), 1 for a single-run method that does; None if none does."""
    return len(tried) if any(within_budget(r["final"]["mean_tokens"], target) for r in tried) else None


def frontier_em(reliability: dict | None, target: float) -> float | None:
    """EM*(T) of a seed's base model (None without reliability curves)."""
    if not reliability:
        return None
    from rewards.budgets.allocation import frontier

    return frontier(reliability["curves"], reliability["shares"], target)["em"]


def summarise(name: str, runs: list[dict], to_budget: int | None, sweep_size: int, target: float,
              reliability: dict) -> dict:
    em = [r["final"]["em"] for r in runs]
    tok = [r["final"]["mean_tokens"] for r in runs]
    gen = [r.get("train_mean_completion_tokens") or 0 for r in runs]
    sps = [r["seconds_per_step"] for r in runs]
    gaps = [frontier_em(reliability.get(r["seed"]), target) - r["final"]["em"] for r in runs if reliability.get(r["seed"])]
    own = [frontier_em(reliability.get(r["seed"]), r["final"]["mean_tokens"]) - r["final"]["em"]
           for r in runs if reliability.get(r["seed"])]
    levels = sorted(runs[0]["final"].get("by_difficulty", {}), key=int)
    return {
        "method": name,
        "runs_to_budget": to_budget,
        "sweep": sweep_size,
        "seeds": [r["seed"] for r in runs],
        "em": statistics.fmean(em), "em_spread": max(em) - min(em),
        "tokens": statistics.fmean(tok), "tokens_spread": max(tok) - min(tok),
        "frontier_gap": statistics.fmean(gaps) if gaps else None,  # EM*(T) − EM
        "own_length_gap": statistics.fmean(own) if own else None,  # EM*(its own mean tokens) − EM
        "tokens_over_oracle": statistics.fmean(r["final"].get("tokens_over_oracle", float("nan")) for r in runs),
        "budget_error": statistics.fmean(tok) / target - 1,
        "wall_minutes": statistics.fmean(r["wall_seconds"] for r in runs) / 60,
        "seconds_per_step": statistics.fmean(sps),
        "seconds_per_1k_generated": statistics.fmean(1000 * s / (g * COMPLETIONS_PER_STEP) for s, g in zip(sps, gen) if g)
        if any(gen) else None,
        "overhead_per_step": statistics.fmean(r.get("terse_overhead_seconds_per_step", 0.0) for r in runs),
        "by_difficulty": {d: (statistics.fmean(r["final"]["by_difficulty"][d]["em"] for r in runs),
                              statistics.fmean(r["final"]["by_difficulty"][d]["mean_tokens"] for r in runs))
                          for d in levels},
        "points": [(r["final"]["em"], r["final"]["mean_tokens"]) for r in runs],
        "dirs": [r["dir"] for r in runs],
    }


def dominated_by(terse: dict, rows: list[dict]) -> list[str]:
    """Peer runs with both higher EM and fewer tokens than Terse's mean, beyond the seed spreads."""
    out = []
    for row in rows:
        if row["method"].startswith("terse"):
            continue
        for em, tok in row["points"]:
            if em > terse["em"] + terse["em_spread"] and tok < terse["tokens"] - terse["tokens_spread"]:
                out.append(f"{row['method']} (EM {em:.3f}, {tok:.1f} tokens)")
    return out


def per_example(run_dir: str) -> dict | None:
    path = Path(run_dir) / "val_per_example.json"
    return json.loads(path.read_text()) if path.exists() else None


def paired(a: dict, b: dict) -> dict | None:
    """Paired bootstrap of B − A over val prompts, pooled over the seeds both methods ran (prompt i of seed s
    in A against prompt i of seed s in B)."""
    from train.ab_test import paired_bootstrap

    ca, cb, ta, tb = [], [], [], []
    for da, db in zip(a["dirs"], b["dirs"]):  # seeds in the same order
        ea, eb = per_example(da), per_example(db)
        if ea is None or eb is None or ea["prompts"] != eb["prompts"]:
            return None
        ca += ea["correct"]; cb += eb["correct"]; ta += ea["tokens"]; tb += eb["tokens"]  # noqa: E702
    return paired_bootstrap(ca, cb, ta, tb) if ca else None


def table(rows: list[dict], base: dict, target: float, oracle: float, steps: int, seeds: list[int],
          task: str, references: dict | None) -> str:
    ref = ""
    if references:
        pure = f", one mode per difficulty {references['pure']:.3f}" if "pure" in references else ""
        pure += f", monotone in difficulty {references['monotone']:.3f}" if "monotone" in references else ""
        ref = (f"; seed {seeds[0]}'s base model: frontier EM*(T) = {references['frontier']:.3f}{pure}, best uniform cap "
               f"{references['uniform']:.3f}; the gap columns use each seed's own frontier")
    lines = [
        f"{task}, {steps} steps, seeds {seeds}, token target T = {target:.1f} (base {base['mean_tokens']:.1f} tokens, "
        f"EM {base['em']:.3f}; oracle {oracle:.1f}{ref})",
        "",
        "| method | runs to land within 1.05·T | val EM ± spread | mean tokens ± spread | gap to frontier EM*(T) | "
        "gap at its own length | budget error | wall (min) | s/step | s per 1k gen. tokens | Terse bookkeeping s/step |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per_1k = f"{r['seconds_per_1k_generated']:.2f}" if r["seconds_per_1k_generated"] else "–"
        runs = str(r["runs_to_budget"]) if r["runs_to_budget"] else f"none of {max(1, r['sweep'])}"
        gap = f"{r['frontier_gap']:+.3f}" if r["frontier_gap"] is not None else "–"
        own = f"{r['own_length_gap']:+.3f}" if r["own_length_gap"] is not None else "–"
        lines.append(
            f"| {r['method']} | {runs} | {r['em']:.3f} ± {r['em_spread']:.3f} | "
            f"{r['tokens']:.1f} ± {r['tokens_spread']:.1f} | {gap} | {own} | {r['budget_error']:+.2f} | "
            f"{r['wall_minutes']:.1f} | {r['seconds_per_step']:.2f} | {per_1k} | {r['overhead_per_step']:.4f} |"
        )
    levels = list(rows[0]["by_difficulty"]) if rows else []
    if levels:
        lines += ["", "per difficulty, val EM / mean tokens (mean over seeds):", "",
                  "| method | " + " | ".join(f"d={d}" for d in levels) + " |", "|---|" + "---|" * len(levels)]
        bd = base.get("by_difficulty", {})
        if bd:
            lines.append("| base | " + " | ".join(f"{bd[d]['em']:.2f} / {bd[d]['mean_tokens']:.1f}" for d in levels) + " |")
        for r in rows:
            lines.append(f"| {r['method']} | " + " | ".join(f"{r['by_difficulty'][d][0]:.2f} / {r['by_difficulty'][d][1]:.1f}"
                                                          for d in levels) + " |")
    return "\n".join(lines)


def _ci(test: dict | None) -> str:
    if not test:
        return "(no paired data)"
    lo, hi = test["em_ci"]
    return f"EM difference {test['em_diff']:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}] over {test['n']} paired prompts"


def verdict(rows: list[dict], base: dict, target: float, oracle: float, references: dict | None = None,
            terse_name: str = "terse") -> str:
    """What holds, with paired-bootstrap intervals; `terse_name` is the method reported as Terse."""
    by = {r["method"]: r for r in rows}
    terse, em_only, glob = by.get(terse_name), by.get("em_only"), by.get("terse_global")
    if terse is None:
        return ""
    out = [f"- Terse here is `{terse_name}`"]
    beaten = dominated_by(terse, rows)
    out.append(f"- Pareto: {'no peer run dominates Terse' if not beaten else 'dominated by ' + ', '.join(beaten)}")
    terse_within = "within" if within_budget(terse["tokens"], target) else "NOT within (not like for like)"
    if glob:
        test = paired(glob, terse)
        line = (f"- learned vs global budget: Terse EM {terse['em']:.3f} at {terse['tokens']:.1f} tokens, global "
                f"{glob['em']:.3f} at {glob['tokens']:.1f}; {_ci(test)}")
        if terse["frontier_gap"] is not None and glob["frontier_gap"] is not None:
            line += f"; gap to the frontier {terse['frontier_gap']:+.3f} vs {glob['frontier_gap']:+.3f}"
            if glob["frontier_gap"] > 0 and within_budget(glob["tokens"], target):
                line += f" (share of the global budget's gap closed: {1 - terse['frontier_gap'] / glob['frontier_gap']:.2f})"
            else:
                line += " (no share of a gap to close: the global run is over the budget, above EM*(T))"
        out.append(line)
    peers = [r for r in rows if not r["method"].startswith("terse") and r["method"] != "em_only"]
    within = [r for r in peers if within_budget(r["tokens"], target)]
    for label, group in (("best peer", within), ("best per-prompt peer", [r for r in within if r["method"] in PER_PROMPT])):
        if group:
            best = max(group, key=lambda r: r["em"])
            out.append(f"- {label} within the budget (mean tokens ≤ 1.05·T): {best['method']} EM {best['em']:.3f} at "
                       f"{best['tokens']:.1f} tokens; Terse {terse['em']:.3f} at {terse['tokens']:.1f} ({terse_within} "
                       f"the budget); Terse − peer: {_ci(paired(best, terse))}")
        else:
            out.append(f"- {label}: none reached mean tokens ≤ 1.05·T")
    spenders = [r for r in peers if r["method"] in PER_PROMPT and not within_budget(r["tokens"], target)]
    if spenders and not any(r["method"] in PER_PROMPT for r in within):
        # Still put Terse beside the strongest per-prompt peer, paired, and say plainly that it is not like for like.
        best = max(spenders, key=lambda r: r["em"])
        out.append(f"- strongest per-prompt peer, over the budget ({best['tokens'] / target:.2f} × T): {best['method']} "
                   f"EM {best['em']:.3f} at {best['tokens']:.1f} tokens; Terse {terse['em']:.3f} at "
                   f"{terse['tokens']:.1f} ({terse['tokens'] / best['tokens']:.2f}× its tokens); Terse − peer: "
                   f"{_ci(paired(best, terse))}")
    if em_only:
        out.append(f"- EM-only control: EM {em_only['em']:.3f} at {em_only['tokens']:.1f} tokens = "
                   f"{em_only['tokens'] / base['mean_tokens']:.2f} × base (no length pressure)")
        overhead = terse["overhead_per_step"] / em_only["seconds_per_step"]
        out.append(f"- cost: Terse's own bookkeeping (budget model, controller, gathers) "
                   f"{terse['overhead_per_step'] * 1000:.1f} ms/step = {overhead:.4f}× an EM-only step")
    return "\n".join(out)


def reference_curves(reliability: dict | None, upto: float) -> dict[str, list[tuple[float, float]]]:
    """(budget T, EM) of the frontier EM*(T) and the best uniform cap U(T) for T up to `upto`, for the plot:
    both as functions of the budget (a uniform cap often cannot use all of it)."""
    if not reliability:
        return {}
    from rewards.budgets.allocation import frontier, uniform

    out = {"allocation frontier EM*(T)": [], "best uniform cap": []}
    budget = min(p["mean_tokens"] for c in reliability["curves"].values() for p in c)
    while budget <= upto:
        for label, solve in zip(out, (frontier, uniform)):
            point = solve(reliability["curves"], reliability["shares"], budget)
            if point["feasible"]:
                out[label].append((budget, point["em"]))
        budget += 0.25
    return out


def plot(rows: list[dict], base: dict, target: float, path: Path, reliability: dict | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for (label, points), style in zip(reference_curves(reliability, base["mean_tokens"]).items(), ("-", ":")):
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, style, color="black", lw=1.2, label=label + " at mean tokens ≤ T (seed 0 base model)")
    for i, r in enumerate(rows):
        ems, toks = zip(*r["points"], strict=True)
        style = {"marker": "*", "s": 160, "zorder": 3} if r["method"].startswith("terse") else {"marker": "o", "s": 40}
        ax.scatter(toks, ems, label=r["method"], color=plt.cm.tab20(i % 20), **style)
    ax.scatter([base["mean_tokens"]], [base["em"]], marker="X", s=120, c="black", label="base model")
    ax.axvline(target, ls="--", c="grey", lw=1)
    ax.text(target, ax.get_ylim()[0], " T", va="bottom", color="grey")
    ax.set_xlabel("mean completion tokens (val, greedy)")
    ax.set_ylabel("exact match (val, greedy)")
    ax.set_title("EM against tokens: one point per run")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


class Contest:
    """Runs a comparison's training runs `workers` at a time; each method waits only for what it needs."""

    def __init__(self, args):
        self.args = args
        self.pool = ThreadPoolExecutor(max_workers=args.workers)
        self.threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
        self.futures: dict[tuple, Future] = {}
        self.lock = threading.Lock()

    def run(self, name: str, method_args: list[str], seed: int) -> Future:
        common = common_args(self.args.max_steps, seed, self.args.budget_ratio, self.args.config)
        method_args = fill_ratio(method_args, self.args.budget_ratio)
        args = common + ["--torch_threads", str(self.threads)] + method_args + shlex.split(self.args.extra)
        env = {"WANDB_RUN_GROUP": "compare", "WANDB_NAME": f"{name}-s{seed}", "OMP_NUM_THREADS": str(self.threads)}
        with self.lock:  # identical settings (a sweep point that is also the default) run once
            key = settings_key(args)  # the run cache's own identity of a run's settings
            if key not in self.futures:
                self.futures[key] = self.pool.submit(cached_run, name, args, env=env)
            return self.futures[key]

    def reliability(self, seed: int) -> Future:
        """The seed's reliability curves (trains its base model first if uncached); None for tasks without modes."""
        def measure():
            if not self.args.config or not has_modes(self.args.config):
                return None
            from train.reliability import default_path

            path = default_path(self.args.config, seed, self.args.extra)
            if not path.exists():  # the runs' base model: the same recipe, seed and extra arguments
                cmd = [sys.executable, "-m", "train.reliability", "--config", self.args.config,
                       "--seed", str(seed), "--out", str(path), "--threads", str(self.threads),
                       "--extra", self.args.extra]
                log = path.with_suffix(".log")
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(log, "w") as f:
                    proc = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
                if proc.returncode != 0:
                    print(f"[reliability s{seed}] failed; see {log}", flush=True)
                    return None
            report = json.loads(path.read_text())
            return report if report.get("curves") else None

        with self.lock:
            key = ("reliability", seed)
            if key not in self.futures:
                self.futures[key] = self.pool.submit(measure)
            return self.futures[key]


def has_modes(config: str) -> bool:
    """Does the recipe's task have answer modes (so reliability curves and a frontier)?"""
    import yaml

    from train import tasks

    task = tasks.get((yaml.safe_load(Path(config).read_text()) or {}).get("task", "arith"))
    return isinstance(task, tasks.Generated) and hasattr(task.module(), "MODES")


def run_method(contest: Contest, name: str, seeds: list[int], target_of) -> tuple:
    """(results per seed, runs to land within the budget, sweep size) of one method."""
    args = contest.args
    _, method_args, sweep = METHODS[name]
    target = None
    if any("{" in a and "T}" in a for a in method_args):
        target = target_of()
        method_args = fill_target(method_args, target)
    if sweep and not (args.quick or args.defaults):  # sweep at the first seed, then the best point at every seed
        (coef, values), = sweep.items()
        values = [json.loads(fill_target([json.dumps(v)], target)[0]) if target else v for v in values]
        tried = [contest.run(name, with_coefficient(method_args, coef, v), seeds[0]) for v in values]
        tried = [f.result() for f in tried]
        goal = target or target_of()
        best = max(zip(tried, values), key=lambda t: feasible_key(t[0], goal))[1]
        method_args = with_coefficient(method_args, coef, best)
        results = [f.result() for f in [contest.run(name, method_args, s) for s in seeds]]
        return results, runs_to_budget(tried, goal), len(tried)
    results = [f.result() for f in [contest.run(name, method_args, s) for s in seeds]]
    constraint = results[0].get("constraint") or {}
    own = constraint.get("target") if constraint.get("mode") == "budget" else None  # a budget run knows its T
    return results, runs_to_budget(results[:1], target or own or target_of()), 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="recipe every run starts from (default: the embedded arith recipe)")
    parser.add_argument("--quick", action="store_true", help="one seed, published defaults only")
    parser.add_argument("--defaults", action="store_true", help="published defaults only (no sweeps), every seed")
    parser.add_argument("--only", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workers", type=int, default=1, help="training runs at once")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: cores ÷ workers)")
    parser.add_argument("--max_steps", type=int, default=120)
    parser.add_argument("--budget_ratio", type=float, default=BUDGET_RATIO)
    parser.add_argument("--out", help="output folder (default: runs/compare/<recipe>-r<ratio>)")
    parser.add_argument("--terse", default="terse", help="the method the verdict reports as Terse (e.g. terse_frontier)")
    parser.add_argument("--extra", default="", help="train/run.py arguments added to every run, e.g. '--lambda_max 0.9'")
    args = parser.parse_args()
    unknown = set(args.only.split(",")) - set(METHODS)
    if unknown:
        parser.error(f"--only: unknown method(s) {sorted(unknown)}; available: {','.join(METHODS)}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    names = [n for n in METHODS if n in args.only.split(",")]
    contest = Contest(args)
    reliability_futures = {s: contest.reliability(s) for s in seeds}
    for f in reliability_futures.values():  # base models first: runs of a seed share its warm start
        f.result()

    # T as the runs compute it: budget_ratio × the base model's val tokens, read from the first method that needs
    # no T itself (so `--only em_only,truncation` does not train `terse` first)
    measuring = next((n for n in names if "--task" not in METHODS[n][1]
                      and not any(PLACEHOLDER.search(a) for a in METHODS[n][1])), "terse")

    def target_of() -> float:
        return t_from_base(contest.run(measuring, METHODS[measuring][1], seeds[0]).result(), args.budget_ratio)

    with ThreadPoolExecutor(max_workers=len(names)) as methods:
        done = {name: methods.submit(run_method, contest, name, seeds, target_of) for name in names}
        outcomes = {}
        for name in names:
            try:
                outcomes[name] = done[name].result()
            except RuntimeError as err:  # one failed run does not lose the others
                print(f"[{name}] skipped: {err}", flush=True)
    contest.pool.shutdown()
    if not outcomes:
        sys.exit("compare: every method failed; see the run logs under runs/cache/")
    first = next(iter(outcomes.values()))[0][0]
    target = t_from_base(first, args.budget_ratio)
    reliability = {s: f.result() for s, f in reliability_futures.items()}
    summaries = [summarise(n, res, to_budget, sweep, target, reliability)
                 for n, (res, to_budget, sweep) in outcomes.items()]
    base, oracle = first["base"], first["oracle_mean_tokens"]
    rel0 = reliability.get(seeds[0])
    refs = None
    if rel0:
        from rewards.budgets.allocation import frontier, monotone_frontier, pure_frontier, uniform

        refs = {"frontier": frontier(rel0["curves"], rel0["shares"], target)["em"],
                "pure": pure_frontier(rel0["curves"], rel0["shares"], target)["em"],
                "monotone": monotone_frontier(rel0["curves"], rel0["shares"], target)["em"],
                "uniform": uniform(rel0["curves"], rel0["shares"], target)["em"]}
    out = Path(args.out) if args.out else REPO / "runs" / "compare" / f"{Path(args.config).stem if args.config else 'arith'}-r{args.budget_ratio}"
    out.mkdir(parents=True, exist_ok=True)
    text = (table(summaries, base, target, oracle, args.max_steps, seeds, first.get("task", "arith"), refs)
            + "\n\n" + verdict(summaries, base, target, oracle, refs, args.terse))
    (out / "table.md").write_text(text + "\n")
    (out / "results.json").write_text(json.dumps({"target": target, "base": base, "references": refs,
                                                  "rows": summaries}, indent=1))
    plot(summaries, base, target, out / "pareto.png", rel0)
    print("\n" + text + f"\n\nwrote {out / 'table.md'}, {out / 'pareto.png'}")


if __name__ == "__main__":
    main()
