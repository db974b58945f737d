"""Generation and its metrics: completions, exact match and completion tokens on rows, overall and per difficulty.

Tokens are counted the way the trainer counts them (generated ids up to and including end-of-sequence),
so the budget the controller holds during training and the figure reported here are the same quantity.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, replace

import torch
from tqdm.auto import tqdm

from rewards import answer_check
from rewards.exact_match import extract_answer, normalize_number


def completion_ids(ids: list[int], eos_token_id: int | None, pad_token_id: int | None) -> tuple[list[int], bool]:
    """A generated row's completion as it is counted everywhere (the trainer's count, the budget's unit): the ids
    up to and including the first end-of-sequence, or, cut at the cap, every id but the padding; and whether it
    was cut. One owner: evaluation, the OpenAI-compatible server and the research scripts count alike.

    >>> completion_ids([5, 6, 2, 0, 0], eos_token_id=2, pad_token_id=0)
    ([5, 6, 2], False)
    >>> completion_ids([5, 6, 7], eos_token_id=2, pad_token_id=0)
    ([5, 6, 7], True)
    """
    if eos_token_id is not None and eos_token_id in ids:
        return ids[: ids.index(eos_token_id) + 1], False
    return [i for i in ids if i != pad_token_id], True


@dataclass(frozen=True)
class Decoding:
    """How completions are drawn, each at most `max_new_tokens`: greedy (the default), beam search (`num_beams` >
    1), sampled at `temperature` from `seed`, or — `evaluate` only — a majority vote over `samples` draws.

    >>> Decoding.of(64) == Decoding(64)
    True
    >>> Decoding(64, temperature=0.7, seed=3).sampling()
    {'do_sample': True, 'temperature': 0.7, 'top_k': 0}
    """

    max_new_tokens: int
    temperature: float | None = None
    seed: int = 0
    num_beams: int = 1
    samples: int = 1

    @classmethod
    def of(cls, decoding: Decoding | int) -> Decoding:
        """A bare number is greedy decoding with that cap (what most callers ask for)."""
        return decoding if isinstance(decoding, Decoding) else cls(int(decoding))

    def sampling(self) -> dict:
        """`model.generate`'s sampling arguments."""
        if self.temperature is None:
            return {"do_sample": False, "num_beams": self.num_beams}
        return {"do_sample": True, "temperature": self.temperature, "top_k": 0}


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], decoding: Decoding | int, batch_size: int = 128, desc="eval"):
    """Completions drawn by `decoding` (a number: greedy with that cap): (texts, token counts, truncated flags), in
    prompt order."""
    decoding = Decoding.of(decoding)
    was_training = model.training
    model.eval()
    tokenizer.padding_side = "left"
    texts, lengths, truncated = [], [], []
    device = next(model.parameters()).device
    if decoding.temperature is not None:
        torch.manual_seed(decoding.seed)
    if prompts and not isinstance(prompts[0], str):  # chat messages: the model's own template
        prompts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
        encode = {"add_special_tokens": False}
    else:
        encode = {}
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, leave=False):
        batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True, **encode).to(device)
        out = model.generate(
            **batch,
            max_new_tokens=decoding.max_new_tokens,
            **decoding.sampling(),
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        for ids in out[:, batch["input_ids"].shape[1] :].tolist():
            ids, cut = completion_ids(ids, tokenizer.eos_token_id, tokenizer.pad_token_id)
            truncated.append(cut)
            lengths.append(len(ids))
            texts.append(tokenizer.decode(ids, skip_special_tokens=True))
    model.train(was_training)
    return texts, lengths, truncated


def evaluate(model, tokenizer, rows: list[dict], decoding: Decoding | int, desc="eval", batch_size: int = 128) -> dict:
    """EM, mean tokens, tokens ÷ oracle and truncation rate, overall and per difficulty, of the completions drawn
    by `decoding` (a number: greedy with that cap); with `samples` > 1 a majority vote over that many samples per
    prompt (its tokens are all the samples' tokens together: what the vote costs to serve)."""
    decoding = Decoding.of(decoding)
    prompts = [r["prompt"] for r in rows]
    if decoding.samples > 1:
        if decoding.temperature is None:
            raise ValueError("a majority vote over samples needs a sampling temperature")
        drawn = [generate(model, tokenizer, prompts, replace(decoding, seed=k, samples=1),
                          desc=f"{desc} sample {k + 1}/{decoding.samples}") for k in range(decoding.samples)]
        texts = [majority_answer([d[0][i] for d in drawn], rows[i].get("answer_check")) for i in range(len(rows))]
        lengths = [sum(d[1][i] for d in drawn) for i in range(len(rows))]
        truncated = [any(d[2][i] for d in drawn) for i in range(len(rows))]
    else:
        texts, lengths, truncated = generate(model, tokenizer, prompts, decoding, batch_size=batch_size, desc=desc)
    correct = [is_right(t, r) for t, r in zip(texts, rows, strict=True)]
    result = summarise(rows, correct, lengths, truncated)
    result.update(text_figures(texts, rows))
    groups = defaultdict(list)
    for i, row in enumerate(rows):
        groups[row.get("difficulty")].append(i)
    if len(groups) > 1:
        result["by_difficulty"] = {
            str(d): summarise([rows[i] for i in idx], [correct[i] for i in idx], [lengths[i] for i in idx],
                               [truncated[i] for i in idx])
            for d, idx in sorted(groups.items())
        }
    result["completions"] = texts
    result["per_example"] = {"correct": correct, "tokens": lengths}  # for paired comparisons (train/ab_test.py)
    return result


def answer_f1(text: str, row: dict) -> float | None:
    """The reply's token F1 against the gold for text answers (`contains`: the whole reply; `text`: the extracted
    answer), None for other checks: what shows a `contains` policy gaming the check by listing candidates."""
    check = row.get("answer_check")
    if check == "contains":
        return answer_check.contains_f1(text, row["answer"])
    if check == "text":
        return answer_check.text_f1(text, row["answer"])
    return None


def text_figures(texts: list[str], rows: list[dict]) -> dict:
    """SQuAD's figures beside EM for text answers: token F1 for `text` rows; for `contains` rows strict EM
    (the `text` check) and the whole reply's token F1 too, so a policy that games `contains` by listing
    candidates or padding shows it (its F1 falls while its EM holds)."""
    checks = {r.get("answer_check") for r in rows}
    if "contains" in checks:
        pairs = list(zip(texts, rows, strict=True))
        return {"strict_em": statistics.fmean(answer_check.text(t, r["answer"]) for t, r in pairs),
                "f1": statistics.fmean(answer_check.contains_f1(t, r["answer"]) for t, r in pairs)}
    if "text" in checks:
        return {"f1": statistics.fmean(answer_check.text_f1(t, r["answer"]) for t, r in zip(texts, rows, strict=True))}
    return {}


def is_right(text: str, row: dict) -> bool:
    """The row's own answer check on one completion (the row reaches a `module:function` check too)."""
    return answer_check.score(row.get("answer_check"), text, row["answer"], row) >= 0.5


def majority_answer(completions: list[str], check: str | None = None) -> str:
    """The completion whose answer most of `completions` agree on, the answer read by the row's own `check`
    (numeric: the number; text, choice, regex: what the check extracts, normalised; contains and your own
    checks: the whole normalised reply). Ties: the answer seen first; completions without an answer do not
    vote. Returned as a completion, so the shared check scores it."""
    from rewards.answer_check import extract, normalize_text

    counts: dict = {}
    first: dict = {}
    for text in completions:
        if (check or "numeric") == "numeric":
            value = extract_answer(text)
            key = normalize_number(value) if value is not None else None
        else:
            value = extract(check, text)
            key = normalize_text(value if value is not None else text) or None
        if key is None:
            continue
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, text)
    if not counts:
        return completions[0] if completions else ""
    best = max(counts, key=lambda k: (counts[k], -list(first).index(k)))
    return first[best]


