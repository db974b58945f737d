"""One scheduled run against separately trained fixed-budget runs: is the front from one run as good?

    python -m launch.research.bench_schedule --auto                            # arith: 0.6,0.45,0.4,0.35, 60+40+40+40 steps
    python -m launch.research.bench_schedule --config configs/benchmark.yaml --workers 2 --threads 1
    python -m launch.research.bench_schedule --config configs/benchmark_easy.yaml --method terse_monotone \
        --schedule 0.6,0.45,0.4,0.35 --compare 0.6,0.45,0.4,0.35 --seeds 0,1,2 --workers 2 --threads 1

The scheduled run lowers T stage by stage (`--budget_schedule`, train/schedule.py); each fixed run trains
from the base model at one of the stages' targets for `--fixed_steps`. The table puts each stage's point
beside the fixed run at the same T: val EM and tokens, the EM difference, whether the point's tokens stay
within 1.1 × its target, and the steps each way. Runs are cached (train/runcache.py), so a second call
only prints. Writes `runs/bench_schedule/<recipe>/table.md` and `results.json`.

`--seeds 0,1,2` repeats the whole comparison per seed (each seed's scheduled run against that seed's fixed
runs) and adds a summary: per stage, the EM difference on every seed, and on how many seeds the issue's
clause holds (≥ 4 points, tokens strictly decreasing, each within 1.1 × its target, EM within 0.02 of the
fixed run). One seed's walk is one draw: on the benchmark a stage at 0.35–0.45 × base may land on either
of two answer lengths, so a single run says little about a schedule.

`--ab_split test` also puts every compared stage checkpoint (`front/step-N`) against its fixed run on that
split with `python -m train.evaluate` (greedy, paired bootstrap over the split's prompts; the JSON is kept
in `<out>/ab/`, named by the scheduled run, and reused), and adds the scheduled − fixed EM with its 95%
interval to each seed's table.

Where the seed's reliability curves exist (`python launch/reliability.py --config ... --seed N`, which
`launch/compare.py` runs for every seed of a contest), each point also gets the references at its own mean
tokens: the allocation frontier EM*, the monotone reference and the best uniform cap.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


from train.runcache import REPO, cached_run, common_args


def scheduled_args(spec: str, stage_steps: str, stages: int, seed: int, config: str | None) -> list[str]:
    """A scheduled run's arguments; `stage_steps` like `60,40` (the last number repeats up to `stages`)."""
    first = spec.split(",")[0] if spec != "auto" else "0.6"
    steps = [int(x) for x in str(stage_steps).split(",")]
    total = sum(steps[min(i, len(steps) - 1)] for i in range(stages))
    return [*common_args(total, seed, float(first), config), "--budget_schedule", spec,
            "--budget_stage_steps", str(stage_steps)]


def stage_key(ratio: float) -> float:
    """A budget ratio as a dict key: a stage's ratio (from frontier.json) and a fixed run's (from its name)
    are the same float only after rounding."""
    return round(float(ratio), 6)


EM_EPS = 1e-9  # val EM is a multiple of 1/N: a difference of exactly the tolerance must not fail by float noise


def clause(points: list[dict], fixed: dict[float, dict], tolerance: float = 0.02) -> dict:
    """The issue's acceptance for one walk: every stage point's tokens within 1.1 × its target, tokens
    strictly decreasing over ≥ 4 points, and each compared point's val EM within `tolerance` of its fixed
    run (`diff` per compared ratio: scheduled − fixed). Read two ways, both reported: `within` (|diff| ≤
    tolerance: the walk neither worse nor better) and `no_worse` (diff ≥ −tolerance: what a user of the
    front needs — a walk far *better* than a fixed run that collapsed fails the first reading only)."""
    tokens = [p["mean_tokens"] for p in points]
    diff = {stage_key(p["ratio"]): p["em"] - fixed[stage_key(p["ratio"])]["final"]["em"]
            for p in points if stage_key(p["ratio"]) in fixed}
    inside = all(p["mean_tokens"] <= 1.1 * p["target"] for p in points)
    strict = len(points) >= 4 and all(b < a for a, b in zip(tokens, tokens[1:]))
    within = bool(diff) and all(abs(d) <= tolerance + EM_EPS for d in diff.values())
    no_worse = bool(diff) and all(d >= -tolerance - EM_EPS for d in diff.values())
    return {"inside": inside, "strict": strict, "diff": diff, "within": within, "no_worse": no_worse,
            "met": inside and strict and within, "met_no_worse": inside and strict and no_worse}


