"""Terse against the published length penalties: same task, seed, steps and token budget, side by side.

    python launch/compare.py --quick     # one seed, every method at its published default (≈ 40 min, 2-core CPU)
    python launch/compare.py             # 3 seeds; fixed-coefficient methods sweep their coefficient (hours)

Every method is `train/run.py` on the embedded arith task with the same settings (launch/bench_budget.py's
`common_args`: steps, seed, T = budget_ratio × base tokens, evaluation and checkpoint selection every 40
steps) and its own rewards. Runs are cached by their settings (`launch/runcache.py`): an interrupted
comparison resumes, and adding a method runs only that method. W&B groups the runs as `compare`.

Written to `runs/compare/`: `table.md` (method, runs needed, val EM ± spread, mean tokens ± spread,
tokens ÷ oracle, budget error, wall time, seconds per optimizer step, per 1k generated tokens, Terse's own
bookkeeping time), `pareto.png` (EM against mean tokens, one point per run, the base model marked) and
`results.json`. Spread is the range (max − min) over seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from launch.bench_budget import BUDGET_RATIO, common_args  # noqa: E402
from launch.runcache import cached_run  # noqa: E402


def rewards(**spec) -> list[str]:
    """--rewards JSON: the method's reward plus exact_match at weight 0 (the accuracy every method is measured by)."""
    return ["--rewards", json.dumps({"exact_match": {"weight": 0.0}, **spec})]


BUDGET_TOLERANCE = 0.05  # "within the budget": mean tokens ≤ T·(1 + this)
COMPLETIONS_PER_STEP = 64  # configs/arith.yaml: 8 prompts × 8 generations
FIXED = ["--constraint", "none"]  # a fixed coefficient: no controller
# name: (what it is, arguments at the published default, {coefficient: [sweep values]} or None).
# `{T}` in an argument is replaced by the token target T (measured from the base model by the first run).
METHODS: dict[str, tuple[str, list[str], dict | None]] = {
    "terse": ("Terse: PI dual ascent on the budget, learned per-prompt budgets",
              ["--learned_budget", "true"], None),
    "terse_global": ("Terse's default recipe: PI dual ascent on the budget, one global budget",
                     ["--learned_budget", "false"], None),
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
                   {"limit": ["{T}", "{1.25T}", "{1.5T}"]}),
    "shorter_better": ("ShorterBetter: α·c − β·|n − shortest correct|",
                       [*FIXED, *rewards(shorter_better={"alpha": 1.0, "beta": 0.001})],
                       {"beta": [0.001, 0.01, 0.03]}),
}


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
        for tag, factor in (("{T}", 1.0), ("{1.25T}", 1.25), ("{1.5T}", 1.5)):
            a = a.replace(f'"{tag}"', str(round(target * factor))).replace(tag, str(round(target * factor)))
        out.append(a)
    return out


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


