"""Learned budgets allocated by the frontier's rule: fund a prompt's long answer only where it buys accuracy.

Why: the proportional budget model (`rewards/budgets/model.py`) shares the target T in proportion to what
each prompt needs, b(x) = T · f(x) / mean f. When the needs add up to more than T, *every* prompt is
scaled below its need, the hard ones included, so the penalty pushes every prompt the same way (shorter)
and only the size of the push differs. On the benchmark (`chain_graded`, T = 0.6 × base) that common push
flattened the base model's prompt-dependent style before the per-prompt difference could amplify it: a
`full` answer to a six-operation chain, the one cell where it buys accuracy, was still charged ~0.3λ.

The allocation frontier (`rewards/budgets/allocation.py`) spends a budget differently: every prompt starts at its
cheapest adequate answer and the spare tokens go, whole, to the prompts whose accuracy rises most per
extra token. At a token price μ each prompt takes the length that maximises accuracy − μ · tokens, and μ
is the lowest price at which the choices fit the budget. This model learns what that rule needs, online,
from the policy's own rollouts, and hands each prompt the length the rule picks — so a prompt whose long
answer is worth its tokens gets a budget its long answer fits in (no push at all), and the rest get the
length of their cheap answer (the full push).

What it learns (on top of the proportional model, whose state it keeps), from fresh prompts only (as the
proportional model: a memorised prompt's short guesses would look reliable): for each length bin k
(geometric edges ×`bin_factor`), three ridge regressions from the prompt's features (`curve_features`:
hashed n-grams and a prompt-size bucket), all on
every completion and sharing one XᵀX (one solve per update),
- q(x, k): the share of the prompt's completions that fall in bin k,
- j(x, k): the share that fall in bin k *and* are right,
- ℓ(x, k): the share-weighted log length of those in bin k,
so that accuracy(x, k) = j / q and cost(x, k) = exp(ℓ / q). A bin counts for a prompt only where q(x, k) ≥
`min_share`: the prompt's own kind has answered at that length. (A first version regressed accuracy per bin
on the completions inside the bin alone; it extrapolated — on `chain_graded` a six-operation chain was
predicted right 100% of the time at 11–17 tokens, the length of a two-operation chain's worked answer,
which no six-operation answer has — so the price never rose above 0.)

Allocation (`allocate(prompts, level)`): the price μ is found by bisection over a pool of recent training
prompts so that the mean chosen cost is ≤ level (the target T in budget mode); each prompt of the batch
then gets budget = (1 + `slack`) × the cost of its chosen bin. The dual controller still moves λ, the
penalty's weight, to hold the batch's mean length at T: μ decides *where* the tokens go, λ how hard the
budgets are enforced.

Pure allocation (`pure`, `--budget_allocation knapsack`): one bin per kind of prompt (its size group)
instead of one price; see `solve_groups`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from rewards.budgets.allocation import monotone_choice, pure_choice
from rewards.budgets.price import price_bracket
from rewards.budgets.model import BudgetModel, BudgetModelSettings, features, hash_bucket


@dataclass
class FrontierSettings:
    n_features: int = 64  # hashed n-gram buckets of the curve regressions (3 targets per length bin share one XᵀX)
    bin_factor: float = 1.5  # length bins [f^k, f^(k+1))
    max_tokens: int = 512  # longest completion the bins cover
    ridge: float = 1.0
    forget: float = 0.995  # slower than the length model: a mode the policy samples rarely keeps its evidence
    min_bin_evidence: float = 16.0  # pooled completions in a bin before it can be chosen
    min_share: float = 0.05  # a bin counts for a prompt if its kind puts at least this share of answers there
    size_buckets: int = 40  # one-hot prompt-size buckets int(4·log2(2 + words)) beside the hashed n-grams
    pool_size: int = 256  # recent training prompts (one per batch they appear in) the level is shared over
    slack: float = 0.1  # budget = (1 + slack) × the chosen bin's predicted cost
    min_curve_samples: int = 256  # completions seen before the rule replaces the proportional allocation
    pure: bool = False  # one length per kind of prompt (a knapsack over prompt-size groups) instead of one price
    level_tolerance: float = 0.0  # pure: the knapsack spends up to (1 + this) × level (the landing band)
    hysteresis: float = 0.005  # pure: keep the last picks unless the new ones gain this much predicted EM
    monotone: bool = False  # pure: no larger prompt-size group gets a shorter length bin than a smaller one
    kind_split: int = 1  # pure: each size group split into this many kinds by its prompts' first word (kind_of)


def curve_features(prompt: str, settings: FrontierSettings) -> np.ndarray:
    """The hashed n-grams, log length and bias of `features`, plus a one-hot bucket of the prompt's size.

    Why the size bucket: with n-grams and a log length alone the linear curves blur neighbouring kinds of
    prompt (on `chain_graded` a three-operation chain got half the two-operation chains' 16-token answers,
    which it never gives); a bucket per size lets each size have its own curve, and the n-grams refine
    within it. Prompt length is the cheapest difficulty signal any task has."""
    size = np.zeros(settings.size_buckets)
    size[size_bucket(prompt, settings)] = 1.0
    return np.concatenate([features(prompt, settings.n_features), size])


def size_bucket(prompt: str, settings: FrontierSettings) -> int:
    return min(settings.size_buckets - 1, int(4 * math.log2(2 + len(str(prompt).split()))))


def kind_of(prompt: str, settings: FrontierSettings) -> int:
    """The knapsack's kind of a prompt: its size group, split `kind_split` ways by a stable hash of the
    prompt's first word. Why: the allocation frontier often gives up a *share* of one kind (on `chain_easy`
    at 0.4 × base, 30% of the six-operation chains answered `direct`), which one length per size group
    cannot ask for; sub-kinds that a rule on the prompt's text tells apart can. 1: the size group alone."""
    size = size_bucket(prompt, settings)
    if settings.kind_split <= 1:
        return size
    words = str(prompt).split()
    return size * settings.kind_split + hash_bucket("kind:" + (words[0] if words else ""), settings.kind_split)


