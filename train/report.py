"""What was cut: a side-by-side HTML report of the base model's and the trained model's val answers.

    python -m train.report runs/benchmark                 # writes runs/benchmark/report.html
    python -m train.report runs/benchmark --out cut.html --size 100 --report_to wandb

For every val prompt: the base completion with the words the trained model dropped struck through in
red, the trained completion with the words it added in green, both token counts, the tokens saved and
whether each answer is right. Above it, per difficulty: how many tokens went and how much accuracy
moved. Click a column header to sort (by tokens saved, say). One self-contained HTML file: no server,
no network, opens in any browser. With `--report_to wandb` the rows are also logged as a W&B table.
"""

from __future__ import annotations

import argparse
import difflib
import html
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path



def word_diff(before: str, after: str) -> tuple[str, str]:
    """(before, after) as HTML, words only in `before` wrapped in <del>, words only in `after` in <ins>."""
    a, b = before.split(), after.split()
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        old, new = html.escape(" ".join(a[i1:i2])), html.escape(" ".join(b[j1:j2]))
        if op == "equal":
            left.append(old)
            right.append(new)
        else:
            if old:
                left.append(f"<del>{old}</del>")
            if new:
                right.append(f"<ins>{new}</ins>")
    return " ".join(left), " ".join(right)


def rows_for(prompts: list[dict], base: dict, trained: dict) -> list[dict]:
    """One row per prompt from two `evaluate()` results on the same rows."""
    out = []
    for i, row in enumerate(prompts):
        before, after = base["completions"][i], trained["completions"][i]
        b_tok, t_tok = base["per_example"]["tokens"][i], trained["per_example"]["tokens"][i]
        out.append({"prompt": row["prompt"], "difficulty": row.get("difficulty"), "base": before, "trained": after,
                    "base_tokens": b_tok, "trained_tokens": t_tok, "saved": b_tok - t_tok,
                    "base_correct": bool(base["per_example"]["correct"][i]),
                    "trained_correct": bool(trained["per_example"]["correct"][i])})
    return out


