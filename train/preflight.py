"""The preflight: a look at the untrained model before training (EM, token percentiles, the share cut at the cap,
right and wrong examples), printed and written beside the run."""

from __future__ import annotations

import os

from rewards import answer_check
from train.generation import percentile


def preflight_report(result: dict, rows: list[dict], examples: list[dict], max_new_tokens: int, shown: int = 5) -> dict:
    """EM (F1 for `text`), token percentiles, the share cut at the cap, and `shown` right and `shown` wrong
    example rows (`preview_rows`: prompt, completion, extracted answer, gold, verdict) of one `evaluate` result."""
    lengths = sorted(result["per_example"]["tokens"])
    return {
        "n": result["n"], "answer_check": rows[0].get("answer_check", "numeric") if rows else "numeric",
        "em": result["em"], **{k: result[k] for k in ("strict_em", "f1") if k in result},
        "mean_tokens": result["mean_tokens"], "p50_tokens": percentile(lengths, 0.5),
        "p90_tokens": percentile(lengths, 0.9), "p99_tokens": percentile(lengths, 0.99),
        "max_tokens": float(lengths[-1]), "truncated": result["truncated"], "max_new_tokens": max_new_tokens,
        "correct_examples": [e for e in examples if e["verdict"]][:shown],
        "wrong_examples": [e for e in examples if not e["verdict"]][:shown],
    }


def preview_rows(result: dict, rows: list[dict]) -> list[dict]:
    """One record per row: prompt, completion, the answer the check read, gold, verdict, tokens."""
    out = []
    for row, text, ok, n in zip(rows, result["completions"], result["per_example"]["correct"],
                                result["per_example"]["tokens"], strict=True):
        prompt = row["prompt"] if isinstance(row["prompt"], str) else row["prompt"][-1]["content"]
        out.append({"prompt": prompt, "completion": text, "extracted": answer_check.extract(row.get("answer_check"), text),
                    "gold": row["answer"], "verdict": bool(ok), "tokens": n})
    return out


def write_preflight_rows(path, examples: list[dict]) -> None:
    """`preview_rows` as JSONL, written whole or not at all."""
    import json

    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for record in examples:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def print_preflight(report: dict) -> None:
    f1 = f", F1 {report['f1']:.3f}" if "f1" in report else ""
    if "strict_em" in report:
        f1 = f", strict EM {report['strict_em']:.3f}" + f1
    lines = ["", f"=== Preflight: the untrained model on {report['n']} val rows (answer_check {report['answer_check']}) ===",
             f"EM {report['em']:.3f}{f1}",
             f"tokens mean {report['mean_tokens']:.1f}, p50 {report['p50_tokens']:.0f}, p90 {report['p90_tokens']:.0f}, "
             f"p99 {report['p99_tokens']:.0f}, max {report['max_tokens']:.0f}; "
             f"{report['truncated']:.1%} cut at the cap of {report['max_new_tokens']}"]
    for title, key in (("right", "correct_examples"), ("wrong", "wrong_examples")):
        for e in report[key]:
            lines.append(f"  [{title}] prompt {_short(e['prompt'], tail=True)} | completion {_short(e['completion'])} | "
                         f"extracted {e['extracted']!r} | gold {e['gold']!r}")
    print("\n".join(lines), flush=True)


def _short(text, n: int = 70, tail: bool = False) -> str:
    """One line of at most `n` characters: the start, or with `tail` the end (where a prompt's question is)."""
    text = " ".join(str(text).split())
    if len(text) <= n:
        return repr(text)
    return repr("..." + text[3 - n:] if tail else text[: n - 3] + "...")
