"""The allocator: which token budget each prompt gets, so that mean tokens hold a target T at the best EM.

Why a separate allocator: RL with a length reward does not learn *which* answer mode each prompt needs
(the choice collapses to one mode for all prompts before the reward separates them; docs/benchmark.md),
but a policy can learn to follow a budget stated in its prompt. So the choice moves here, where it is a
small supervised fit and an exact optimisation instead of an exploration problem.

The fit. Prompts fall into groups by a feature the allocator can compute at serving time with no model:
the prompt's length in words (distinct lengths when there are few, else quantile bins). For each group g
and each budget b_k of a grid, the policy's own greedy answers to train prompts (never val) give
p(g, b_k), the share right (shrunk toward the pooled share at that budget by `prior_strength`, then made
non-decreasing in b by pool-adjacent-violators: more room never makes the best answer worse), and
t(g, b_k), the mean tokens it actually spends (often below b).

The allocation. With token price μ ≥ 0, group g gets argmax_k p(g, b_k) − μ·t(g, b_k): the Lagrangian of
"maximise mean EM subject to mean tokens ≤ T", whose solution is the concave hull of each group's curve.
μ is found by bisection (mean tokens fall as μ rises), and the groups that switch budget at μ* are split
between their two budgets in the share that meets T exactly (a prompt's side fixed by a hash of its text):
that mixing is what reaches the allocation frontier rather than one budget per group.

Serving. `observe(tokens, correct)` after each answer: the allocation is re-solved for the mix of groups
of the last `window` requests (so traffic that shifts from easy to hard moves μ at once), an effective
target integrates the gap between T and what was spent (the fit's tokens are estimates), and a token bucket
cuts any budget whose predicted tokens would take the last `window` requests over T, counting answers
still in flight at their prediction. The budgets offered are only those the policy keeps (answers within
the stated budget on ≥ 90% of a group's calibration rows), and no token is bought for less than `mu_min`
EM. It keeps running EM and token figures; `decide(prompt)` also returns the predicted P(correct) as the
answer's confidence.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rewards.budgets.price import price_bracket
from train.allocator_fit import adherence_table, cross_validate, fit_tables, group_edges, group_of

ALLOCATOR_FILE = "allocator.json"
FORMAT_VERSION = 1


# -- pure pieces -------------------------------------------------------------------------------------------
def choose(em: list[float], tokens: list[float], mu: float) -> int:
    """The budget index maximising em − μ·tokens (ties: the fewer tokens)."""
    return max(range(len(em)), key=lambda k: (em[k] - mu * tokens[k], -tokens[k]))


def mean_tokens(choice: list[int], tokens: list[list[float]], weights: list[float]) -> float:
    return sum(w * tokens[g][k] for g, (k, w) in enumerate(zip(choice, weights, strict=True)))


MU_MAX = 10.0  # the price bisection's upper end: 10 EM per token is more than any budget step is worth


def solve(em: list[list[float]], tokens: list[list[float]], weights: list[float], target: float,
          mu_min: float = 0.0) -> dict:
    """μ* and the mixed allocation whose mean tokens meet `target`: {mu, plan: per group [(k, share), ...]}.
    A target below what the cheapest budgets cost gets the cheapest everywhere; one above what μ = `mu_min`
    spends gets μ = `mu_min` (accuracy first, but no token bought for less than `mu_min` EM each)."""
    def at(mu):
        return [choose(em[g], tokens[g], mu) for g in range(len(em))]

    lo, hi = price_bracket(lambda mu: mean_tokens(at(mu), tokens, weights), target, mu_min, MU_MAX)
    cheap, rich = at(hi), at(lo)
    m_cheap, m_rich = mean_tokens(cheap, tokens, weights), mean_tokens(rich, tokens, weights)
    share = 0.0 if m_rich <= m_cheap else min(1.0, max(0.0, (target - m_cheap) / (m_rich - m_cheap)))
    plan = []
    for kc, kr in zip(cheap, rich, strict=True):
        plan.append([(kc, 1.0)] if kc == kr or share == 0.0 else [(kc, 1.0 - share), (kr, share)])
    return {"mu": hi, "plan": plan}


def unit_hash(text: str) -> float:
    """A prompt's fixed place in [0, 1): which side of a mixed group it is served on."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") / 2 ** 64