def summarise(name: str, runs: list[dict], needed: int, target: float) -> dict:
    em = [r["final"]["em"] for r in runs]
    tok = [r["final"]["mean_tokens"] for r in runs]
    gen = [r.get("train_mean_completion_tokens") or 0 for r in runs]
    sps = [r["seconds_per_step"] for r in runs]
    return {
        "method": name,
        "runs_needed": needed,
        "seeds": len(runs),
        "em": statistics.fmean(em), "em_spread": max(em) - min(em),
        "tokens": statistics.fmean(tok), "tokens_spread": max(tok) - min(tok),
        "tokens_over_oracle": statistics.fmean(r["final"].get("tokens_over_oracle", float("nan")) for r in runs),
        "budget_error": statistics.fmean(tok) / target - 1,
        "wall_minutes": statistics.fmean(r["wall_seconds"] for r in runs) / 60,
        "seconds_per_step": statistics.fmean(sps),
        "seconds_per_1k_generated": statistics.fmean(1000 * s / (g * COMPLETIONS_PER_STEP) for s, g in zip(sps, gen) if g)
        if any(gen) else None,
        "overhead_per_step": statistics.fmean(r.get("terse_overhead_seconds_per_step", 0.0) for r in runs),
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


def table(rows: list[dict], base: dict, target: float, oracle: float, steps: int, seeds: list[int]) -> str:
    lines = [
        f"arith, {steps} steps, seeds {seeds}, token target T = {target:.1f} (base {base['mean_tokens']:.1f} tokens, "
        f"EM {base['em']:.3f}; oracle {oracle:.1f})",
        "",
        "| method | runs | val EM ± spread | mean tokens ± spread | tokens/oracle | budget error | wall (min) | "
        "s/step | s per 1k gen. tokens | Terse bookkeeping s/step |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per_1k = f"{r['seconds_per_1k_generated']:.2f}" if r["seconds_per_1k_generated"] else "–"
        lines.append(
            f"| {r['method']} | {r['runs_needed']} | {r['em']:.3f} ± {r['em_spread']:.3f} | "
            f"{r['tokens']:.1f} ± {r['tokens_spread']:.1f} | {r['tokens_over_oracle']:.2f} | {r['budget_error']:+.2f} | "
            f"{r['wall_minutes']:.1f} | {r['seconds_per_step']:.2f} | {per_1k} | {r['overhead_per_step']:.4f} |"
        )
    return "\n".join(lines)


def verdict(rows: list[dict], base: dict, target: float, oracle: float) -> str:
    by = {r["method"]: r for r in rows}
    terse, em_only = by.get("terse"), by.get("em_only")
    if terse is None:
        return ""
    out = []
    beaten = dominated_by(terse, rows)
    out.append(f"- Pareto: {'no peer run dominates Terse' if not beaten else 'dominated by ' + ', '.join(beaten)}")
    within = [r for r in rows if not r["method"].startswith("terse") and r["method"] != "em_only"
              and within_budget(r["tokens"], target)]
    if within:
        best = max(within, key=lambda r: r["em"])
        where = "within" if within_budget(terse["tokens"], target) else "NOT within (the comparison is not like for like)"
        out.append(f"- at the budget (mean tokens ≤ 1.05·T): Terse EM {terse['em']:.3f} vs best peer {best['method']} "
                   f"{best['em']:.3f} (margin {terse['em'] - best['em']:+.3f}; Terse {terse['tokens']:.1f} tokens, "
                   f"{where} the budget itself)")
    else:
        out.append("- at the budget: no peer reached mean tokens ≤ 1.05·T")
    out.append(f"- Terse tokens/oracle {terse['tokens'] / oracle:.2f} (≤ 1.2 wanted), EM {terse['em']:.3f} vs base "
               f"{base['em']:.3f} (≥ base − 0.02 wanted)")
    if em_only:
        overhead = terse["overhead_per_step"] / em_only["seconds_per_step"]
        out.append(f"- cost: Terse {terse['seconds_per_step']:.2f} s/step vs EM-only GRPO {em_only['seconds_per_step']:.2f} "
                   f"(Terse's completions are shorter); Terse's own bookkeeping (budget model, controller, gathers) "
                   f"{terse['overhead_per_step'] * 1000:.1f} ms/step = {overhead:.4f}× an EM-only step, so at equal "
                   f"generation length Terse costs {1 + overhead:.3f}× EM-only GRPO")
    return "\n".join(out)


def plot(rows: list[dict], base: dict, target: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one seed, published defaults only")
    parser.add_argument("--only", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: all cores)")
    parser.add_argument("--max_steps", type=int, default=120)
    parser.add_argument("--budget_ratio", type=float, default=BUDGET_RATIO)
    parser.add_argument("--out", default=str(REPO / "runs" / "compare"))
    args = parser.parse_args()
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    names = [n for n in METHODS if n in args.only.split(",")]
    if "terse" in names:  # first: its summary gives T for the methods that need it
        names.remove("terse")
        names.insert(0, "terse")
    env = {"WANDB_RUN_GROUP": "compare"}

    def run(name: str, method_args: list[str], seed: int) -> dict:
        common = common_args(args.max_steps, seed, args.budget_ratio)
        common += ["--torch_threads", str(args.threads)] if args.threads else []
        return cached_run(name, common + method_args, env={**env, "WANDB_NAME": f"{name}-s{seed}"})

    target = None
    rows, first = [], None
    for name in names:
        _, method_args, sweep = METHODS[name]
        if target is None and any("{" in a and "T}" in a for a in method_args):
            probe = run("terse", METHODS["terse"][1], seeds[0])
            target = probe["constraint"]["target"]
        method_args = fill_target(method_args, target) if target else method_args
        needed = 0
        if sweep and not args.quick:  # sweep at the first seed, then the best point at every seed
            (coef, values), = sweep.items()
            tried = []
            for v in values:
                value = json.loads(fill_target([json.dumps(v)], target)[0]) if target else v
                tried.append((run(name, with_coefficient(method_args, coef, value), seeds[0]), value))
            needed = len(tried)
            goal = target or t_from_base(tried[0][0], args.budget_ratio)
            best_value = max(tried, key=lambda t: feasible_key(t[0], goal))[1]
            method_args = with_coefficient(method_args, coef, best_value)
        results = [run(name, method_args, s) for s in seeds]
        needed += len(seeds) - (1 if sweep and not args.quick else 0)
        first = first or results[0]
        if target is None and results[0]["constraint"]["mode"] == "budget":
            target = results[0]["constraint"]["target"]
        rows.append((name, results, needed))
    target = target or t_from_base(first, args.budget_ratio)
    summaries = [summarise(name, results, needed, target) for name, results, needed in rows]
    base, oracle = first["base"], first["oracle_mean_tokens"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = table(summaries, base, target, oracle, args.max_steps, seeds) + "\n\n" + verdict(summaries, base, target, oracle)
    (out / "table.md").write_text(text + "\n")
    (out / "results.json").write_text(json.dumps({"target": target, "base": base, "rows": summaries}, indent=1))
    plot(summaries, base, target, out / "pareto.png")
    print("\n" + text + f"\n\nwrote {out / 'table.md'}, {out / 'pareto.png'}")


if __name__ == "__main__":
    main()