def per_difficulty(rows: list[dict]) -> list[dict]:
    groups = defaultdict(list)
    for r in rows:
        groups[r["difficulty"]].append(r)
    out = []
    for level, rs in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0])):
        out.append({"difficulty": level, "n": len(rs),
                    "base_tokens": statistics.fmean(r["base_tokens"] for r in rs),
                    "trained_tokens": statistics.fmean(r["trained_tokens"] for r in rs),
                    "base_em": statistics.fmean(r["base_correct"] for r in rs),
                    "trained_em": statistics.fmean(r["trained_correct"] for r in rs)})
    return out


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:13px}th{background:#f3f3f3;cursor:pointer}
del{background:#fdd;color:#900}ins{background:#dfd;color:#060;text-decoration:none}.ok{color:#060}.bad{color:#900}
td.text{font-family:monospace;max-width:32em}"""
SORT_JS = """function sortBy(t,c){const b=t.tBodies[0],r=[...b.rows],d=t.dataset.dir==c?-1:1;t.dataset.dir=d==1?c:'';
r.sort((x,y)=>{const p=x.cells[c].dataset.v??x.cells[c].innerText,q=y.cells[c].dataset.v??y.cells[c].innerText;
const m=parseFloat(p),n=parseFloat(q);return d*(isNaN(m)||isNaN(n)?p.localeCompare(q):m-n)});r.forEach(e=>b.appendChild(e))}"""


def render(rows: list[dict], title: str) -> str:
    """The whole report as one HTML document."""
    mark = lambda ok: '<span class="ok">✓</span>' if ok else '<span class="bad">✗</span>'  # noqa: E731
    summary = ["<table><tr><th>difficulty</th><th>prompts</th><th>tokens base → trained</th>"
               "<th>tokens saved</th><th>EM base → trained</th></tr>"]
    for s in per_difficulty(rows) + [{"difficulty": "all", "n": len(rows),
                                     **{k: statistics.fmean(r[k2] for r in rows) for k, k2 in (
                                         ("base_tokens", "base_tokens"), ("trained_tokens", "trained_tokens"),
                                         ("base_em", "base_correct"), ("trained_em", "trained_correct"))}}]:
        summary.append(f"<tr><td>{s['difficulty']}</td><td>{s['n']}</td><td>{s['base_tokens']:.1f} → "
                       f"{s['trained_tokens']:.1f}</td><td>{s['base_tokens'] - s['trained_tokens']:+.1f}</td>"
                       f"<td>{s['base_em']:.3f} → {s['trained_em']:.3f} ({s['trained_em'] - s['base_em']:+.3f})</td></tr>")
    summary.append("</table>")
    head = ["prompt", "difficulty", "base completion (dropped words struck)", "trained completion (added words)",
            "base tokens", "trained tokens", "tokens saved", "base right", "trained right"]
    body = []
    for r in sorted(rows, key=lambda r: -r["saved"]):
        before, after = word_diff(r["base"], r["trained"])
        body.append(f"<tr><td class=text>{html.escape(r['prompt'])}</td><td>{r['difficulty']}</td>"
                    f"<td class=text>{before}</td><td class=text>{after}</td><td>{r['base_tokens']}</td>"
                    f"<td>{r['trained_tokens']}</td><td>{r['saved']}</td>"
                    f"<td data-v={int(r['base_correct'])}>{mark(r['base_correct'])}</td>"
                    f"<td data-v={int(r['trained_correct'])}>{mark(r['trained_correct'])}</td></tr>")
    header = "".join(f"<th onclick=\"sortBy(document.getElementById('rows'),{i})\">{html.escape(h)}</th>"
                     for i, h in enumerate(head))
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title><style>{STYLE}</style>"
            f"<script>{SORT_JS}</script></head><body><h1>{html.escape(title)}</h1>"
            f"<h2>Per difficulty</h2>{''.join(summary)}<h2>Every prompt</h2><p>Sorted by tokens saved; click a "
            f"header to sort by it.</p><table id=rows><thead><tr>{header}</tr></thead><tbody>{''.join(body)}"
            f"</tbody></table></body></html>")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="a run directory (with summary.json and its adapter)")
    parser.add_argument("--out", help="HTML file (default: RUN_DIR/report.html)")
    parser.add_argument("--size", type=int, help="only the first N val prompts")
    parser.add_argument("--report_to", default="none", choices=["none", "wandb"])
    args = parser.parse_args(argv)
    try:
        return _report(args)
    except (ValueError, KeyError, OSError) as err:
        print(f"train.report: error: {err}", file=sys.stderr)
        return 2


def _report(args) -> int:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train import tasks
    from train.evaluate import _resolve
    from train.generation import evaluate

    run = Path(args.run_dir)
    base_path, adapter, summary = _resolve(str(run), None)
    if not summary:
        raise FileNotFoundError(f"{run}: no summary.json (not a finished Terse run)")
    rows = tasks.get(summary.get("task", "arith")).load(summary.get("seed", 0), None, summary.get("data_path"))[1]
    rows = rows[: args.size] if args.size else rows
    max_new = summary.get("max_completion_length") or 128
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    model = AutoModelForCausalLM.from_pretrained(base_path)
    base = evaluate(model, tokenizer, rows, max_new, desc="base")
    trained = evaluate(PeftModel.from_pretrained(model, adapter), tokenizer, rows, max_new, desc="trained")
    table = rows_for(rows, base, trained)
    out = Path(args.out) if args.out else run / "report.html"
    out.write_text(render(table, f"What was cut: {run.name} ({summary.get('task', 'arith')}, val)"))
    print(f"wrote {out}: tokens {base['mean_tokens']:.1f} -> {trained['mean_tokens']:.1f}, "
          f"EM {base['em']:.3f} -> {trained['em']:.3f}")
    if args.report_to == "wandb":
        _log_table(table, run)
    return 0


def _log_table(table: list[dict], run: Path) -> None:
    from train.tracking import configure_wandb

    configure_wandb(["wandb"], str(run))
    import wandb

    logged = wandb.init(project="terse", job_type="report", name=f"report-{run.name}")
    columns = list(table[0])
    logged.log({"what_was_cut": wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in table])})
    logged.finish()
    print(json.dumps({"wandb": "logged table what_was_cut"}))


if __name__ == "__main__":
    raise SystemExit(main())
