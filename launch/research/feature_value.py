"""What the allocator's chosen feature buys over prompt length, in served EM, without generating again.

    python -m launch.research.feature_value RUNDIR [--ratios 0.3,0.4,0.5] [--column COL] [--out F.json]

RUNDIR is a finished `--budget_conditioned true` run whose front was swept (`python -m train.evaluate RUNDIR
--front --out RUNDIR/front_val.json`, which keeps `front_val_sweep.jsonl`: every val answer at every grid budget).
For each feature family (length, text, and column when `--column` names one) an allocator is fitted on the run's
calibration records (`allocator_records.json`) with the shrinkage and number of groups cross-validation chose for
that family, then serves val from the sweep at each T = ratio × base tokens. Each family's per-prompt
correctness and tokens are compared with length's by a paired bootstrap (train/ab_test.py): B − A, B the family.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def family_allocators(records: list[dict], reference, column: str | None, folds: int = 5) -> tuple[dict, dict]:
    """{family: Allocator} fitted like the run fits its own (tag, unit and grid of `reference`), and the CV report."""
    from train.allocator import Allocator
    from train.allocator_fit import cross_validate_features
    from train.allocator_features import fit_feature

    families = ("length", "text") + (("column",) if column else ())
    cv = cross_validate_features([dict(r) for r in records], reference.grid, families, column, folds)
    out = {}
    for kind, scores in cv["families"].items():
        if "brier" not in scores:
            continue
        feature = fit_feature(kind, [dict(r) for r in records], reference.grid, column)
        out[kind] = Allocator.fit([dict(r) for r in records], reference.grid, reference.target, feature_of=feature,
                                  max_groups=scores["max_groups"], prior_strength=scores["prior_strength"],
                                  tag=reference.tag, tag_unit=reference.tag_unit)
    return out, cv


def main(argv=None) -> int:
    from train.ab_test import paired_bootstrap
    from train.allocator import Allocator
    from train.front import served_choices

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run")
    parser.add_argument("--ratios", default="0.3,0.4,0.5")
    parser.add_argument("--column", default=None, help="a data column the rows carry (the column feature)")
    parser.add_argument("--sweep", default=None, help="default: RUN/front_val_sweep.jsonl")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    run = Path(args.run).expanduser()
    summary = json.loads((run / "summary.json").read_text())
    records = json.loads((run / "allocator_records.json").read_text())
    sweep_file = Path(args.sweep) if args.sweep else run / "front_val_sweep.jsonl"
    if not sweep_file.exists():
        raise SystemExit(f"{sweep_file}: no sweep; run `python -m train.evaluate {run} --front --out {run}/front_val.json`")
    sweep = [json.loads(line) for line in sweep_file.read_text().splitlines()]
    prompts = list({json.dumps(r["prompt"], sort_keys=True): r["prompt"] for r in sweep}.values())
    rows = [{"prompt": p} for p in prompts]
    allocators, cv = family_allocators(records, Allocator.load(run / "adapter"), args.column)
    report = {"run": str(run), "cv": cv, "by_ratio": {}}
    for ratio in [float(x) for x in args.ratios.split(",")]:
        target = ratio * summary["base"]["mean_tokens"]
        served = {k: served_choices(sweep, rows, a, target)[0] for k, a in allocators.items()}
        length = served["length"]
        entry = {}
        for kind, chosen in served.items():
            entry[kind] = {"em": sum(float(r["correct"]) for r in chosen) / len(chosen),
                           "mean_tokens": sum(r["tokens"] for r in chosen) / len(chosen)}
            if kind != "length":
                entry[kind]["vs_length"] = paired_bootstrap(
                    [float(r["correct"]) for r in length], [float(r["correct"]) for r in chosen],
                    [r["tokens"] for r in length], [r["tokens"] for r in chosen])
        report["by_ratio"][f"{ratio:g}"] = {"T": target, **entry}
        line = ", ".join(f"{k} {v['em']:.3f} at {v['mean_tokens']:.1f}" + (
            f" (EM − length {v['vs_length']['em_diff']:+.3f} [{v['vs_length']['em_ci'][0]:+.3f}, "
            f"{v['vs_length']['em_ci'][1]:+.3f}])" if "vs_length" in v else "") for k, v in entry.items())
        print(f"T = {ratio:g} × base = {target:.1f}: {line}")
    for kind, scores in cv["families"].items():
        print(f"{kind}: " + (f"Brier {scores['brier']:.4f}, AUC {scores['auc']:.3f}" if "brier" in scores
                             else scores["skipped"]))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
