"""The budget allocator's fit (train/allocator.py), pure: prompts grouped by a feature, per group and budget the
shrunk, budget-monotone EM and the mean tokens (`fit_tables`), the share kept within budget; and its
cross-validation on calibration records — the shrinkage and number of groups (`cross_validate`), and which feature
family prompts are grouped by (`cross_validate_features`: held-out Brier score and AUC per family). Folds are drawn
by prompt (`fold_of`), so every record of one prompt, all its budgets, is held out together."""

from __future__ import annotations

import bisect
import hashlib
import json
import math

def feature(prompt) -> int:
    """The allocator's feature of a prompt: its length in words (chat messages: all contents together)."""
    from train.tasks import prompt_text

    return len(prompt_text(prompt).split())


def group_edges(values: list[int], max_groups: int = 12) -> list[float]:
    """Upper edges of the feature's groups: one group per distinct value when there are ≤ `max_groups`, else
    quantile bins. A value v falls in the first group whose edge is ≥ v (beyond the last: the last)."""
    distinct = sorted(set(values))
    if not distinct:
        raise ValueError("no prompts to group")
    if len(distinct) <= max_groups:
        return [float(v) for v in distinct]
    ordered = sorted(values)
    edges = sorted({float(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered) / max_groups) - 1)])
                    for q in range(1, max_groups + 1)})
    return edges


def group_of(value: float, edges: list[float]) -> int:
    return min(bisect.bisect_left(edges, value), len(edges) - 1)