def seeds_summary(walks: dict[int, dict]) -> str:
    """Per stage ratio, each seed's scheduled EM (tokens) and its difference from that seed's fixed run;
    then on how many seeds each part of the clause holds. `walks`: seed → {"points", "fixed"}."""
    seeds = sorted(walks)
    ratios = [stage_key(p["ratio"]) for p in walks[seeds[0]]["points"]]
    checks = {s: clause(w["points"], w["fixed"]) for s, w in walks.items()}
    lines = ["| ratio | " + " | ".join(f"seed {s}: scheduled EM (tokens), − fixed" for s in seeds)
             + " | mean (scheduled − fixed) |", "|---" * (len(seeds) + 2) + "|"]
    for i, r in enumerate(ratios):
        cells, diffs = [], []
        for s in seeds:
            p = walks[s]["points"][i] if i < len(walks[s]["points"]) else None
            d = checks[s]["diff"].get(r)
            diffs += [d] if d is not None else []
            cells.append("—" if p is None else f"{p['em']:.3f} ({p['mean_tokens']:.1f})" + (f", {d:+.3f}" if d is not None else ""))
        mean = f"{sum(diffs) / len(diffs):+.3f} [{min(diffs):+.3f}, {max(diffs):+.3f}]" if diffs else "—"
        lines.append(f"| {r:.2f} | " + " | ".join(cells) + f" | {mean} |")
    n = len(seeds)
    count = {k: sum(c[k] for c in checks.values())
             for k in ("strict", "inside", "within", "met", "no_worse", "met_no_worse")}
    lines += ["", f"- tokens strictly decreasing over ≥ 4 points: {count['strict']} of {n} seeds; every point ≤ 1.1·T: "
              f"{count['inside']} of {n}; every compared point within 0.02 EM of its fixed run: {count['within']} of {n}; "
              f"all three: {count['met']} of {n}",
              f"- read one-sided (every compared point at most 0.02 EM below its fixed run): {count['no_worse']} of "
              f"{n}; all three with that reading: {count['met_no_worse']} of {n}"]
    return "\n".join(lines) + "\n"


def paired_ab(fixed_dir: str, stage_dir: str, split: str, path: Path) -> dict:
    """The paired bootstrap of a stage checkpoint (B) against a fixed run (A) on `split`, from `train.evaluate`
    (run once; its JSON report at `path` is reused only if it compares exactly these two models — a report
    left by another walk at the same ratio and seed is stale, and is measured again)."""
    if not path.exists() or list(json.loads(path.read_text()).get("models", {})) != [fixed_dir, stage_dir]:
        path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "train.evaluate", fixed_dir, stage_dir, "--split", split, "--out", str(path)]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"train.evaluate failed (exit {proc.returncode}) on {stage_dir}: {proc.stderr[-2000:]}")
    return json.loads(path.read_text())["ab_test"]["greedy"]


def references_at(reliability: dict | None, tokens: float) -> dict | None:
    """What the base model's reliability curves (launch/reliability.py) say is reachable at a point's own mean
    tokens: the allocation frontier EM*, the monotone reference (one mode per difficulty, never shorter for
    a harder one: what `terse_monotone` can follow) and the best uniform cap. None without curves. Why at
    the point's tokens and not at T: a point over or under its target is judged against what that many
    tokens could buy."""
    if not reliability:
        return None
    from rewards.budgets.allocation import frontier, monotone_frontier, uniform

    curves, shares = reliability["curves"], reliability["shares"]
    solved = {name: solve(curves, shares, tokens) for name, solve in
              (("frontier", frontier), ("monotone", monotone_frontier), ("uniform", uniform))}
    return {name: point["em"] if point["feasible"] else None for name, point in solved.items()}


