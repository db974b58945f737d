"""What the allocator sees of a prompt: feature families it can compute at serving time with no other model.

The allocator (`train/allocator.py`) groups prompts by one number and fits, per group and budget, the share
right and the tokens spent. Which number is the question here:

- `length`: the prompt's length in words. Free, and on the built-in `chain_easy` it *is* the difficulty;
  on real text it is a weak proxy (a long SQuAD context is not a hard question).
- `column`: a column that production traffic carries anyway (a category, a source, a difficulty label): one
  group per value seen in calibration; a value never seen falls in the most common value's group.
- `text`: a learned text model. Hashed word 1–2-grams and character 3–5-grams (scikit-learn's
  `HashingVectorizer`: no vocabulary to store, the same vector at serving time) feed a logistic model of
  P(correct | prompt, budget) = σ(w·x(prompt) + c_b), the offsets c_b made non-decreasing in b (more room
  never predicts a worse answer). The prompt's feature is its score w·x: how likely it is to be answered
  right at any budget. Prompts are grouped by that score's quantiles, as by length.

`train.allocator_fit.cross_validate_features` scores each family by K-fold cross-validation on the calibration records (every
record of a prompt in one fold; a text model fitted on the other folds only): the held-out Brier score of
the fitted tables' P(correct) and its AUC. The allocator keeps the family with the lowest Brier score.

Saved as JSON inside allocator.json (the text model as its hashing settings and its non-zero weights),
never pickled. scikit-learn is needed only to fit or serve the `text` family (`pip install 'terse[allocator]'`).
"""

from __future__ import annotations

import json
import math
from collections import Counter

from train.tasks import prompt_text

FAMILIES = ("length", "column", "text")
TEXT_FEATURES = 2 ** 14  # hashed dimensions per analyzer: ~16k buckets, collisions are rare at calibration sizes


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ImportError("the allocator's text feature needs scikit-learn: pip install 'terse[allocator]'") from None


def _vectorizers(n_features: int = TEXT_FEATURES):
    _sklearn()
    from sklearn.feature_extraction.text import HashingVectorizer

    words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=n_features, alternate_sign=False,
                              norm="l2")
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=n_features, alternate_sign=False,
                              norm="l2")
    return words, chars


def text_vectors(texts: list[str], n_features: int = TEXT_FEATURES):
    """Hashed word and character n-grams of `texts`, side by side (a sparse matrix, 2·n_features wide)."""
    from scipy.sparse import hstack

    words, chars = _vectorizers(n_features)
    return hstack([words.transform(texts), chars.transform(texts)]).tocsr()


class TextModel:
    """P(correct | prompt, budget) = σ(w·x(prompt) + c_b), c non-decreasing in b; `score` is w·x."""

    def __init__(self, weights: dict[int, float], offsets: list[float], grid: list[int], n_features: int = TEXT_FEATURES):
        self.weights, self.offsets, self.grid, self.n_features = weights, offsets, list(grid), n_features

    @classmethod
    def fit(cls, records: list[dict], grid: list[int], c: float = 1.0, n_features: int = TEXT_FEATURES) -> TextModel:
        """From records {prompt, budget, correct}: one logistic regression on the text vector and a one-hot
        of the budget (L2, strength 1/`c`), its budget offsets then made non-decreasing."""
        _sklearn()
        from scipy.sparse import csr_matrix, hstack
        from sklearn.linear_model import LogisticRegression

        grid = sorted(grid)
        index = {b: k for k, b in enumerate(grid)}
        labels = [int(bool(r["correct"])) for r in records]
        if len(set(labels)) < 2:  # every answer right (or wrong): the text says nothing; a constant model
            p = min(max(sum(labels) / max(1, len(labels)), 1e-3), 1 - 1e-3)
            return cls({}, [math.log(p / (1 - p))] * len(grid), grid, n_features)
        texts = [prompt_text(r["prompt"]) for r in records]
        onehot = csr_matrix(([1.0] * len(records), (range(len(records)), [index[r["budget"]] for r in records])),
                            shape=(len(records), len(grid)))
        x = hstack([text_vectors(texts, n_features), onehot]).tocsr()
        model = LogisticRegression(C=c, fit_intercept=False, max_iter=2000).fit(x, labels)
        coef = model.coef_[0]
        width = 2 * n_features
        weights = {int(i): float(coef[i]) for i in range(width) if coef[i] != 0.0}
        from sklearn.isotonic import IsotonicRegression

        offsets = IsotonicRegression().fit_transform(range(len(grid)), coef[width:])  # non-decreasing in the budget
        return cls(weights, [float(v) for v in offsets], grid, n_features)

    def scores(self, prompts: list) -> list[float]:
        """w·x per prompt: higher means likelier to be answered right at any budget."""
        if not self.weights:
            return [0.0] * len(prompts)
        x = text_vectors([prompt_text(p) for p in prompts], self.n_features)
        out = []
        for i in range(x.shape[0]):
            row = x.getrow(i)
            out.append(float(sum(v * self.weights.get(int(j), 0.0) for j, v in zip(row.indices, row.data))))
        return out

    def probability(self, prompt, budget: int) -> float:
        k = max([i for i, b in enumerate(self.grid) if b <= budget], default=0)
        return 1 / (1 + math.exp(-(self.scores([prompt])[0] + self.offsets[k])))

    def to_dict(self) -> dict:
        keys = sorted(self.weights)
        return {"n_features": self.n_features, "grid": self.grid, "offsets": self.offsets,
                "index": keys, "value": [self.weights[k] for k in keys]}

    @classmethod
    def from_dict(cls, data: dict) -> TextModel:
        return cls(dict(zip(data["index"], data["value"], strict=True)), data["offsets"], data["grid"],
                   data["n_features"])


