"""The figures of "One adapter for any budget" through the general path, gathered into one JSON the docs' tables
are made from (docs/results/conditioned_general.json).

    python -m train.evaluate RUNDIR --front --out RUNDIR/front_val.json          # once per run (a greedy sweep)
    python -m launch.research.conditioned_general_report \\
        --run chain_easy:dual:0=RUNDIR --run chain_easy:fixed:0=RUNDIR ... --out docs/results/conditioned_general.json

Per data set, price (dual-held or fixed) and seed: the run's served figures at its own T (summary.json: EM, mean
tokens, adherence, the allocator's feature and its cross-validated Brier / AUC per family, the warm start's
adherence before RL), and from the front: EM, tokens and adherence served at T = 0.3 … 0.7 × base beside the best
single budget within each T.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def one_run(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    final, cond = summary["final"], summary.get("conditioning") or {}
    entry = {
        "run": str(run_dir), "T": final["allocator"]["target"], "base": summary["base"],
        "served": {k: final[k] for k in ("em", "mean_tokens", "adherence")},
        "within_1_05_T": final["mean_tokens"] <= 1.05 * final["allocator"]["target"],
        "allocator_feature": final["allocator"].get("feature"), "feature_cv": final["allocator"].get("features"),
        "untagged": {k: final["untagged"][k] for k in ("em", "mean_tokens")} if "untagged" in final else None,
        "warm_start_before_rl": cond.get("before_rl"), "overshoot_price": cond.get("overshoot_price"),
        "lambda_final": summary.get("lambda"),
    }
    value_file = run_dir / "feature_value.json"  # launch/research/feature_value.py: each family served from the sweep
    if value_file.exists():
        entry["feature_value"] = json.loads(value_file.read_text())["by_ratio"]
    front_file = run_dir / "front_val.json"
    if front_file.exists():
        models = json.loads(front_file.read_text())["models"]
        front = next(iter(models.values()))["front"]
        entry["front"] = [{"ratio": s["ratio"], "T": s["target"], "em": s["em"], "mean_tokens": s["mean_tokens"],
                           "adherence": s["adherence"], "uniform": s["uniform"]} for s in front["served"]]
        entry["per_budget"] = front["per_budget"]
        # The run's own T read from its front (the allocator solved for val's mix, `Allocator.for_batch`): runs
        # trained before that fix served val for the calibration mix; their end-of-run figure is kept beside it.
        own = min(front["served"], key=lambda s: abs(s["target"] - entry["T"]))
        if abs(own["target"] - entry["T"]) < 1e-6 * max(1.0, entry["T"]):
            entry["served_at_run_end"] = entry["served"]
            entry["served"] = {k: own[k] for k in ("em", "mean_tokens", "adherence")}
            entry["within_1_05_T"] = own["mean_tokens"] <= 1.05 * entry["T"]
    return entry


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, help="DATASET:PRICE:SEED=RUNDIR")
    parser.add_argument("--out", required=True)
    parser.add_argument("--markdown", action="store_true", help="also print the docs' tables")
    parser.add_argument("--references", action="append", help="DATASET=docs/results/<contest>.json: the EM-only, "
                        "global-budget and untrained figures on the same data, put beside the conditioned runs")
    args = parser.parse_args(argv)
    report: dict = {}
    for spec in args.run:
        key, run_dir = spec.split("=", 1)
        dataset, price, seed = key.split(":")
        report.setdefault(dataset, {}).setdefault(price, {})[seed] = one_run(Path(run_dir).expanduser())
    for dataset, prices in report.items():
        for price, seeds in prices.items():
            runs = list(seeds.values())
            em = [r["served"]["em"] for r in runs]
            seeds["mean"] = {"em": statistics.fmean(em), "em_min": min(em), "em_max": max(em),
                             "mean_tokens": statistics.fmean(r["served"]["mean_tokens"] for r in runs),
                             "adherence": statistics.fmean(r["served"]["adherence"] for r in runs),
                             "all_within_1_05_T": all(r["within_1_05_T"] for r in runs), "seeds": len(runs)}
            print(f"{dataset} {price}: served EM {seeds['mean']['em']:.3f} ({' / '.join(f'{x:.3f}' for x in em)}), "
                  f"{seeds['mean']['mean_tokens']:.1f} tokens, adherence {seeds['mean']['adherence']:.3f}, "
                  f"all within 1.05·T: {seeds['mean']['all_within_1_05_T']}")
    for spec in args.references or []:  # DATASET=results JSON of the real-model contest (the same data and check)
        dataset, path = spec.split("=", 1)
        contest = json.loads(Path(path).read_text())
        refs = {"untrained": {k: contest["base"]["val"][k] for k in ("em", "mean_tokens", "f1")}}
        for method, entry in contest["methods"].items():
            val = entry["val"]
            refs[method] = {"em": val["em"]["mean"], "em_min": val["em"]["min"], "em_max": val["em"]["max"],
                            "mean_tokens": val["mean_tokens"]["mean"], "f1": val["f1"]["mean"], "seeds": val["em"]["n"],
                            "T": contest.get("target_tokens")}
        report.setdefault(dataset, {})["references"] = refs
    Path(args.out).write_text(json.dumps(report, indent=1))
    if args.markdown:
        print(markdown(report))
    return 0


def _value(entry: dict) -> str:
    """The text feature's served EM minus length's at the run's own T, with its paired-bootstrap interval."""
    value = entry.get("feature_value") or {}
    at = min(value.values(), key=lambda v: abs(v["T"] - entry["T"]), default=None)
    if not at or "vs_length" not in at.get("text", {}):
        return "–"
    b = at["text"]["vs_length"]
    return f"{b['em_diff']:+.3f} [{b['em_ci'][0]:+.3f}, {b['em_ci'][1]:+.3f}]"


