"""A learned per-prompt token budget: how many completion tokens a *correct* answer to a prompt needs.

Why: one global budget starves hard prompts of the steps they need and lets easy ones ramble. The budget
model predicts, for any prompt (including ones it has never seen), a budget b(x), and the token penalty
then measures each completion against its own prompt's budget.

How it learns (online, during RL): after each generation batch, every prompt with at least one correct
completion gives a regression target — a quantile of the lengths at which the policy's completions of
that prompt are reliably correct (`targets`: lucky short guesses do not count). Features come from a light
text encoder: hashed bag of word unigrams and bigrams of the prompt, plus its length. The predictor is
ridge regression on log-tokens, refit in closed form from running sufficient statistics (XᵀX, Xᵀy) with an
exponential forgetting factor, so it tracks a policy that keeps getting shorter. It is not a lookup
table: two prompts that share no text still share the statistics of their n-grams and lengths.

Budgets handed to the penalty are *allocations* of a level (`allocate`): b(x) = level · f(x) / mean f,
with f the regression's prediction and mean f its running average over training prompts. In budget mode
the level is the target T, so the learned model decides how the fixed token budget is shared between
easy and hard prompts, not how large it is. Without this anchoring, a budget that tracks the policy's
own current lengths ratchets down together with the policy — on arith the budget of one-operation
prompts collapsed to the 3-token guessed answer and their EM to 0.70.

Until it has seen `min_samples` targets it answers the fallback (the global budget). Its whole state is a
few numpy arrays, saved as JSON next to checkpoints and the exported adapter; `predict_budget(dir,
prompts)` answers from such a file, e.g. for a serving layer that wants a per-request max-tokens hint.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass

import numpy as np

BUDGET_MODEL_FILE = "budget_model.json"


@dataclass
class BudgetModelSettings:
    n_features: int = 256  # hashed feature buckets
    quantile: float = 0.25  # of a prompt's sufficient correct lengths: the regression target
    reliable_accuracy: float = 0.85  # accuracy around a length from which that length counts as sufficient
    neighbourhood: float = 1.25  # "about the same length": within this factor
    min_evidence: int = 2  # completions of about a length needed before it can count as reliable
    pooled_evidence: float = 20.0  # pooled (forgotten) completions in a cell before its accuracy is trusted
    fresh_visits: int = 1  # a prompt's completions are evidence of sufficiency only in its first N batches
    ridge: float = 1.0
    forget: float = 0.98  # per update, old statistics are down-weighted by this factor
    min_samples: int = 32  # targets needed before predictions replace the fallback
    mean_ema: float = 0.9  # smoothing of the running mean prediction that allocations are normalised by
    min_budget: float = 1.0


def hash_bucket(feature: str, n: int) -> int:
    """A stable bucket in [0, n) for a string (blake2b, not Python's salted hash): the same prompt lands in
    the same feature or kind in every process and run."""
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little") % n


def features(prompt: str, n_features: int) -> np.ndarray:
    """Hashed unigram + bigram counts (scaled) of the prompt's words, its log length, and a bias."""
    words = str(prompt).split()[:512]
    x = np.zeros(n_features + 2)
    for i, w in enumerate(words):
        x[hash_bucket("u:" + w, n_features)] += 1.0
        if i:
            x[hash_bucket("b:" + words[i - 1] + " " + w, n_features)] += 1.0
    x[:n_features] /= 4.0
    x[n_features] = math.log1p(len(words))
    x[n_features + 1] = 1.0
    return x


def length_quantile(lengths: list[int], q: float) -> float:
    return float(np.quantile(np.asarray(lengths, dtype=float), q, method="lower"))


class BudgetModel:
    def __init__(self, settings: BudgetModelSettings | None = None, fallback: float = 0.0):
        self.settings = settings or BudgetModelSettings()
        self.fallback = float(fallback)
        d = self.settings.n_features + 2
        self.xtx = np.zeros((d, d))
        self.xty = np.zeros(d)
        self.weights = np.zeros(d)
        self.samples = 0
        self.mean_prediction: float | None = None  # running mean of f over training prompts
        self.reliability: dict[str, list[float]] = {}  # cell -> [correct, count], pooled over recent batches
        self.visits: dict[str, int] = {}  # prompt -> batches it appeared in (who is still fresh)

    @property
    def ready(self) -> bool:
        return self.samples >= self.settings.min_samples

    def predict(self, prompts: list[str]) -> list[float]:
        """Budgets in tokens, one per prompt (the fallback until the model is ready)."""
        if not self.ready or not prompts:
            return [self.fallback] * len(prompts)
        return self._from_features(np.stack([features(p, self.settings.n_features) for p in prompts]))

    def _from_features(self, X: np.ndarray) -> list[float]:
        return [max(self.settings.min_budget, math.exp(min(float(v), 20.0))) for v in X @ self.weights]

    def allocate(self, prompts: list[str], level: float) -> list[float]:
        """Per-prompt shares of a mean budget `level`: level · f(x) / running mean of f (fallback: level)."""
        if not self.ready or not self.mean_prediction:
            return [float(level)] * len(prompts)
        return [max(self.settings.min_budget, level * f / self.mean_prediction) for f in self.predict(prompts)]

    def targets(self, prompts: list[str], lengths: list[int], correct: list[bool]) -> dict[str, float]:
        """Per distinct prompt with ≥ 1 correct completion, the length a correct answer needs.

        A correct completion counts as evidence of a *sufficient* length only if completions of about its
        length are reliably right (accuracy ≥ `reliable_accuracy`): a short guess that is right 70% of
        the time is luck, not a length the prompt can be answered in. Eight samples of one prompt cannot
        tell 70% from 100% (three lucky guesses in a row happen a third of the time), so the accuracy is
        pooled over recent batches by cell — prompt size × completion length, both on log scales
        (`observe`) — and the prompt's own group (completions within a factor `neighbourhood`) decides
        only while its cell has too little evidence.

        Only *fresh* prompts are evidence (`fresh_visits`): a prompt RL has already trained on can be
        memorised, and then its short guesses are right every time although on a new prompt they are right
        70% of the time (arith: 9 distinct one-operation RL prompts, each drawn ~70 times in 120 steps).
        Accuracy on prompts the policy sees for the first time is a held-out estimate of its accuracy on
        new prompts, which is what a budget is for. A stale prompt is judged by its cell alone: without
        pooled evidence none of its lengths counts as sufficient.

        The target is a low `quantile` of the sufficient lengths: what the prompt *needs*, not what the
        policy currently spends. (Regressing on the median kept the ratio of current lengths: verbose hard
        prompts kept their verbosity while easy ones were squeezed below their need — arith, T = 24:
        one-operation budgets 3.3 tokens, five-operation 50.) A prompt with no reliable length keeps at
        least the budget it has (its longest correct length, or the current prediction if larger), so a
        policy that starts guessing on a prompt cannot talk that prompt's budget down.
        """
        groups: dict[str, list[tuple[int, bool]]] = {}
        for p, n, c in zip(prompts, lengths, correct, strict=True):
            groups.setdefault(p, []).append((int(n), bool(c)))
        out, unreliable = {}, []
        k = self.settings.neighbourhood
        for p, group in groups.items():
            right = [n for n, c in group if c]
            if not right:
                continue
            sufficient = []
            for n in right:
                pooled = self.pooled_accuracy(p, n)
                if pooled is not None:
                    if pooled >= self.settings.reliable_accuracy:
                        sufficient.append(n)
                    continue
                if not self.is_fresh(p):
                    continue
                near = [c for m, c in group if n / k <= m <= n * k]
                if len(near) >= self.settings.min_evidence and sum(near) / len(near) >= self.settings.reliable_accuracy:
                    sufficient.append(n)
            if sufficient:
                out[p] = length_quantile(sufficient, self.settings.quantile)
            else:
                out[p] = float(max(right))
                unreliable.append(p)
        if unreliable and self.ready:
            for p, current in zip(unreliable, self.predict(unreliable), strict=True):
                out[p] = max(out[p], current)
        return out

    @staticmethod
    def _cell(prompt: str, n: int) -> str:
        return f"{int(2 * math.log2(2 + len(str(prompt).split())))}:{int(math.log(max(n, 1)) / math.log(1.25))}"

    def is_fresh(self, prompt: str) -> bool:
        """Seen in at most `fresh_visits` batches, the current one included (never observed: fresh)."""
        return self.visits.get(prompt, 0) <= self.settings.fresh_visits

    def observe(self, prompts: list[str], lengths: list[int], correct: list[bool]) -> None:
        """Count the batch's prompts as visited, and add the completions of fresh prompts to the pooled
        accuracy per (prompt size, completion length) cell, forgetting old batches."""
        for p in set(prompts):
            self.visits[p] = self.visits.get(p, 0) + 1
        for stats in self.reliability.values():
            stats[0] *= self.settings.forget
            stats[1] *= self.settings.forget
        for p, n, c in zip(prompts, lengths, correct, strict=True):
            if not self.is_fresh(p):
                continue
            stats = self.reliability.setdefault(self._cell(p, int(n)), [0.0, 0.0])
            stats[0] += float(c)
            stats[1] += 1.0

    def pooled_accuracy(self, prompt: str, n: int) -> float | None:
        """Recent accuracy of completions of about length n to prompts of about this size (None: too few)."""
        stats = self.reliability.get(self._cell(prompt, n))
        if stats is None or stats[1] < self.settings.pooled_evidence:
            return None
        return stats[0] / stats[1]

    def update(self, prompts: list[str], lengths: list[int], correct: list[bool]) -> dict[str, float]:
        """Learn from one batch (all ranks' completions); returns metrics on the batch *before* the update."""
        self.observe(prompts, lengths, correct)
        targets = self.targets(prompts, lengths, correct)
        metrics = {"budget/targets": float(len(targets))}
        if not targets:
            return metrics
        names = list(targets)
        y = np.log(np.asarray([targets[p] for p in names]))
        X = np.stack([features(p, self.settings.n_features) for p in names])
        if self.ready:
            pred = np.asarray(self._from_features(X))  # the features just computed, not recomputed
            metrics["budget/abs_error"] = float(np.mean(np.abs(pred - np.exp(y))))
            metrics["budget/rel_error"] = float(np.mean(np.abs(pred / np.exp(y) - 1)))
        f = self.settings.forget
        self.xtx = f * self.xtx + X.T @ X
        self.xty = f * self.xty + X.T @ y
        self.samples += len(names)
        reg = self.settings.ridge * np.eye(len(self.xty))
        reg[-1, -1] = 1e-6  # do not shrink the bias
        self.weights = np.linalg.solve(self.xtx + reg, self.xty)
        metrics["budget/mean_target"] = float(np.mean(np.exp(y)))
        if self.ready:
            batch_mean = float(np.mean(self.predict(sorted(set(prompts)))))
            f = self.settings.mean_ema
            self.mean_prediction = batch_mean if self.mean_prediction is None else f * self.mean_prediction + (1 - f) * batch_mean
        return metrics

    # -- persistence -----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "settings": asdict(self.settings),
            "fallback": self.fallback,
            "xtx": self.xtx.tolist(),
            "xty": self.xty.tolist(),
            "weights": self.weights.tolist(),
            "samples": self.samples,
            "mean_prediction": self.mean_prediction,
            "reliability": self.reliability,
            "visits": self.visits,
        }

    def load_state_dict(self, state: dict) -> None:
        self.settings = BudgetModelSettings(**state["settings"])
        self.fallback = float(state["fallback"])
        self.xtx = np.asarray(state["xtx"], dtype=float)
        self.xty = np.asarray(state["xty"], dtype=float)
        self.weights = np.asarray(state["weights"], dtype=float)
        self.samples = int(state["samples"])
        self.mean_prediction = state.get("mean_prediction")
        self.reliability = {k: list(v) for k, v in state.get("reliability", {}).items()}
        self.visits = {k: int(v) for k, v in state.get("visits", {}).items()}

    def save(self, directory: str | os.PathLike) -> str:
        path = os.path.join(directory, BUDGET_MODEL_FILE)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(self.state_dict(), f)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> BudgetModel:
        """This class's model from `directory`; `rewards.budgets.load_budget_model` picks the class the file names."""
        model = cls()
        model.load_state_dict(read_state(directory))
        return model


def read_state(directory: str | os.PathLike) -> dict:
    """The saved state (`budget_model.json`) of a checkpoint or exported adapter directory."""
    with open(os.path.join(directory, BUDGET_MODEL_FILE)) as f:
        return json.load(f)