def table(schedule_run: dict, fixed: dict[float, dict], auto_run: dict | None, ab: dict | None = None,
          reliability: dict | None = None) -> str:
    base = schedule_run["base"]
    points = schedule_run["frontier"]
    fixed_steps = sum(r["steps"] for r in fixed.values())
    versus = (f"the fixed runs: {fixed_steps} steps in all ({schedule_run['steps'] / fixed_steps:.2f}×)" if fixed_steps
              else "no fixed-budget runs asked for")
    lines = [
        f"base: val EM {base['em']:.3f}, {base['mean_tokens']:.1f} tokens. Scheduled run: {schedule_run['steps']} steps "
        f"in all; {versus}.",
        "",
        "| stage | ratio | T | scheduled EM | scheduled tokens | ≤ 1.1·T | fixed-budget run EM | fixed tokens | EM (scheduled − fixed) |"
        + (" paired on the split: EM [95%], tokens |" if ab is not None else "")
        + (" at its tokens: frontier / monotone / uniform cap |" if reliability else ""),
        "|---" * (9 + (ab is not None) + bool(reliability)) + "|",
    ]
    for p in points:
        f = fixed.get(stage_key(p["ratio"]))
        inside = "yes" if p["mean_tokens"] <= 1.1 * p["target"] else "no"
        cells = ([f"{f['final']['em']:.3f}", f"{f['final']['mean_tokens']:.1f}", f"{p['em'] - f['final']['em']:+.3f}"]
                 if f else ["—", "—", "—"])
        if ab is not None:
            g = ab.get(stage_key(p["ratio"]))
            cells.append(f"{g['em_diff']:+.3f} [{g['em_ci'][0]:+.3f}, {g['em_ci'][1]:+.3f}], {g['tokens_b']:.1f} vs "
                         f"{g['tokens_a']:.1f}" if g else "—")
        refs = references_at(reliability, p["mean_tokens"])
        if refs is not None:
            cells.append(" / ".join("—" if refs[k] is None else f"{refs[k]:.3f}" for k in ("frontier", "monotone", "uniform")))
        lines.append(f"| {p['stage']} (step {p['step']}) | {p['ratio']:.2f} | {p['target']:.1f} | {p['em']:.3f} | "
                     f"{p['mean_tokens']:.1f} | {inside} | " + " | ".join(cells) + " |")
    check = clause(points, fixed)
    lines += ["", f"- mean tokens strictly decreasing over ≥ 4 stages: {check['strict']}; every point ≤ 1.1·T: "
              f"{check['inside']}; every compared point within 0.02 EM of its fixed run: {check['within']} "
              f"(at most 0.02 below it: {check['no_worse']})"]
    if auto_run is not None:
        front = auto_run["frontier"]
        held = [p for p in front if p.get("held")]
        lines += ["", "auto (floor = base EM − 0.02):", "",
                  "| stage | T | val EM | mean tokens | held |", "|---|---|---|---|---|"]
        lines += [f"| {p['stage']} | {p['target']:.1f} | {p['em']:.3f} | {p['mean_tokens']:.1f} | {p['held']} |"
                  for p in front]
        shipped = auto_run["selected_step"]
        lines += ["", f"- shipped: the stage ending at step {shipped}"
                  f" (the last that held: {held[-1]['step'] if held else None}); final val EM "
                  f"{auto_run['final']['em']:.3f} at {auto_run['final']['mean_tokens']:.1f} tokens"]
    return "\n".join(lines) + "\n"


def base_curves(config: str | None, seed: int) -> dict | None:
    """The seed's reliability curves if `launch/reliability.py` has measured them (compare.py does so for
    every seed of a contest); None for tasks without answer modes or when not measured yet."""
    from train.reliability import default_path

    path = default_path(config, seed) if config else None
    report = json.loads(path.read_text()) if path and path.exists() else None
    return report if report and report.get("curves") else None


