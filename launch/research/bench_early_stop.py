"""Early stopping replayed on finished runs: fixed patience, adaptive patience, and no early stopping.

    python -m launch.research.bench_early_stop runs/i39/easy-single-s{0,1,2} --patience 2,3

Why a replay is exact: a seeded run is deterministic, so a run stopped at step k is the same as the full
run's first k steps, and what it ships is the selection rule applied to the evaluations up to k (the
trainer's final evaluation at the stop step repeats the periodic one on the same weights). So one run with
frequent evaluations (`--eval_every 20 --max_steps 160`, no early stopping) gives every rule's outcome.

Per run and rule: the stop step, the shipped checkpoint's val EM and tokens; then per rule over the runs:
steps saved against no early stopping (mean, range) and EM lost (shipped EM without early stopping minus
with it), and how many runs still ship within 1.05·T.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from train.selection import SelectionRule, select, settled, settled_adaptive


def replay(records: list[dict], rule: SelectionRule, stop) -> dict:
    """The outcome of a stopping rule `stop(records_so_far) -> bool` on one run's evaluations."""
    for k in range(1, len(records) + 1):
        if stop(records[:k]):
            break
    seen = records[:k]
    shipped = select(seen, rule)
    return {"stop_step": seen[-1]["step"], "em": shipped["em"], "mean_tokens": shipped["mean_tokens"],
            "within": rule.feasible(shipped)}


def rules(patiences: list[int]) -> dict:
    out = {"no early stopping": lambda recs: False}
    for p in patiences:
        out[f"fixed patience {p}"] = lambda recs, p=p: settled(recs, p)
        out[f"adaptive from {p}"] = lambda recs, p=p: settled_adaptive(recs, p)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished run folders (summary.json with its evaluations)")
    parser.add_argument("--patience", default="2,3")
    parser.add_argument("--out", help="JSON file to write")
    args = parser.parse_args(argv)
    patiences = [int(p) for p in args.patience.split(",")]
    table: dict[str, list[dict]] = {name: [] for name in rules(patiences)}
    for run in args.runs:
        summary = json.loads((Path(run) / "summary.json").read_text())
        records = sorted(summary["evaluations"], key=lambda r: r["step"])
        rule = SelectionRule(summary["constraint"]["mode"], summary["constraint"]["target"])
        for name, stop in rules(patiences).items():
            table[name].append({"run": run, **replay(records, rule, stop)})
    full = {r["run"]: r for r in table["no early stopping"]}
    print("| rule | stop step per run | shipped EM per run | steps saved (mean, range) | EM lost (mean, max) | within 1.05·T |")
    print("|---|---|---|---|---|---|")
    summary_rows = {}
    for name, outcomes in table.items():
        saved = [full[o["run"]]["stop_step"] - o["stop_step"] for o in outcomes]
        lost = [full[o["run"]]["em"] - o["em"] for o in outcomes]
        summary_rows[name] = {"runs": outcomes, "steps_saved_mean": statistics.fmean(saved),
                              "em_lost_mean": statistics.fmean(lost), "em_lost_max": max(lost)}
        print(f"| {name} | {' / '.join(str(o['stop_step']) for o in outcomes)} | "
              f"{' / '.join('%.3f (%.1f)' % (o['em'], o['mean_tokens']) for o in outcomes)} | "
              f"{statistics.fmean(saved):.0f} ({min(saved)}–{max(saved)}) | {statistics.fmean(lost):+.3f} ({max(lost):+.3f}) | "
              f"{sum(o['within'] for o in outcomes)} of {len(outcomes)} |")
    if args.out:
        Path(args.out).write_text(json.dumps(summary_rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