def n_dims(settings: FrontierSettings) -> int:
    return settings.n_features + 2 + settings.size_buckets


def n_bins(settings: FrontierSettings) -> int:
    return int(math.log(settings.max_tokens) / math.log(settings.bin_factor)) + 1


def length_bin(n: int, settings: FrontierSettings) -> int:
    return min(n_bins(settings) - 1, int(math.log(max(int(n), 1)) / math.log(settings.bin_factor)))


def choose(values: np.ndarray, costs: np.ndarray, allowed: np.ndarray, price: float) -> np.ndarray:
    """Per prompt (row), the bin maximising value − price · cost among allowed bins (ties: the cheaper).

    values, costs: (prompts, bins); allowed: (bins,) or (prompts, bins) bool. Rows with no allowed bin get
    bin −1 (and are left out of the mean cost in `solve_price`)."""
    score = values - price * costs - 1e-9 * costs  # the tiny cost term breaks ties toward the cheaper bin
    score = np.where(np.broadcast_to(allowed, values.shape), score, -np.inf)
    best = np.argmax(score, axis=1)
    return np.where(np.isfinite(score[np.arange(len(best)), best]), best, -1)


def solve_price(values: np.ndarray, costs: np.ndarray, allowed: np.ndarray, level: float,
                iterations: int = 60) -> float:
    """The lowest token price μ ≥ 0 at which the prompts' chosen costs average ≤ level (bisection; the mean
    chosen cost falls as μ rises). If even the cheapest choices exceed level, the price that picks them."""
    def mean_cost(price: float) -> float:
        picked = choose(values, costs, allowed, price)
        chosen = costs[np.arange(len(picked)), np.maximum(picked, 0)][picked >= 0]
        return float(np.mean(chosen)) if chosen.size else 0.0

    return price_bracket(mean_cost, level, iterations=iterations)[1]