def pick(plan: list[tuple[int, float]], u: float) -> int:
    acc = 0.0
    for k, share in plan:
        acc += share
        if u < acc:
            return k
    return plan[-1][0]


# -- the allocator -----------------------------------------------------------------------------------------
@dataclass
class OnlineSettings:
    """How `observe` holds the target on live traffic."""

    window: int = 100  # the requests whose mean tokens must hold T: the live mix and the token bucket span them
    gain: float = 0.02  # integral control of the effective target: tokens of target per token of error
    guard: float = 1.0  # token bucket: a choice whose predicted tokens would take the window over guard·T is cut
    # (1.05 let an easy-to-hard stream reach 1.101·T in its worst window: predictions err, so no slack)
    prior_requests: int = 10  # the fitted mix counts as this many requests in the live mix
    floor_ratio: float = 0.5  # the effective target stays in [floor_ratio·T, ceiling_ratio·T]
    ceiling_ratio: float = 1.5


@dataclass
class Allocator:
    """Budgets per prompt under a mean-token target (see the module docstring). Built by `fit`, saved with
    the adapter as allocator.json, loaded by `Allocator.load`."""

    grid: list[int]
    edges: list[float]
    em: list[list[float]]
    tokens: list[list[float]]
    weights: list[float]
    target: float
    tag: str = "budget {budget} : {prompt}"  # how a budget is stated: `BudgetStatement`'s template
    tag_unit: int = 1  # the tag states the budget in units of this many tokens (rounded down)
    feature: dict = field(default_factory=lambda: {"kind": "length"})  # what groups prompts (allocator_features)
    # The least EM a token must buy. Why not 0: with room to spare, μ = 0 bought `full` answers for six-operation
    # chains that `steps` answers as well up to the fit's noise (seed 1 at T = 0.6 × base: 31.9 tokens, 1.06·T).
    mu_min: float = 1e-3
    online: OnlineSettings = field(default_factory=OnlineSettings)
    effective_target: float | None = None
    mu: float = 0.0
    plan: list = field(default_factory=list)
    stats: dict = field(default_factory=lambda: {"requests": 0, "tokens": 0.0, "scored": 0, "correct": 0.0})
    recent: list = field(default_factory=list)  # (group, tokens) of the last `online.window` served answers
    pending: list = field(default_factory=list)  # (group, predicted tokens) of decisions not yet observed, in order

    def __post_init__(self):
        from train.allocator_features import load_feature
        from train.budget_statement import BudgetStatement

        self._feature = load_feature(self.feature)
        BudgetStatement(self.tag, self.tag_unit)  # a bad template fails here, at load, not on the first request
        if isinstance(self.online, dict):
            self.online = OnlineSettings(**self.online)
        if self.effective_target is None:
            self.effective_target = float(self.target)
        self.set_target(self.target, reset=False)

    @classmethod
    def fit(cls, records: list[dict], grid: list[int], target: float, prompts_weights: list | None = None,
            max_groups: int = 12, prior_strength: float = 2.0, min_adherence: float = 0.9, cv_folds: int = 0,
            feature_of=None, **kwargs) -> Allocator:
        """From rollout records {prompt, budget, correct, tokens}; groups weighted by the records' rows (or
        by `prompts_weights`, the prompts whose mix the target is meant for). A budget that the policy kept
        (answered within it) on fewer than `min_adherence` of a group's rows is never stated to that group:
        what it buys is an answer longer than the budget it was told. `cv_folds` ≥ 2: `max_groups` and
        `prior_strength` are chosen by that many folds of cross-validation on the records (`cross_validate`).
        `feature_of`: the fitted feature family prompts are grouped by (`train/allocator_features.py`;
        default: prompt length in words)."""
        from train.allocator_features import LengthFeature, record_values

        feature_of = feature_of or LengthFeature()
        for r, v in zip(records, record_values(feature_of, records), strict=True):
            r["feature"] = v
        if cv_folds:
            chosen = cross_validate(records, grid, cv_folds)
            max_groups, prior_strength = chosen["max_groups"], chosen["prior_strength"]
        edges = group_edges([r["feature"] for r in records], max_groups)
        em, tokens = fit_tables(records, sorted(grid), edges, prior_strength)
        kept = adherence_table(records, sorted(grid), edges)
        for g, row in enumerate(kept):
            if any(a >= min_adherence for a in row):  # a group the policy never keeps keeps every budget
                em[g] = [e if a >= min_adherence else -1.0 for e, a in zip(em[g], row, strict=True)]
        # One entry per answered row (rows may repeat a prompt: traffic does, and its mix is what T is for).
        first = min(r["budget"] for r in records)
        mix = feature_of.values(list(prompts_weights)) if prompts_weights else \
            [r["feature"] for r in records if r["budget"] == first]
        counts = [0] * len(edges)
        for v in mix:
            counts[group_of(v, edges)] += 1
        weights = [c / len(mix) for c in counts]
        return cls(grid=sorted(grid), edges=edges, em=em, tokens=tokens, weights=weights, target=float(target),
                   feature=feature_of.to_dict(), **kwargs)

    # targets and decisions
    def set_target(self, target: float, reset: bool = True) -> None:
        """Serve another mean-token target with the same fit (and the same adapter)."""
        self.target = float(target)
        if reset:
            self.effective_target = float(target)
        self._resolve()

    def for_batch(self, prompts: list, rows: list[dict] | None = None) -> Allocator:
        """A copy whose plan is solved for this batch's own mix of groups (this one is left as it is).

        Why: the plan holds T on the mix it is solved for, and a batch whose prompts are all known before the
        first is served (an offline evaluation, a batch job) need not be served for the fitted mix. On
        chain_easy seed 1 the calibration rows had 28.7% one-operation prompts and val 22.7%: every group's
        tokens were predicted within 0.6 of what val spent, yet the plan for the fitted mix served val at
        1.07·T. Streamed traffic, whose prompts arrive one at a time, has `observe` and the live mix instead."""
        rows = rows if rows is not None else [None] * len(prompts)
        counts = [0] * len(self.edges)
        for prompt, row in zip(prompts, rows, strict=True):
            counts[self.group(prompt, row)] += 1
        fields = {f: getattr(self, f) for f in self.__dataclass_fields__ if f not in ("weights", "pending", "recent")}
        return Allocator(**{**copy.deepcopy(fields), "weights": [c / max(1, len(prompts)) for c in counts]})

    def live_weights(self) -> list[float]:
        """The mix of groups the allocation is solved for: the fitted mix, moved toward the groups of the
        recent requests as they arrive (the fitted mix counts as `prior_requests` of them)."""
        if not self.recent:
            return self.weights
        m = self.online.prior_requests
        counts = [0] * len(self.edges)
        for g, _ in self.recent:
            counts[g] += 1
        return [(c + m * w) / (len(self.recent) + m) for c, w in zip(counts, self.weights, strict=True)]

    def _resolve(self) -> None:
        solution = solve(self.em, self.tokens, self.live_weights(), self.effective_target, mu_min=self.mu_min)
        self.mu, self.plan = solution["mu"], solution["plan"]

    def group(self, prompt, row: dict | None = None) -> int:
        """The group of a prompt (`row`: the request's columns, for the column feature)."""
        return group_of(self._feature.values([prompt], [row or {}])[0], self.edges)

    def decide(self, prompt, row: dict | None = None) -> dict:
        """{budget, confidence (the predicted P(correct)), predicted_tokens, group} for one prompt. Online
        (after a first `observe`), a budget whose predicted tokens would take the last `window` requests'
        mean over `guard`·T is cut to the largest one that fits; decisions whose answers are not observed yet
        count at their predicted tokens (a batch of requests in flight shares one bucket)."""
        text = prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True)
        g = self.group(prompt, row)
        k = pick(self.plan[g], unit_hash(text))
        if self.recent:
            w = self.online.window
            last = [t for _, t in self.recent + self.pending][-(w - 1):]  # answered, then in flight (predicted)
            spent = sum(last) + self.target * (w - 1 - len(last))
            room = self.online.guard * self.target * w - spent
            if self.tokens[g][k] > room:
                fitting = [j for j in range(len(self.grid)) if self.tokens[g][j] <= room]
                k = max(fitting, key=lambda j: (self.em[g][j], -self.tokens[g][j])) if fitting else \
                    min(range(len(self.grid)), key=lambda j: self.tokens[g][j])
        self.pending.append((g, self.tokens[g][k]))
        return {"budget": self.grid[k], "confidence": self.em[g][k], "predicted_tokens": self.tokens[g][k], "group": g}

    def budget(self, prompt, row: dict | None = None) -> int:
        return self.decide(prompt, row)["budget"]

    def prompt_with_budget(self, prompt, budget: int | None = None):
        """The prompt with its budget stated as the adapter learned to read it (`BudgetStatement`: text prompts
        get the template, chat prompts a system sentence or their last user message wrapped)."""
        budget = self.budget(prompt) if budget is None else budget
        from train.budget_statement import BudgetStatement

        return BudgetStatement(self.tag, self.tag_unit).state(prompt, budget)

    def predicted(self) -> dict:
        """The fit's expected EM and tokens at the current plan, over the fitted mix of groups."""
        em = sum(w * sum(s * self.em[g][k] for k, s in plan) for g, (plan, w) in enumerate(zip(self.plan, self.weights)))
        tok = sum(w * sum(s * self.tokens[g][k] for k, s in plan)
                  for g, (plan, w) in enumerate(zip(self.plan, self.weights)))
        return {"em": em, "mean_tokens": tok, "mu": self.mu}

    # serving
    def observe(self, tokens: float, correct: bool | float | None = None, prompt=None, row: dict | None = None) -> None:
        """One served answer (to `prompt`, or to the last one `decide` saw): updates the live mix, moves the
        effective target (and so μ) toward holding T, and keeps the running figures."""
        if prompt is None and not self.pending:
            raise ValueError("observe() needs the prompt, or a decide() / budget() call before it")
        first = self.pending.pop(0) if self.pending else None
        g = self.group(prompt, row) if prompt is not None else first[0]
        self.recent = (self.recent + [(g, float(tokens))])[-self.online.window:]
        s = self.stats
        s["requests"] += 1
        s["tokens"] += float(tokens)
        if correct is not None:
            s["scored"] += 1
            s["correct"] += float(correct)
        lo, hi = self.online.floor_ratio * self.target, self.online.ceiling_ratio * self.target
        self.effective_target = min(hi, max(lo, self.effective_target + self.online.gain * (self.target - tokens)))
        self._resolve()

    def running(self) -> dict:
        s = self.stats
        return {"requests": s["requests"], "mean_tokens": s["tokens"] / s["requests"] if s["requests"] else None,
                "em": s["correct"] / s["scored"] if s["scored"] else None, "mu": self.mu,
                "effective_target": self.effective_target}

    # persistence
    def save(self, directory) -> Path:
        path = Path(directory) / ALLOCATOR_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": FORMAT_VERSION, **{k: v for k, v in asdict(self).items() if not k.startswith("_")}}
        data["plan"], data["recent"], data["pending"] = [], [], []  # live state: recomputed / restarted
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path) -> Allocator:
        path = Path(path)
        if path.is_dir():
            path = path / ALLOCATOR_FILE
        if not path.exists():
            raise FileNotFoundError(f"no allocator at {path}: train with a budget-conditioned task "
                                    "(e.g. configs/benchmark_conditioned.yaml) to get one")
        data = json.loads(path.read_text())
        if data.pop("version", None) != FORMAT_VERSION:
            raise ValueError(f"{path}: allocator format version is not {FORMAT_VERSION}")
        data.pop("plan", None)
        data["effective_target"], data["recent"], data["pending"] = None, [], []
        return cls(**data)