def _cv(entry: dict) -> str:
    cv = (entry.get("feature_cv") or {}).get("families", {})
    parts = [f"{k} {v['brier']:.3f} / {v['auc']:.3f}" for k, v in cv.items() if "brier" in v and v.get("auc") is not None]
    return f"{entry.get('allocator_feature')} ({'; '.join(parts)})" if parts else str(entry.get("allocator_feature"))


def markdown(report: dict) -> str:
    """The docs' tables from the report: per data set and price, a row per seed and the mean; then the front
    (mean over seeds) beside the best single budget within each T."""
    out = []
    for dataset, prices in report.items():
        for price, seeds in prices.items():
            if price == "references":
                out += [f"\n**{dataset}, references (same data and check)**\n", "| method | val EM | mean tokens | F1 |",
                        "|---|---|---|---|"] + [f"| {m} | {r['em']:.3f} | {r['mean_tokens']:.1f} | {r['f1']:.3f} |"
                                                for m, r in seeds.items()]
                continue
            out += [f"\n**{dataset}, {price}**\n", "| seed | served EM (tokens) at T | adherence | λ at the end | "
                    "feature (held-out Brier / AUC) | text − length feature, served EM at T (paired) |",
                    "|---|---|---|---|---|---|"]
            runs = {k: v for k, v in seeds.items() if k != "mean"}
            for seed, r in runs.items():
                ok = "✓" if r["within_1_05_T"] else f"✗ {r['served']['mean_tokens'] / r['T']:.2f}·T"
                lam = (f"{r['overshoot_price']:g} (fixed)" if r.get("overshoot_price") is not None else
                       f"{r['lambda_final']:.2f}" if r.get("lambda_final") is not None else "–")
                out.append(f"| {seed} | {r['served']['em']:.3f} ({r['served']['mean_tokens']:.1f} {ok}; T {r['T']:.1f}) | "
                           f"{r['served']['adherence']:.3f} | {lam} | {_cv(r)} | {_value(r)} |")
            m = seeds["mean"]
            out.append(f"| mean | **{m['em']:.3f}** ({m['em_min']:.3f}–{m['em_max']:.3f}; {m['mean_tokens']:.1f}) | "
                       f"{m['adherence']:.3f} | | all within 1.05·T: {m['all_within_1_05_T']} | |")
            fronts = [r["front"] for r in runs.values() if "front" in r]
            if fronts:
                out += ["", "| T | served EM (tokens), mean over seeds | best single budget within T: EM (tokens) |",
                        "|---|---|---|"]
                for i, first in enumerate(fronts[0]):
                    at = [f[i] for f in fronts]
                    uni = [a["uniform"] for a in at if a["uniform"]]
                    u = (f"{statistics.fmean(x['em'] for x in uni):.3f} ({statistics.fmean(x['mean_tokens'] for x in uni):.1f})"
                         if len(uni) == len(at) else "none fits")
                    out.append(f"| {first['ratio']:.1f} × base | {statistics.fmean(a['em'] for a in at):.3f} "
                               f"({statistics.fmean(a['mean_tokens'] for a in at):.1f}) | {u} |")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
