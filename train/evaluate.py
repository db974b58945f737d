"""Evaluation: exact match and completion tokens on a split, overall and per difficulty level.

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
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 128, desc="eval",
             temperature: float | None = None, seed: int = 0):
    """Completions (greedy, or sampled at `temperature` with a fixed seed): (texts, token counts, truncated
    flags), in prompt order."""
    was_training = model.training
    model.eval()
    tokenizer.padding_side = "left"
    texts, lengths, truncated = [], [], []
    device = next(model.parameters()).device
    sampling = {"do_sample": False} if temperature is None else {"do_sample": True, "temperature": temperature, "top_k": 0}
    if temperature is not None:
        torch.manual_seed(seed)
    if prompts and not isinstance(prompts[0], str):  # chat messages: the model's own template
        prompts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
        encode = {"add_special_tokens": False}
    else:
        encode = {}
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, leave=False):
        batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True, **encode).to(device)
        out = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            **sampling,
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


def evaluate(model, tokenizer, rows: list[dict], max_new_tokens: int, desc="eval", temperature=None) -> dict:
    """EM, mean tokens, tokens ÷ oracle and truncation rate, overall and per difficulty (greedy unless a
    sampling temperature is given)."""
    prompts = [r["prompt"] for r in rows]
    texts, lengths, truncated = generate(model, tokenizer, prompts, max_new_tokens, desc=desc, temperature=temperature)
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


def flat_metrics(result: dict, prefix: str = "eval") -> dict[str, float]:
    """W&B/trainer-log friendly scalars: eval/em, eval/mean_tokens, eval/d3/em, ..."""
    out = {f"{prefix}/{k}": v for k, v in result.items() if isinstance(v, (int, float)) and k != "n"}
    for level, sub in result.get("by_difficulty", {}).items():
        out[f"{prefix}/d{level}/em"] = sub["em"]
        out[f"{prefix}/d{level}/mean_tokens"] = sub["mean_tokens"]
    return out


class PeriodicEval:
    """A TrainerCallback (duck-typed, added with `trainer.add_callback`) that evaluates greedily on val every
    `every` optimizer steps and logs EM and tokens overall and per difficulty level."""

    def __init__(self, trainer, tokenizer, rows: list[dict], max_new_tokens: int, every: int):
        self.trainer, self.tokenizer, self.rows = trainer, tokenizer, rows
        self.max_new_tokens, self.every = max_new_tokens, every
        self.history: list[dict] = []

    def __getattr__(self, name):  # every other TrainerCallback event: nothing to do
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_step_end(self, args, state, control, **kwargs):
        if self.every <= 0 or state.global_step % self.every or state.global_step == state.max_steps:
            return
        result = evaluate(self.trainer.model, self.tokenizer, self.rows, self.max_new_tokens, desc="val eval")
        metrics = flat_metrics(result)
        self.history.append({"step": state.global_step, **metrics})
        self.trainer.log(metrics)
