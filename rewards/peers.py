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
    return [c - coef * len(ids) / max_len for c, ids in zip(_correct(completions, answer, **kwargs), completion_ids, strict=True)]


def kimi_length(completions, completion_ids, answer, prompts, w: float = 1.0, **kwargs):
    """Kimi k1.5 (Kimi Team 2025) group-normalised length reward; open-r1 `rewards.py:len_reward`.
    λ_i = 0.5 − (n_i − min_G n)/(max_G n − min_G n); correct: c + w·λ_i; wrong: w·min(0, λ_i)."""
    correct = _correct(completions, answer, **kwargs)
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
    correct = _correct(completions, answer, **kwargs)
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
    return [c if len(ids) <= limit else 0.0 for c, ids in zip(_correct(completions, answer, **kwargs), completion_ids, strict=True)]


def shorter_better(completions, completion_ids, answer, prompts, alpha: float = 1.0, beta: float = 0.001, **kwargs):
    """ShorterBetter (Yi et al. 2025): α·c − β·|n − SOL(G)|, SOL = shortest correct length in G
    (the group's mean length if none is correct)."""
    correct = _correct(completions, answer, **kwargs)
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
    return [c + p for c, p in zip(_correct(completions, answer, **kwargs), punish(completion_ids=completion_ids), strict=True)]


# -- per-prompt peers: the length price of a prompt depends on how well the policy solves it ----------------

def alp(completions, completion_ids, answer, prompts, beta: float = 0.2, max_len: int = 128, **kwargs):
    """ALP, Adaptive Length Penalty (Xiang et al. 2025, "Just Enough Thinking", arXiv 2506.05256):
    c − (β/N)·max(p_solved(q), 1/K)·n, p_solved the share of the prompt's K rollouts that are correct
    (online, from this group), N = `max_len` normalising the length. Prompts the policy always solves pay
    the full price per token; prompts it rarely solves pay 1/K of it, so it may think longer there."""
    correct = _correct(completions, answer, **kwargs)
    out = [0.0] * len(completions)
    for idx in _groups(prompts).values():
        solved = max(sum(correct[i] for i in idx) / len(idx), 1.0 / len(idx))
        for i in idx:
            out[i] = correct[i] - beta / max_len * solved * len(completion_ids[i])
    return out


def pass_rate_linear(completions, completion_ids, answer, prompts, coef: float = 0.25, correct_only: bool = False,
                     **kwargs):
    """Pass-rate-scaled linear penalty (prime-rl, PrimeIntellect-ai/prime-rl PR #2901, 2026):
    c − coef·pass_rate(G)·n/max_G n, pass_rate the group's share of correct rollouts; with `correct_only`
    wrong rollouts are not penalised. Like ALP, the price of a token grows with how easy the prompt is;
    unlike it, length is relative to the group's longest rollout."""
    correct = _correct(completions, answer, **kwargs)
    out = [0.0] * len(completions)
    for idx in _groups(prompts).values():
        rate = sum(correct[i] for i in idx) / len(idx)
        longest = max(len(completion_ids[i]) for i in idx) or 1
        for i in idx:
            penalised = correct[i] or not correct_only
            out[i] = correct[i] - (coef * rate * len(completion_ids[i]) / longest if penalised else 0.0)
    return out


LASER_BUCKETS = (("hard", 1 / 3), ("medium", 2 / 3), ("easy", float("inf")))  # by the group's solve rate


class LaserDState:
    """LASER-D's memory across steps: per difficulty bucket, the lengths and correctness of recent rollouts,
    from which the bucket's target length L_T is recomputed at every step.

    The bucket of a prompt is decided online by its group's solve rate p (hard p < 1/3, medium p < 2/3, easy
    otherwise), as in LASER-D, which needs no difficulty labels. L_T(bucket) is the smallest length L at
    which a group of K rollouts is expected to hold at least one correct answer no longer than L:
    K · P(correct and n ≤ L) ≥ 1 over the bucket's window; with no such L, every correct answer earns the
    bonus. Saved in checkpoints by the trainer (`state_dict` / `load_state_dict`). With several processes,
    each process keeps the state of the groups it scored."""

    def __init__(self, window: int = 512):
        from collections import deque

        self.window = window
        self.history = {name: deque(maxlen=window) for name, _ in LASER_BUCKETS}

    @staticmethod
    def bucket(solve_rate: float) -> str:
        return next(name for name, upper in LASER_BUCKETS if solve_rate < upper)

    def add(self, bucket: str, lengths: list[int], correct: list[bool]) -> None:
        self.history[bucket].extend(zip(lengths, correct, strict=True))

    def target(self, bucket: str, group_size: int) -> float:
        seen = self.history[bucket]
        right = sorted(n for n, c in seen if c)
        need = len(seen) / group_size  # correct rollouts of length ≤ L needed for K·P(...) ≥ 1
        if not right or len(right) < need:
            return float("inf")
        return float(right[max(0, math.ceil(need) - 1)])

    def state_dict(self) -> dict:
        return {"window": self.window, "history": {k: [list(x) for x in v] for k, v in self.history.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.__init__(state["window"])
        for k, rows in state["history"].items():
            self.history[k].extend((int(n), bool(c)) for n, c in rows)


def laser_d(completions, completion_ids, answer, prompts, state: LaserDState, alpha: float = 0.5, **kwargs):
    """LASER-D (Liu et al. 2025, "Learn to Reason Efficiently with Adaptive Length-based Reward Shaping";
    hkust-nlp/Laser `length_penalty.py`): c + α·1[c and n ≤ L_T(d)], d the prompt's difficulty bucket
    from its group's solve rate and L_T(d) the bucket's target length, recomputed every step from recent
    rollouts (`LaserDState`). A bonus, not a penalty: a correct answer is never worth less than c."""
    correct = _correct(completions, answer, **kwargs)
    groups = list(_groups(prompts).values())
    buckets = []
    for idx in groups:  # the batch joins the window first, so the first step has targets too
        bucket = state.bucket(sum(correct[i] for i in idx) / len(idx))
        buckets.append(bucket)
        state.add(bucket, [len(completion_ids[i]) for i in idx], [bool(correct[i]) for i in idx])
    out = [0.0] * len(completions)
    for idx, bucket in zip(groups, buckets, strict=True):
        limit = state.target(bucket, len(idx))
        for i in idx:
            out[i] = correct[i] + (alpha if correct[i] and len(completion_ids[i]) <= limit else 0.0)
    return out
