"""Does choosing the allocator's regularisation by cross-validation change the fit, or the served val EM?

    python -m launch.research.bench_allocator_cv --seeds 0,1,2          # the runs of launch/conditioned.py

For each seed's budget-conditioned run (runs/conditioned/s<seed>, trained by `python launch/conditioned.py`):
its recorded calibration answers (`allocator_records.json`, train prompts only) are cross-validated over the
fit's shrinkage and number of prompt groups (`train.allocator_fit.cross_validate`, 5 folds, Brier score on
held-out prompts); the allocator is fitted with the defaults (prior 2.0, 12 groups) and with the chosen
pair, and when they differ, val is served through both at each T with the same policy. Printed: the
chosen pair, the held-out Brier scores, and val EM / tokens of both fits side by side.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from train.allocator import Allocator
from train.allocator_fit import cross_validate

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default=str(REPO / "runs" / "conditioned"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--ratios", default="0.3,0.4")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train import tasks
    from train.served_eval import evaluate_allocated

    torch.set_num_threads(args.threads)
    task = tasks.get("chain_budget")
    rows_out = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        out = Path(args.runs) / f"s{seed}"
        summary = json.loads((out / "summary.json").read_text())
        records = json.loads((out / "allocator_records.json").read_text())
        grid = Allocator.load(out / "adapter").grid
        chosen = cross_validate([dict(r) for r in records], grid, args.folds, seed)
        default_key = "2,12"
        chosen_key = f"{chosen['prior_strength']:g},{chosen['max_groups']}"
        print(f"seed {seed}: CV picks prior {chosen['prior_strength']:g}, {chosen['max_groups']} groups "
              f"(Brier {chosen['scores'][chosen_key]:.4f}; the defaults 2, 12: {chosen['scores'][default_key]:.4f})")
        fits = {"default": Allocator.fit([dict(r) for r in records], grid, 1.0, **task.budget_tag())}
        cv = Allocator.fit([dict(r) for r in records], grid, 1.0, prior_strength=chosen["prior_strength"],
                           max_groups=chosen["max_groups"], **task.budget_tag())
        if (cv.edges, cv.em) != (fits["default"].edges, fits["default"].em):  # e.g. 8 groups = 12 on 6 lengths
            fits["cv"] = cv
        policy = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(summary["base_model"]), out / "adapter")
        policy.eval()
        tokenizer = AutoTokenizer.from_pretrained(out / "adapter")
        val_rows = task.load(seed)[1]
        for ratio in [float(r) for r in args.ratios.split(",")]:
            target = ratio * summary["base"]["mean_tokens"]
            row = {"seed": seed, "ratio": ratio, "target": target, "chosen": chosen_key}
            for name, allocator in fits.items():
                allocator.set_target(target)
                served = evaluate_allocated(policy, tokenizer, val_rows, allocator, summary["max_completion_length"])
                row[name] = {"em": served["em"], "mean_tokens": served["mean_tokens"], "predicted": allocator.predicted()}
            rows_out.append(row)
            print("  T = %.2f × base: default EM %.3f (%.1f tokens)" % (ratio, row["default"]["em"], row["default"]["mean_tokens"])
                  + (", CV EM %.3f (%.1f tokens)" % (row["cv"]["em"], row["cv"]["mean_tokens"]) if "cv" in row else ", CV: the same fit"))
    (Path(args.runs) / "allocator_cv.json").write_text(json.dumps(rows_out, indent=1))


if __name__ == "__main__":
    main()
