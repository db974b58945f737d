"""Published length-control rewards, registered so any recipe can use them and be compared with Terse.

Formulas and sources: `../shared/references/length-rewards.md`. Notation: n = completion tokens, c = 1 if
the completion is correct else 0, G = the completions sampled for the same prompt in this batch. Each is
a full reward (correctness included), so a recipe uses it alone (keep `exact_match` with `weight: 0` for
the accuracy measurement the controller and logs need).

Group statistics are taken over the completions of the same prompt that this process scored. With one
process that is the whole group; with several, TRL may split a group across ranks, so the group-based
rewards (Kimi, Arora & Zanette, ShorterBetter) see a sub-group there.
"""

from __future__ import annotations

import math
from collections import defaultdict

from rewards.exact_match import exact_match as _correct


def _groups(prompts: list) -> dict[str, list[int]]:
    groups = defaultdict(list)
    for i, p in enumerate(prompts):
        groups[str(p)].append(i)
    return groups


def linear_length(completions, completion_ids, answer, coef: float = 0.1, max_len: int = 128, **kwargs):
    """Fixed linear penalty: c − λ·n/L_max, λ fixed (swept by hand)."""
    return [c - coef * len(ids) / max_len for c, ids in zip(_correct(completions, answer), completion_ids, strict=True)]


def kimi_length(completions, completion_ids, answer, prompts, w: float = 1.0, **kwargs):
    """Kimi k1.5 (Kimi Team 2025) group-normalised length reward; open-r1 `rewards.py:len_reward`.
    λ_i = 0.5 − (n_i − min_G n)/(max_G n − min_G n); correct: c + w·λ_i; wrong: w·min(0, λ_i)."""
    correct = _correct(completions, answer)
    out = [0.0] * len(completions)
    for idx in _groups(prompts).values():
        lengths = [len(completion_ids[i]) for i in idx]
        lo, hi = min(lengths), max(lengths)
        for i, n in zip(idx, lengths, strict=True):
            lam = 0.0 if hi == lo else 0.5 - (n - lo) / (hi - lo)
            out[i] = correct[i] + w * lam if correct[i] else w * min(0.0, lam)
    return out


def arora_zanette(completions, completion_ids, answer, prompts, alpha: float = 0.2, **kwargs):
    """Arora & Zanette (2025), "Training Language Models to Reason Efficiently":
    c·(1 − α·σ((n − mean_correct(G))/std_correct(G))); wrong or unfinished: 0."""
    correct = _correct(completions, answer)
    out = [0.0] * len(completions)
    for idx in _groups(prompts).values():
        lengths = [len(completion_ids[i]) for i in idx if correct[i]]
        if not lengths:
            continue
        mean = sum(lengths) / len(lengths)
        std = math.sqrt(sum((n - mean) ** 2 for n in lengths) / len(lengths))
        for i in idx:
            if correct[i]:
                z = (len(completion_ids[i]) - mean) / std if std > 0 else 0.0
                out[i] = 1.0 - alpha / (1.0 + math.exp(-z))
    return out


def truncation(completions, completion_ids, answer, limit: int = 64, **kwargs):
    """ThinkPrune (Hou et al. 2025) / DLER (Liu et al. 2025): c if n ≤ L else 0."""
    return [c if len(ids) <= limit else 0.0 for c, ids in zip(_correct(completions, answer), completion_ids, strict=True)]


def shorter_better(completions, completion_ids, answer, prompts, alpha: float = 1.0, beta: float = 0.001, **kwargs):
    """ShorterBetter (Yi et al. 2025): α·c − β·|n − SOL(G)|, SOL = shortest correct length in G
    (the group's mean length if none is correct)."""
    correct = _correct(completions, answer)
    out = [0.0] * len(completions)
    for idx in _groups(prompts).values():
        lengths = {i: len(completion_ids[i]) for i in idx}
        right = [lengths[i] for i in idx if correct[i]]
        sol = min(right) if right else sum(lengths.values()) / len(lengths)
        for i in idx:
            out[i] = alpha * correct[i] - beta * abs(lengths[i] - sol)
    return out


def trl_cosine(completions, completion_ids, answer, max_len: int = 128, **kwargs):
    """Cosine length scaling (Yeo et al. 2025, "Demystifying Long Chain-of-Thought Reasoning", App. C.1) as
    TRL ships it (`get_cosine_scaled_reward`): correct 1.0 → 0.5 and wrong −1.0 → −0.5 as n goes 0 → L_max.
    TRL decides correctness with math_verify on a `\\boxed{}` answer; we hand it the answer our shared
    extraction reads (boxed), so TRL's schedule is applied to the same correctness every method is judged by.
    """
    from trl.rewards import get_cosine_scaled_reward

    from rewards.exact_match import completion_text, extract_answer, normalize_number

    boxed = []
    for completion in completions:
        value = extract_answer(completion_text(completion))
        number = normalize_number(value) if value is not None else None
        boxed.append([{"content": f"\\boxed{{{format(number.normalize(), 'f')}}}" if number is not None else ""}])
    gold = [format(normalize_number(str(a)).normalize(), "f") for a in answer]
    scores = get_cosine_scaled_reward(max_len=max_len)(boxed, gold, completion_ids)
    return [-1.0 if s is None else s for s in scores]


def trl_soft_overlong(completions, completion_ids, answer, max_len: int = 128, cache: int = 32, **kwargs):
    """DAPO's soft overlong punishment as TRL ships it (`get_soft_overlong_punishment`), added to c."""
    from trl.rewards import get_soft_overlong_punishment

    punish = get_soft_overlong_punishment(max_completion_len=max_len, soft_punish_cache=cache)
    return [c + p for c, p in zip(_correct(completions, answer), punish(completion_ids=completion_ids), strict=True)]