class Feature:
    """One feature family, fitted: `values(prompts, rows)` gives the number the allocator groups by."""

    kind = "length"

    def values(self, prompts: list, rows: list | None = None) -> list[float]:
        return [float(len(prompt_text(p).split())) for p in prompts]

    def to_dict(self) -> dict:
        return {"kind": self.kind}


class LengthFeature(Feature):
    """The prompt's length in words."""


class ColumnFeature(Feature):
    """A categorical column of the row: its value's index among those seen in calibration."""

    kind = "column"

    def __init__(self, column: str, values: list[str], fallback: str):
        self.column, self.known, self.fallback = column, list(values), fallback

    @classmethod
    def fit(cls, records: list[dict], column: str) -> ColumnFeature:
        seen = [str(r.get("columns", {}).get(column)) for r in records if column in r.get("columns", {})]
        if not seen:
            raise ValueError(f"allocator_feature_column {column!r}: no calibration row has that column")
        return cls(column, sorted(set(seen)), Counter(seen).most_common(1)[0][0])

    def values(self, prompts: list, rows: list | None = None) -> list[float]:
        if rows is None or len(rows) != len(prompts):
            raise ValueError(f"the allocator groups by the column {self.column!r}: pass each request's columns")
        out = []
        for row in rows:
            value = str((row or {}).get(self.column, self.fallback))
            out.append(float(self.known.index(value if value in self.known else self.fallback)))
        return out

    def to_dict(self) -> dict:
        return {"kind": self.kind, "column": self.column, "values": self.known, "fallback": self.fallback}


class TextFeature(Feature):
    """The text model's score w·x of the prompt."""

    kind = "text"

    def __init__(self, model: TextModel):
        self.model = model

    def values(self, prompts: list, rows: list | None = None) -> list[float]:
        return self.model.scores(prompts)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "model": self.model.to_dict()}


def fit_feature(kind: str, records: list[dict], grid: list[int], column: str | None = None) -> Feature:
    """The family `kind`, fitted on calibration records (only `text` and `column` learn anything)."""
    if kind == "length":
        return LengthFeature()
    if kind == "column":
        if not column:
            raise ValueError("the column feature needs allocator_feature_column (a column of your data)")
        return ColumnFeature.fit(records, column)
    if kind == "text":
        return TextFeature(TextModel.fit(records, grid))
    raise ValueError(f"unknown allocator feature {kind!r}; choose from {FAMILIES}")


def load_feature(spec: dict | None) -> Feature:
    """A feature back from its `to_dict` (None or {} is the length feature of older allocator.json files)."""
    spec = spec or {"kind": "length"}
    kind = spec.get("kind")
    if kind == "length":
        return LengthFeature()
    if kind == "column":
        return ColumnFeature(spec["column"], spec["values"], spec["fallback"])
    if kind == "text":
        _sklearn()
        return TextFeature(TextModel.from_dict(spec["model"]))
    raise ValueError(f"allocator.json names an unknown feature {kind!r}; this Terse knows {FAMILIES}")


def record_values(feature: Feature, records: list[dict]) -> list[float]:
    """The feature of each record's prompt, computed once per distinct prompt."""
    keys = [json.dumps(r["prompt"], sort_keys=True) for r in records]
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    order = list(first)
    values = feature.values([records[first[k]]["prompt"] for k in order],
                            [records[first[k]].get("columns", {}) for k in order])
    by_key = dict(zip(order, values, strict=True))
    return [by_key[k] for k in keys]


def auc(scores: list[float], labels: list[float]) -> float | None:
    """Area under the ROC curve (ties count half); None when only one class is present.

    >>> auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    pos = [s for s, y in zip(scores, labels, strict=True) if y >= 0.5]
    neg = [s for s, y in zip(scores, labels, strict=True) if y < 0.5]
    if not pos or not neg:
        return None
    order = sorted(scores)
    ranks: dict[float, float] = {}
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and order[j] == order[i]:
            j += 1
        ranks[order[i]] = (i + j + 1) / 2  # mean 1-based rank of the tied run
        i = j
    rank_sum = sum(ranks[s] for s in pos)
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
