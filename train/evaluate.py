"""Greedy evaluation: exact match and completion tokens on a split, overall and per difficulty level.

Tokens are counted the way the trainer counts them (generated ids up to and including end-of-sequence),
so the budget the controller holds during training and the figure reported here are the same quantity.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import torch
from tqdm.auto import tqdm

from rewards.exact_match import is_correct


@torch.no_grad()
def generate_greedy(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 128, desc="eval"):
    """Greedy completions: (texts, token counts, truncated flags), in prompt order."""
    was_training = model.training
    model.eval()
    tokenizer.padding_side = "left"
    texts, lengths, truncated = [], [], []
    device = next(model.parameters()).device
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, leave=False):
        batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
        out = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        for ids in out[:, batch["input_ids"].shape[1] :].tolist():
            if tokenizer.eos_token_id in ids:
                ids = ids[: ids.index(tokenizer.eos_token_id) + 1]
                truncated.append(False)
            else:
                ids = [i for i in ids if i != tokenizer.pad_token_id]
                truncated.append(True)
            lengths.append(len(ids))
            texts.append(tokenizer.decode(ids, skip_special_tokens=True))
    model.train(was_training)
    return texts, lengths, truncated


def evaluate(model, tokenizer, rows: list[dict], max_new_tokens: int, desc="eval") -> dict:
    """EM, mean tokens, tokens ÷ oracle and truncation rate, overall and per difficulty."""
    texts, lengths, truncated = generate_greedy(model, tokenizer, [r["prompt"] for r in rows], max_new_tokens, desc=desc)
    correct = [is_correct(t, r["answer"]) for t, r in zip(texts, rows, strict=True)]
    result = _summarise(rows, correct, lengths, truncated)
    groups = defaultdict(list)
    for i, row in enumerate(rows):
        groups[row.get("difficulty")].append(i)
    if len(groups) > 1:
        result["by_difficulty"] = {
            str(d): _summarise([rows[i] for i in idx], [correct[i] for i in idx], [lengths[i] for i in idx],
                               [truncated[i] for i in idx])
            for d, idx in sorted(groups.items())
        }
    result["completions"] = texts
    return result


def _summarise(rows, correct, lengths, truncated) -> dict:
    out = {
        "n": len(rows),
        "em": statistics.fmean(correct),
        "mean_tokens": statistics.fmean(lengths),
        "truncated": statistics.fmean(truncated),
    }
    if all("oracle_tokens" in r for r in rows):
        out["oracle_mean_tokens"] = statistics.fmean(r["oracle_tokens"] for r in rows)
        out["tokens_over_oracle"] = out["mean_tokens"] / out["oracle_mean_tokens"]
    return out