def isotonic(values: list[float], weights: list[float]) -> list[float]:
    """Weighted pool-adjacent-violators: the non-decreasing sequence closest to `values` (least squares).

    >>> isotonic([0.2, 0.5, 0.4, 0.9], [1, 1, 1, 1])
    [0.2, 0.45, 0.45, 0.9]
    """
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([v, max(w, 1e-12), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    out = []
    for mean, _, count in blocks:
        out += [round(mean, 12)] * count
    return out


def fit_tables(records: list[dict], grid: list[int], edges: list[float], prior_strength: float = 2.0):
    """p(g, b) and t(g, b) from records {feature, budget, correct, tokens}; budgets not on the grid are an
    error. A cell with no record takes the pooled share and the budget itself as its tokens."""
    index = {b: k for k, b in enumerate(grid)}
    n_groups, n_budgets = len(edges), len(grid)
    right = [[0.0] * n_budgets for _ in range(n_groups)]
    count = [[0] * n_budgets for _ in range(n_groups)]
    spent = [[0.0] * n_budgets for _ in range(n_groups)]
    for r in records:
        if r["budget"] not in index:
            raise ValueError(f"record budget {r['budget']} is not on the grid {grid}")
        g, k = group_of(r["feature"], edges), index[r["budget"]]
        right[g][k] += float(r["correct"])
        count[g][k] += 1
        spent[g][k] += r["tokens"]
    pooled = [sum(right[g][k] for g in range(n_groups)) / max(1, sum(count[g][k] for g in range(n_groups)))
              for k in range(n_budgets)]
    em, tokens = [], []
    for g in range(n_groups):
        raw = [(right[g][k] + prior_strength * pooled[k]) / (count[g][k] + prior_strength) for k in range(n_budgets)]
        em.append(isotonic(raw, [count[g][k] + prior_strength for k in range(n_budgets)]))
        tokens.append([spent[g][k] / count[g][k] if count[g][k] else float(grid[k]) for k in range(n_budgets)])
    return em, tokens


def adherence_table(records: list[dict], grid: list[int], edges: list[float]) -> list[list[float]]:
    """Per group and budget, the share of answers within the budget (1.0 where there is no record)."""
    index = {b: k for k, b in enumerate(grid)}
    kept = [[[0, 0] for _ in grid] for _ in edges]
    for r in records:
        cell = kept[group_of(r["feature"], edges)][index[r["budget"]]]
        cell[0] += r["tokens"] <= r["budget"]
        cell[1] += 1
    return [[c[0] / c[1] if c[1] else 1.0 for c in row] for row in kept]


PRIOR_STRENGTHS = (0.0, 0.5, 2.0, 8.0, 32.0)
MAX_GROUPS = (4, 8, 12, 24)


def fold_of(prompt, folds: int, seed: int = 0) -> int:
    """The cross-validation fold of a prompt: a stable hash, so every record of one prompt (all its budgets)
    falls in one fold and a fit is never scored on a prompt it saw."""
    text = prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True)
    return int(hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()[:8], 16) % folds


def cross_validate(records: list[dict], grid: list[int], folds: int = 5, seed: int = 0,
                   prior_strengths=PRIOR_STRENGTHS, max_groups=MAX_GROUPS) -> dict:
    """The fit's regularisation (shrinkage `prior_strength`, number of groups `max_groups`) chosen by K-fold
    cross-validation on the calibration records (train prompts, never val): each candidate is fitted on
    K − 1 folds and scored by the Brier score of its p(g, b) on the held-out fold's answers; the lowest
    mean wins (ties: more shrinkage, fewer groups — the simpler fit).

    Why: the fixed defaults (2, 12) were set by eye on one task; how much a group's few answers should be
    trusted over the pooled share depends on how many calibration rows there are and how groups differ.

    Returns {"prior_strength", "max_groups", "folds", "scores": {"prior,groups": mean Brier}}.

    >>> recs = [{"prompt": f"{'x ' * (1 + i % 3)}?{i}", "budget": b, "tokens": b, "correct": (i % 3) * 10 < b}
    ...         for i in range(60) for b in (5, 10, 30)]
    >>> best = cross_validate(recs, [5, 10, 30], folds=3)   # three clean groups: no shrinkage, fewest groups
    >>> best["prior_strength"], best["max_groups"], min(best["scores"].values())
    (0.0, 4, 0.0)
    """
    if folds < 2:
        raise ValueError(f"cross-validation needs folds >= 2, got {folds}")
    grid = sorted(grid)
    index = {b: k for k, b in enumerate(grid)}
    for r in records:
        r.setdefault("feature", feature(r["prompt"]))
    split = [fold_of(r["prompt"], folds, seed) for r in records]
    if len(set(split)) < folds:
        raise ValueError(f"too few distinct prompts ({len({str(r['prompt']) for r in records})}) for {folds} folds")
    parts = [([r for r, f in zip(records, split) if f != k], [r for r, f in zip(records, split) if f == k])
             for k in range(folds)]  # (fitted on, scored on), once for every candidate
    scores = {}
    for groups in max_groups:
        edges = [group_edges([r["feature"] for r in train], groups) for train, _ in parts]
        for strength in prior_strengths:
            loss = 0.0
            for (train, held), fold_edges in zip(parts, edges):
                em, _ = fit_tables(train, grid, fold_edges, strength)
                for r in held:
                    p = em[group_of(r["feature"], fold_edges)][index[r["budget"]]]
                    loss += (p - float(r["correct"])) ** 2
            scores[f"{strength:g},{groups}"] = loss / len(records)
    best = min(scores, key=lambda key: (round(scores[key], 12), -float(key.split(",")[0]), int(key.split(",")[1])))
    strength, groups = best.split(",")
    return {"prior_strength": float(strength), "max_groups": int(groups), "folds": folds, "scores": scores}


def cross_validate_features(records: list[dict], grid: list[int], families=None, column: str | None = None,
                            folds: int = 5, seed: int = 0, prior_strengths=None, max_groups=None) -> dict:
    """Each feature family's held-out Brier score and AUC (see the module docstring), with the shrinkage and
    number of groups chosen for it; `best` is the family with the lowest Brier score (ties: the first of
    `families`, the cheaper one). Families that cannot be fitted (no column given, scikit-learn missing) are
    reported with their reason instead of a score.

    Returns {"best", "families": {kind: {"brier", "auc", "prior_strength", "max_groups"} or {"skipped"}}}."""
    from train.allocator_features import FAMILIES, auc, fit_feature, record_values

    families = tuple(families or FAMILIES)
    if folds < 2:
        raise ValueError(f"cross-validation needs folds >= 2, got {folds}")
    grid = sorted(grid)
    index = {b: k for k, b in enumerate(grid)}
    split = [fold_of(r["prompt"], folds, seed) for r in records]
    if len(set(split)) < folds:
        raise ValueError(f"too few distinct prompts ({len({str(r['prompt']) for r in records})}) for {folds} folds")
    parts = [([r for r, f in zip(records, split) if f != k], [r for r, f in zip(records, split) if f == k])
             for k in range(folds)]
    report: dict = {}
    for kind in families:
        try:
            fitted = [fit_feature(kind, train, grid, column) for train, _ in parts]
        except (ValueError, ImportError) as err:
            report[kind] = {"skipped": str(err)}
            continue
        values = [(record_values(f, train), record_values(f, held)) for f, (train, held) in zip(fitted, parts)]
        best = None
        for groups in max_groups or MAX_GROUPS:
            edges = [group_edges(train_values, groups) for train_values, _ in values]
            for strength in prior_strengths or PRIOR_STRENGTHS:
                predicted, labels = [], []
                for (train, held), (train_values, held_values), fold_edges in zip(parts, values, edges):
                    fit_records = [{**r, "feature": v} for r, v in zip(train, train_values, strict=True)]
                    em, _ = fit_tables(fit_records, grid, fold_edges, strength)
                    for r, v in zip(held, held_values, strict=True):
                        predicted.append(em[group_of(v, fold_edges)][index[r["budget"]]])
                        labels.append(float(r["correct"]))
                brier = sum((p - y) ** 2 for p, y in zip(predicted, labels)) / len(labels)
                key = (round(brier, 12), -strength, groups)
                if best is None or key < best[0]:
                    best = (key, {"brier": brier, "auc": auc(predicted, labels), "prior_strength": strength,
                                  "max_groups": groups})
        report[kind] = best[1]
    scored = [k for k in families if "brier" in report.get(k, {})]
    if not scored:
        raise ValueError(f"no allocator feature could be fitted: {report}")
    return {"best": min(scored, key=lambda k: (round(report[k]["brier"], 12), families.index(k))),
            "families": report, "folds": folds}