def fold_report(rows: list[dict], per_example: dict, folds: int, seed: int = 0) -> dict:
    """EM and mean tokens on each of `folds` disjoint subsets of the rows (a stable hash of the prompt
    picks a row's fold), with their spread: is a figure robust across subsets of the data, or carried by
    a few rows? Pure: from an evaluation's per-example results, no generation.

    >>> rows = [{"prompt": f"q{i}"} for i in range(40)]
    >>> r = fold_report(rows, {"correct": [i % 2 == 0 for i in range(40)], "tokens": [10] * 40}, folds=4)
    >>> len(r["per_fold"]), sum(f["n"] for f in r["per_fold"]), r["tokens_range"]
    (4, 40, 0.0)
    """
    from train.allocator_fit import fold_of

    if folds < 2:
        raise ValueError(f"--folds needs at least 2 folds, got {folds}")
    cells = [{"n": 0, "right": 0.0, "tokens": 0.0} for _ in range(folds)]
    for row, ok, n in zip(rows, per_example["correct"], per_example["tokens"], strict=True):
        cell = cells[fold_of(row["prompt"], folds, seed)]
        cell["n"] += 1
        cell["right"] += float(ok)
        cell["tokens"] += n
    if any(c["n"] == 0 for c in cells):
        raise ValueError(f"{len(rows)} rows are too few for {folds} folds (a fold is empty)")
    per_fold = [{"n": c["n"], "em": c["right"] / c["n"], "mean_tokens": c["tokens"] / c["n"]} for c in cells]
    ems, toks = [f["em"] for f in per_fold], [f["mean_tokens"] for f in per_fold]
    return {"folds": folds, "per_fold": per_fold,
            "em_mean": statistics.fmean(ems), "em_std": statistics.stdev(ems), "em_range": max(ems) - min(ems),
            "tokens_mean": statistics.fmean(toks), "tokens_std": statistics.stdev(toks),
            "tokens_range": max(toks) - min(toks)}


def summarise(rows, correct, lengths, truncated) -> dict:
    out = {
        "n": len(rows),
        "em": statistics.fmean(correct),
        "mean_tokens": statistics.fmean(lengths),
        "median_tokens": float(statistics.median(lengths)),
        "p90_tokens": percentile(sorted(lengths), 0.9),
        "truncated": statistics.fmean(truncated),
    }
    if all("oracle_tokens" in r for r in rows):
        out["oracle_mean_tokens"] = statistics.fmean(r["oracle_tokens"] for r in rows)
        out["tokens_over_oracle"] = out["mean_tokens"] / out["oracle_mean_tokens"]
    return out


def percentile(ordered: list, q: float) -> float:
    """The nearest-rank `q` quantile of an already sorted, non-empty list."""
    return float(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))])
