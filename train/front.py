"""The whole accuracy–length front of one budget-conditioned adapter, without retraining:
`python -m train.evaluate RUN --front`.

One sweep: the adapter answers every val prompt at every budget of its grid (greedy). From that sweep alone:
- per budget, stated to every prompt: EM, mean tokens, adherence (the share within the budget);
- served through the run's allocator at T = 0.3 … 0.7 × the base model's tokens: each prompt's budget is the
  allocator's choice, its answer the sweep's answer at that budget. Greedy decoding makes this exactly what
  serving would return (the answer depends only on the prompt and its stated budget), so five targets cost no
  more generation than one;
- beside each T, the best single budget for all prompts whose mean tokens stay within T (the uniform
  reference) and the untrained model.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

RATIOS = (0.3, 0.4, 0.5, 0.6, 0.7)


def _f1(records: list[dict]) -> dict:
    """{"f1": mean} where every record carries the reply's F1 (text answers), else {}."""
    return {"f1": statistics.fmean(r["f1"] for r in records)} if records and all("f1" in r for r in records) else {}


def per_budget(records: list[dict]) -> dict:
    """{budget: {em, mean_tokens, adherence, n}} from sweep records {budget, correct, tokens}."""
    out = {}
    for b in sorted({r["budget"] for r in records}):
        at = [r for r in records if r["budget"] == b]
        out[b] = {"em": statistics.fmean(float(r["correct"]) for r in at),
                  "mean_tokens": statistics.fmean(r["tokens"] for r in at),
                  "adherence": statistics.fmean(r["tokens"] <= b for r in at), "n": len(at), **_f1(at)}
    return out


def best_uniform(table: dict, target: float) -> dict | None:
    """The single budget for all prompts with the highest EM whose mean tokens are within `target` (ties: fewer
    tokens); None when even the smallest budget spends more."""
    within = [(b, f) for b, f in table.items() if f["mean_tokens"] <= target]
    if not within:
        return None
    b, f = max(within, key=lambda item: (item[1]["em"], -item[1]["mean_tokens"]))
    return {"budget": b, **f}


def served_choices(records: list[dict], rows: list[dict], allocator, target: float) -> tuple[list[dict], float]:
    """The sweep's record for each row at the budget the allocator gives it at `target` (the rows are one batch
    known in advance: `Allocator.for_batch`), and the plan's μ."""
    key = lambda prompt: json.dumps(prompt, sort_keys=True)  # noqa: E731
    answer = {(key(r["prompt"]), r["budget"]): r for r in records}
    allocator.set_target(target)
    allocator = allocator.for_batch([row["prompt"] for row in rows], rows)
    chosen = []
    for row in rows:
        budget = allocator.decide(row["prompt"], row)["budget"]
        if (key(row["prompt"]), budget) not in answer:
            raise ValueError(f"the sweep has no answer at budget {budget}: sweep the allocator's grid {allocator.grid}")
        chosen.append(answer[(key(row["prompt"]), budget)])
    return chosen, allocator.mu


def served_from_sweep(records: list[dict], rows: list[dict], allocator, target: float) -> dict:
    """EM, mean tokens and adherence with the allocator choosing each row's budget at `target`, every answer
    read from the sweep (exactly what greedy serving returns; see the module docstring)."""
    chosen, mu = served_choices(records, rows, allocator, target)
    return {"target": target, "em": statistics.fmean(float(r["correct"]) for r in chosen),
            "mean_tokens": statistics.fmean(r["tokens"] for r in chosen),
            "adherence": statistics.fmean(r["tokens"] <= r["budget"] for r in chosen),
            "mean_budget": statistics.fmean(r["budget"] for r in chosen), "mu": mu, **_f1(chosen)}


def front(records: list[dict], rows: list[dict], allocator, base: dict, ratios=RATIOS) -> dict:
    """The front's table (see the module docstring): {per_budget, served: [...], base}."""
    table = per_budget(records)
    served = []
    for ratio in ratios:
        target = ratio * base["mean_tokens"]
        entry = {"ratio": ratio, **served_from_sweep(records, rows, allocator, target),
                 "uniform": best_uniform(table, target)}
        served.append(entry)
    return {"per_budget": {str(b): f for b, f in table.items()}, "served": served,
            "base": {"em": base["em"], "mean_tokens": base["mean_tokens"]}}


def print_front(report: dict) -> None:
    print("\n| budget stated to every prompt | EM | mean tokens | adherence |\n|---|---|---|---|")
    for b, f in report["per_budget"].items():
        print(f"| {b} | {f['em']:.3f} | {f['mean_tokens']:.1f} | {f['adherence']:.3f} |")
    base = report["base"]
    print(f"\nuntrained model: EM {base['em']:.3f} at {base['mean_tokens']:.1f} tokens")
    print("\n| T | served EM | mean tokens | adherence | best single budget within T | its EM | its tokens |")
    print("|---|---|---|---|---|---|---|")
    for s in report["served"]:
        u = s["uniform"]
        uniform = f"{u['budget']} | {u['em']:.3f} | {u['mean_tokens']:.1f}" if u else "none fits | — | —"
        print(f"| {s['ratio']:.1f} × base = {s['target']:.1f} | {s['em']:.3f} | {s['mean_tokens']:.1f} | "
              f"{s['adherence']:.3f} | {uniform} |")


def plot_front(report: dict, path) -> None:
    """EM against mean tokens: every single budget, the allocator at each T, the untrained model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    budgets = report["per_budget"]
    ax.plot([f["mean_tokens"] for f in budgets.values()], [f["em"] for f in budgets.values()], "o--", color="grey",
            label="one budget for every prompt")
    for b, f in budgets.items():
        ax.annotate(b, (f["mean_tokens"], f["em"]), textcoords="offset points", xytext=(3, -10), fontsize=7)
    served = report["served"]
    ax.plot([s["mean_tokens"] for s in served], [s["em"] for s in served], "s-", color="C0",
            label="allocator at T = 0.3 … 0.7 × base")
    ax.plot([report["base"]["mean_tokens"]], [report["base"]["em"]], "k*", markersize=10, label="untrained")
    ax.set_xlabel("mean completion tokens")
    ax.set_ylabel("EM")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_front(loaded, rows: list[dict], max_new: int, out_png) -> dict:
    """The sweep (`budget_records`), the table and the plot for one run's adapter (its allocator.json beside it);
    `loaded`: the model, tokenizer, adapter folder and summary (`train.evaluate.LoadedModel`)."""
    from train.allocator import Allocator
    from train.budget_statement import BudgetStatement
    from train.served_eval import budget_records

    allocator = Allocator.load(loaded.adapter)
    statement = BudgetStatement(allocator.tag, allocator.tag_unit)
    records = budget_records(loaded.model, loaded.tokenizer, rows, allocator.grid, statement.state, max_new)
    report = front(records, rows, allocator, loaded.summary["base"])
    sweep = Path(out_png).with_name(Path(out_png).stem + "_sweep.jsonl")  # served figures at any T, no generation
    sweep.write_text("".join(json.dumps(r) + "\n" for r in records))
    report["sweep"] = str(sweep)
    print_front(report)
    plot_front(report, out_png)
    print(f"\nwrote {out_png}")
    return report
