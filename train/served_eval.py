"""Evaluation through a budget allocator: each prompt's budget chosen by the allocator (train/allocator.py) and
stated as the adapter learned to read it, and the sweep of every prompt at every budget of a grid."""

from __future__ import annotations

import statistics

from train.generation import answer_f1, generate, is_right, summarise, text_figures

STREAM_CHUNK = 10  # requests served between two `observe` rounds when a caller streams (`--stream`)


def evaluate_allocated(model, tokenizer, rows: list[dict], allocator, max_new_tokens: int,
                       stream_chunk: int = 0) -> dict:
    """EM and tokens as served through a budget `allocator` (train/allocator.py): each prompt gets its
    budget stated, greedy answers. Beside `evaluate`'s figures: adherence (share of answers within their
    budget), EM and count per budget, the mean predicted confidence. `stream_chunk` > 0: rows arrive in the
    given order, that many at a time, and every answer is `observe`d before the next chunk is allocated — the
    allocator's online control at work (per-window figures under `windows`). Otherwise the rows are one batch
    known in advance, served by a copy of the allocator solved for their own mix (`Allocator.for_batch`); its μ and
    predicted figures are returned under `plan`."""
    stream = stream_chunk > 0
    if not stream:
        allocator = allocator.for_batch([r["prompt"] for r in rows], rows)
    budgets, confidence, texts, lengths, truncated, correct = [], [], [], [], [], []
    step = stream_chunk if stream else len(rows)
    for start in range(0, len(rows), max(1, step)):
        part = rows[start:start + step]
        decisions = [allocator.decide(r["prompt"], r) for r in part]
        prompts = [allocator.prompt_with_budget(r["prompt"], d["budget"]) for r, d in zip(part, decisions)]
        out = generate(model, tokenizer, prompts, max_new_tokens, desc="served eval")
        right = [float(is_right(text, r)) for r, text in zip(part, out[0], strict=True)]
        if stream:
            for r, n, c in zip(part, out[1], right, strict=True):
                allocator.observe(n, c, prompt=r["prompt"], row=r)
        budgets += [d["budget"] for d in decisions]
        confidence += [d["confidence"] for d in decisions]
        texts += out[0]
        lengths += out[1]
        truncated += out[2]
        correct += right
    result = summarise(rows, correct, lengths, truncated)
    result.update(text_figures(texts, rows))
    result["adherence"] = statistics.fmean(n <= b for n, b in zip(lengths, budgets, strict=True))
    result["mean_budget"] = statistics.fmean(budgets)
    result["mean_confidence"] = statistics.fmean(confidence)
    by_budget: dict = {}
    for b, c in zip(budgets, correct, strict=True):
        by_budget.setdefault(b, []).append(c)
    result["by_budget"] = {str(b): {"n": len(v), "em": statistics.fmean(v)} for b, v in sorted(by_budget.items())}
    if all("difficulty" in r for r in rows):
        result["by_difficulty"] = {}
        for d in sorted({r["difficulty"] for r in rows}):
            at = [i for i, r in enumerate(rows) if r["difficulty"] == d]
            result["by_difficulty"][str(d)] = {
                "n": len(at), "em": statistics.fmean(correct[i] for i in at),
                "mean_tokens": statistics.fmean(lengths[i] for i in at),
                "mean_budget": statistics.fmean(budgets[i] for i in at)}
    if stream:
        w = allocator.online.window
        result["windows"] = [{"start": i, "mean_tokens": statistics.fmean(lengths[i:i + w]),
                              "em": statistics.fmean(correct[i:i + w])} for i in range(0, max(1, len(rows) - w + 1))]
    result["plan"] = allocator.predicted()
    result["completions"] = texts
    result["per_example"] = {"correct": correct, "tokens": lengths, "budget": budgets, "confidence": confidence}
    return result


def budget_records(model, tokenizer, rows: list[dict], grid: list[int], tag_prompt, max_new_tokens: int) -> list[dict]:
    """The policy's greedy answer to every row at every budget of `grid`: {prompt, budget, correct, tokens}.
    `tag_prompt(prompt, budget)` states the budget as the policy learned it."""
    records = []
    for b in grid:
        texts, lengths, _ = generate(model, tokenizer, [tag_prompt(r["prompt"], b) for r in rows], max_new_tokens,
                                     desc=f"budget sweep b={b}")
        for row, text, n in zip(rows, texts, lengths, strict=True):
            record = {"prompt": row["prompt"], "budget": b, "tokens": n, "difficulty": row.get("difficulty"),
                      "correct": is_right(text, row)}
            f1 = answer_f1(text, row)
            if f1 is not None:
                record["f1"] = f1
            records.append(record)
    return records