def seed_runs(args: argparse.Namespace, seed: int, extra: list[str]) -> dict[str, dict]:
    """One seed's scheduled run, its fixed-budget runs (and the auto run if asked), trained or read from the cache."""
    stages = len(args.schedule.split(","))
    jobs = {"scheduled": scheduled_args(args.schedule, args.stage_steps, stages, seed, args.config) + extra}
    for r in [float(x) for x in args.compare.split(",") if x.strip()]:  # --compare "": the schedule alone
        jobs[f"fixed {r}"] = common_args(args.fixed_steps, seed, r, args.config) + extra
    if args.auto:
        steps = args.stage_steps.split(",")
        auto_steps = f"{steps[0]},{steps[-1]}"  # the first stage's steps, then the last number for every later one
        jobs["auto"] = scheduled_args("auto", auto_steps, 6, seed, args.config) + extra
    with ThreadPoolExecutor(args.workers) as pool:
        futures = {name: pool.submit(cached_run, name.replace(" ", "_"), job) for name, job in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="recipe (default: the embedded arith recipe)")
    parser.add_argument("--schedule", default="0.6,0.45,0.4,0.35")
    parser.add_argument("--stage_steps", default="60,40,40,40", help="steps per stage (one number, or one per stage)")
    parser.add_argument("--fixed_steps", type=int, default=120)
    parser.add_argument("--compare", default="0.6,0.45,0.35", help="stage ratios that get a fixed-budget run")
    parser.add_argument("--auto", action="store_true", help="also run budget_schedule auto (6 stages at most)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", help="comma-separated seeds (e.g. 0,1,2): the comparison per seed and a summary")
    parser.add_argument("--ab_split", choices=["val", "test"], help="also a paired bootstrap of each compared stage "
                        "checkpoint against its fixed run on this split")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch threads per run (default: cores ÷ workers)")
    parser.add_argument("--out", help="output folder (default: runs/bench_schedule/<recipe>)")
    parser.add_argument("--method", help="a launch/compare.py method whose settings every run adds (e.g. "
                        "terse_monotone; default: the recipe's own, the global budget)")
    args = parser.parse_args(argv)

    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    extra = ["--torch_threads", str(threads)]
    if args.method:
        from launch.compare import METHODS, PLACEHOLDER

        if args.method not in METHODS:
            parser.error(f"--method {args.method!r} is not a compare.py method; one of {', '.join(METHODS)}")
        if any(PLACEHOLDER.search(a) or a == "--budget_schedule" for a in METHODS[args.method][1]):
            parser.error(f"--method {args.method!r} sets its own target or schedule; this bench sets both")
        extra += METHODS[args.method][1]  # after the shared settings, as compare.py adds it: the same cached runs
    try:
        seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers like 0,1,2, got {args.seeds!r}")
    recipe = Path(args.config).stem if args.config else "arith"
    name = recipe + (f"-{args.method}" if args.method else "")
    out = Path(args.out) if args.out else REPO / "runs" / "bench_schedule" / name
    walks, texts, saved = {}, [], {}
    for seed in seeds:
        runs = seed_runs(args, seed, extra)
        fixed = {stage_key(name.split()[1]): run for name, run in runs.items() if name.startswith("fixed")}
        points = runs["scheduled"]["frontier"]
        walks[seed] = {"points": points, "fixed": fixed}
        ab = None if not args.ab_split else {
            stage_key(p["ratio"]): paired_ab(fixed[stage_key(p["ratio"])]["dir"], f"{runs['scheduled']['dir']}/{p['checkpoint']}",
                                            args.ab_split, out / "ab" / f"{args.ab_split}-s{seed}-{p['ratio']}-"
                                            f"{Path(runs['scheduled']['dir']).name}.json")
            for p in points if stage_key(p["ratio"]) in fixed}
        texts.append((f"## seed {seed}\n\n" if len(seeds) > 1 else "")
                     + table(runs["scheduled"], fixed, runs.get("auto"), ab, base_curves(args.config, seed)))
        saved[str(seed)] = {name: {k: run[k] for k in ("dir", "base", "final", "steps")} | {"frontier": run.get("frontier")}
                            for name, run in runs.items()}
    if len(seeds) > 1:
        texts.append(f"## {len(seeds)} seeds\n\n" + seeds_summary(walks))
    text = "\n".join(texts)
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(text)
    (out / "results.json").write_text(json.dumps(saved, indent=1))  # seed → run name → figures
    return 0


if __name__ == "__main__":
    sys.exit(main())