class FrontierBudgetModel(BudgetModel):
    """A `BudgetModel` whose allocation of the level follows the frontier's rule (module docstring)."""

    kind = "frontier"

    def __init__(self, settings: BudgetModelSettings | None = None, fallback: float = 0.0,
                 frontier: FrontierSettings | None = None):
        super().__init__(settings, fallback)
        self.frontier = frontier or FrontierSettings()
        k, d = n_bins(self.frontier), n_dims(self.frontier)
        self.curve_xtx = np.zeros((d, d))  # over every fresh completion
        self.curve_xty = np.zeros((d, 3 * k))  # right-hand sides: [share | right share | share · log length]
        self.curve_count = np.zeros(k)  # pooled completions per bin
        self.curve_w = np.zeros((d, 3 * k))
        self.curve_samples = 0
        self.pool: deque[str] = deque(maxlen=self.frontier.pool_size)
        self.price: float | None = None  # the last μ solved (kept for serving-time predictions)
        self.group_picks: dict[int, int] = {}  # pure: the bin chosen per prompt-size group (kept for serving)
        self.knapsack: dict[str, float] = {}  # pure: predicted EM and tokens of the last picks on the pool

    # -- learning the curves ----------------------------------------------------------------------------
    def update(self, prompts: list[str], lengths: list[int], correct: list[bool]) -> dict[str, float]:
        metrics = super().update(prompts, lengths, correct)  # counts this batch's visits (is_fresh below)
        f, s = self.frontier.forget, self.frontier
        k = len(self.curve_count)
        self.curve_xtx *= f
        self.curve_xty *= f
        self.curve_count *= f
        fresh = [(p, n, c) for p, n, c in zip(prompts, lengths, correct, strict=True) if self.is_fresh(p)]
        if fresh:
            cache = {p: curve_features(p, s) for p in dict.fromkeys(p for p, _, _ in fresh)}
            X = np.stack([cache[p] for p, _, _ in fresh])
            Y = np.zeros((len(fresh), 3 * k))
            for i, (_, n, c) in enumerate(fresh):
                b = length_bin(n, s)
                Y[i, b], Y[i, k + b], Y[i, 2 * k + b] = 1.0, float(c), math.log(max(int(n), 1))
                self.curve_count[b] += 1
            self.curve_xtx += X.T @ X
            self.curve_xty += X.T @ Y
            self.curve_samples += len(fresh)
        # every batch's prompts, repeats across batches included: the pool's mix is the training mix. (A
        # first version kept distinct prompts only; on `chain_graded`, whose one-operation chains repeat
        # often, they were 7 of 256 pool prompts instead of ~58, and the level looked 17% harder to meet.)
        self.pool.extend(dict.fromkeys(prompts))
        if fresh:
            self.curve_w = np.linalg.solve(self.curve_xtx + s.ridge * np.eye(n_dims(s)), self.curve_xty)
        metrics["budget/curve_bins"] = float(np.sum(self.allowed()))
        if self.frontier.pure and self.knapsack:
            metrics["budget/knapsack_em"] = self.knapsack["value"]  # predicted EM of the picks on the pool
            metrics["budget/knapsack_tokens"] = self.knapsack["cost"]
        if self.price is not None:
            metrics["budget/price"] = float(self.price)  # μ, accuracy per token, of the last allocation
        return metrics

    def allowed(self) -> np.ndarray:
        return self.curve_count >= self.frontier.min_bin_evidence

    def curves(self, prompts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(accuracy, cost in tokens, support) per prompt and length bin; cost kept inside its bin's range,
        support = the prompt's kind answers in that bin (q ≥ min_share) and the bin has pooled evidence."""
        s, k = self.frontier, len(self.curve_count)
        X = np.stack([curve_features(p, s) for p in prompts])
        out = X @ self.curve_w
        share, right, loglen = out[:, :k], out[:, k:2 * k], out[:, 2 * k:]
        safe = np.maximum(share, 1e-6)
        acc = np.clip(right / safe, 0.0, 1.0)
        lo = np.array([s.bin_factor ** b for b in range(k)])
        cost = np.clip(np.exp(np.clip(loglen / safe, 0.0, 20.0)), lo, lo * s.bin_factor)
        support = (share >= s.min_share) & self.allowed()[None, :]
        return acc, cost, support

    @property
    def curves_ready(self) -> bool:
        return self.curve_samples >= self.frontier.min_curve_samples and bool(self.allowed().any())

    # -- allocating the level ---------------------------------------------------------------------------
    def allocate(self, prompts: list[str], level: float) -> list[float]:
        """Budgets by the frontier's rule at the price that fits `level` over the recent prompt pool; the
        proportional allocation until the curves have enough evidence."""
        if self.frontier.pure and not self.curves_ready:
            # No pressure until the curves exist: the proportional budgets would push every kind of prompt
            # short at once (with λ started high, seed 2 of `chain_graded` went `direct` everywhere in the
            # first steps and the curves then only ever saw `direct`).
            return [float(self.frontier.max_tokens)] * len(prompts)
        if not self.curves_ready or not prompts:
            return super().allocate(prompts, level)
        pool = list(self.pool) or list(prompts)
        if self.frontier.pure:
            self.group_picks = self.solve_groups(pool, level * (1 + self.frontier.level_tolerance))
            return self._group_budgets(prompts, level)
        self.price = solve_price(*self.curves(pool), level)
        return self._budgets(prompts, self.price, level)

    def solve_groups(self, pool: list[str], level: float) -> dict[int, int]:
        """Pure allocation: one bin per prompt-size group, by the knapsack of `rewards.budgets.allocation.pure_choice`
        over the groups' mean curves (weights: their shares of the pool). Why: the price rule picks, per
        prompt, the length worth its tokens at one price μ; the price that fits the level sits exactly at
        the marginal kind's indifference point, so that kind is split between two lengths by n-gram noise
        — an allocation no policy can follow (on `chain_graded` at 0.4 × base, six-operation chains went
        53% `steps` / 47% `direct`). The knapsack gives every kind one length and picks which kinds to
        shorten so the whole fits. The last picks stay unless the new ones gain `hysteresis` predicted EM
        (the curves move with the policy; a target that flips every step teaches nothing)."""
        acc, cost, support = self.curves(pool)
        keys = [kind_of(p, self.frontier) for p in pool]
        groups = sorted(set(keys))
        rows = {g: [i for i, k in enumerate(keys) if k == g] for g in groups}
        weights = np.array([len(rows[g]) for g in groups], dtype=float) / len(pool)
        g_acc = np.stack([acc[rows[g]].mean(axis=0) for g in groups])
        g_cost = np.stack([cost[rows[g]].mean(axis=0) for g in groups])
        g_ok = np.stack([support[rows[g]].mean(axis=0) >= 0.5 for g in groups])
        if self.frontier.monotone:  # groups are in size order; a bin's index is its length rank
            picks = monotone_choice(g_acc, g_cost, g_ok, weights, level, np.arange(g_acc.shape[1]))
        else:
            picks = pure_choice(g_acc, g_cost, g_ok, weights, level)

        def score(chosen: list[int]) -> tuple[float, float]:
            ok = [i for i, b in enumerate(chosen) if b >= 0]
            return (float(sum(weights[i] * g_acc[i, chosen[i]] for i in ok)),
                    float(sum(weights[i] * g_cost[i, chosen[i]] for i in ok)))

        last = [self.group_picks.get(g, picks[i]) for i, g in enumerate(groups)]
        if all(b < 0 or g_ok[i, b] for i, b in enumerate(last)):
            (v_new, _), (v_old, c_old) = score(picks), score(last)
            if c_old <= level + 1e-9 and v_old >= v_new - self.frontier.hysteresis:
                picks = last
        self.knapsack = dict(zip(("value", "cost"), score(picks)))
        return {g: int(b) for g, b in zip(groups, picks) if b >= 0}

    def _group_budgets(self, prompts: list[str], fallback: float) -> list[float]:
        """(1 + slack) × the prompt's own predicted cost in its group's bin; `fallback` for a group not
        in the pool."""
        _, cost, _ = self.curves(prompts)
        out = []
        for i, p in enumerate(prompts):
            b = self.group_picks.get(kind_of(p, self.frontier))
            out.append(fallback if b is None else (1 + self.frontier.slack) * float(cost[i, b]))
        return [max(self.settings.min_budget, float(b)) for b in out]

    def _budgets(self, prompts: list[str], price: float, fallback: float) -> list[float]:
        """(1 + slack) × the chosen bin's cost; a prompt with no supported bin gets `fallback`."""
        acc, cost, support = self.curves(prompts)
        picked = choose(acc, cost, support, price)
        budget = np.where(picked >= 0, (1 + self.frontier.slack) * cost[np.arange(len(picked)), np.maximum(picked, 0)],
                          fallback)
        return [max(self.settings.min_budget, float(b)) for b in budget]

    def predict(self, prompts: list[str]) -> list[float]:
        """Serving-time budgets: the rule at the last training price (the proportional prediction before)."""
        if self.frontier.pure and self.group_picks and self.curves_ready and prompts:
            return self._group_budgets(prompts, self.fallback)
        if self.price is None or not self.curves_ready or not prompts:
            return super().predict(prompts)
        return self._budgets(prompts, self.price, self.fallback)

    # -- persistence ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "kind": self.kind,
            "frontier": asdict(self.frontier),
            "curve_xtx": self.curve_xtx.tolist(), "curve_xty": self.curve_xty.tolist(),
            "curve_count": self.curve_count.tolist(), "curve_w": self.curve_w.tolist(),
            "curve_samples": self.curve_samples, "pool": list(self.pool), "price": self.price,
            "group_picks": {str(g): b for g, b in self.group_picks.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.frontier = FrontierSettings(**state["frontier"])
        for name in ("curve_xtx", "curve_xty", "curve_count", "curve_w"):
            setattr(self, name, np.asarray(state[name], dtype=float))
        self.curve_samples = int(state["curve_samples"])
        self.pool = deque(state["pool"], maxlen=self.frontier.pool_size)
        self.price = state.get("price")
        self.group_picks = {int(g): int(b) for g, b in state.get("group_picks", {}).items()}
