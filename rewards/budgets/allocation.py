"""How well *could* any length method do? The allocation frontier and the best single cap, from reliability curves.

A reliability curve says, for one cell of prompts (a difficulty level), how accurate the base model is in
each of its answer modes and how many tokens each mode costs: `[{"mode", "mean_tokens", "em"}, ...]`.
Given the cells' shares of the prompts, two references follow, both at a mean-token budget T:

- **allocation frontier** EM*(T): the best EM that *any* per-prompt choice among the base model's modes
  reaches at mean tokens ≤ T. It is a multiple-choice knapsack; prompts of one cell may answer in
  different modes, so its LP relaxation is the exact answer up to one prompt per cell. The LP is solved
  greedily: start every cell at its shortest mode, then buy the upgrades on each cell's upper concave
  hull (tokens → EM) in order of EM per token until the budget is spent (the last one fractionally).
  No training method can beat this by choosing how long to answer, only by making the modes themselves
  more accurate.
- **uniform cap** U(T): what one global budget could at best do — every prompt gets the same cap C on
  its answer length and answers in its most accurate mode within C (the shortest among equally accurate
  ones; its shortest mode if none fits), C the largest cap whose mean tokens stay ≤ T.

EM*(T) − U(T) is what per-prompt allocation is worth on a task: zero where every cell has one right
length, large where cells differ in what an extra token buys.
"""

from __future__ import annotations

EPS = 1e-9


def _points(curve: list[dict]) -> list[tuple[float, float]]:
    return sorted((float(p["mean_tokens"]), float(p["em"])) for p in curve)


def concave_hull(curve: list[dict]) -> list[tuple[float, float]]:
    """The upper concave hull of a cell's (tokens, EM) points, from its shortest mode (the most accurate
    of the shortest ones) to its most accurate mode (the shortest of those); dominated modes drop out."""
    if not curve:
        raise ValueError("a reliability curve needs at least one mode")
    pts = _points(curve)
    start_t = pts[0][0]
    start = max((p for p in pts if p[0] == start_t), key=lambda p: p[1])
    hull = [start]
    for t, e in pts:
        if t <= start[0] or e <= hull[-1][1] + EPS:  # not longer-and-better than the last kept point
            continue
        while len(hull) >= 2:  # drop the last point if it lies on or under the chord to the new one
            (t1, e1), (t2, e2) = hull[-2], hull[-1]
            if (e2 - e1) * (t - t1) <= (e - e1) * (t2 - t1) + EPS:
                hull.pop()
            else:
                break
        hull.append((t, e))
    return hull


def frontier(curves: dict, shares: dict, budget: float) -> dict:
    """EM*(T): {"tokens", "em", "feasible", "allocation": {cell: [(tokens, EM, fraction), ...]}}.
    `curves` and `shares` are keyed by cell; shares are normalised here. Infeasible (T below every
    cell's shortest mode): the all-shortest point, feasible False."""
    weights = _normalised(shares, curves)
    hulls = {c: concave_hull(curves[c]) for c in weights}
    tokens = sum(w * hulls[c][0][0] for c, w in weights.items())
    em = sum(w * hulls[c][0][1] for c, w in weights.items())
    allocation = {c: [(*hulls[c][0], 1.0)] for c in weights}
    if tokens > budget + EPS:
        return {"tokens": tokens, "em": em, "feasible": False, "allocation": allocation}
    upgrades = []  # (slope, cell, from-point, to-point); per cell the slopes decrease along the hull
    for c, hull in hulls.items():
        for (t1, e1), (t2, e2) in zip(hull, hull[1:]):
            upgrades.append(((e2 - e1) / (t2 - t1), c, (t1, e1), (t2, e2)))
    upgrades.sort(key=lambda u: -u[0])
    left = budget - tokens
    for _, c, (t1, e1), (t2, e2) in upgrades:  # a cell's prompts all sit at its last point until it moves
        cost = weights[c] * (t2 - t1)
        share = min(1.0, left / cost)
        tokens += share * cost
        em += share * weights[c] * (e2 - e1)
        left -= share * cost
        allocation[c] = [(t2, e2, 1.0)] if share >= 1.0 else [(t1, e1, 1.0 - share), (t2, e2, share)]
        if share < 1.0:
            break
    return {"tokens": tokens, "em": em, "feasible": True, "allocation": allocation}


def cap_choice(curve: list[dict], cap: float) -> tuple[float, float, str]:
    """(tokens, EM, mode) a cell answers in under a length cap: its most accurate mode within the cap,
    the shortest among equally accurate ones; its shortest mode if none fits."""
    fits = [p for p in curve if p["mean_tokens"] <= cap + EPS]
    if not fits:
        p = min(curve, key=lambda p: (p["mean_tokens"], -p["em"]))
    else:
        p = max(fits, key=lambda p: (round(p["em"], 9), -p["mean_tokens"]))
    return float(p["mean_tokens"]), float(p["em"]), p.get("mode", "")


def uniform(curves: dict, shares: dict, budget: float) -> dict:
    """U(T): {"tokens", "em", "cap", "feasible", "modes": {cell: mode}} for the largest common cap whose
    mean tokens stay ≤ T (the smallest cap, feasible False, if none does)."""
    weights = _normalised(shares, curves)
    caps = sorted({float(p["mean_tokens"]) for c in weights for p in curves[c]})
    points = []
    for cap in caps:  # mean tokens never fall as the cap grows (a larger cap only adds longer modes)
        choice = {c: cap_choice(curves[c], cap) for c in weights}
        tokens = sum(w * choice[c][0] for c, w in weights.items())
        points.append({"tokens": tokens, "em": sum(w * choice[c][1] for c, w in weights.items()), "cap": cap,
                       "feasible": tokens <= budget + EPS, "modes": {c: choice[c][2] for c in weights}})
    feasible = [p for p in points if p["feasible"]]
    return feasible[-1] if feasible else points[0]


def _normalised(shares: dict, curves: dict) -> dict:
    missing = set(shares) - set(curves)
    if missing:
        raise ValueError(f"cells without a reliability curve: {sorted(missing)}")
    total = sum(shares.values())
    if total <= 0:
        raise ValueError("cell shares must sum to a positive number")
    return {c: s / total for c, s in shares.items() if s > 0}


RESOLUTION = 4000  # the knapsack's cost unit is level / RESOLUTION


def pure_choice(values, costs, allowed, weights, level: float) -> list[int]:
    """One option per group maximising Σ w_g·values[g][pick] subject to Σ w_g·costs[g][pick] ≤ level.

    Why: the frontier above may split one cell between two modes (its LP relaxation); a policy decoded
    greedily cannot split prompts that look alike except by noise, so the allocation it can actually
    follow gives every group a single option — a multiple-choice knapsack, solved here by dynamic
    programming over the weighted cost in units of level / RESOLUTION (rounded down, each kept path's
    true cost tracked; only paths that truly fit count, so the picks never exceed level). Ties go to the
    cheaper total. A group with no allowed option gets −1 and is left out; if even the cheapest options
    exceed level, every group gets its cheapest one.
    values, costs, allowed: (groups, options) nested lists or arrays; weights: (groups,). It is
    `monotone_choice` with every option of one rank, so that no order constrains the picks."""
    return monotone_choice(values, costs, allowed, weights, level, ranks=0)


def pure_frontier(curves: dict, shares: dict, budget: float) -> dict:
    """The best EM at mean tokens ≤ T with one mode per cell: {"tokens", "em", "feasible", "modes"}
    (the reference a greedy policy can reach without splitting a kind of prompt; ≤ the frontier)."""
    weights = _normalised(shares, curves)
    return _one_mode_per_cell(curves, weights, list(weights), budget, rank=None)


def _one_mode_per_cell(curves: dict, weights: dict, cells: list, budget: float, rank: dict | None) -> dict:
    """The knapsack over `cells` (in this order) with their curves' modes as options, padded to one width;
    `rank` (mode → length rank) makes the picks monotone along `cells`, None leaves them free."""
    width = max(len(curves[c]) for c in cells)
    pad = lambda c, key, fill: [float(p[key]) for p in curves[c]] + [fill] * (width - len(curves[c]))  # noqa: E731
    values = [pad(c, "em", 0.0) for c in cells]
    costs = [pad(c, "mean_tokens", 0.0) for c in cells]
    allowed = [[True] * len(curves[c]) + [False] * (width - len(curves[c])) for c in cells]
    ranks = 0 if rank is None else [[rank[p.get("mode", str(i))] for i, p in enumerate(curves[c])]
                                    + [0] * (width - len(curves[c])) for c in cells]
    picks = monotone_choice(values, costs, allowed, [weights[c] for c in cells], budget, ranks)
    tokens = sum(weights[c] * costs[i][b] for i, (c, b) in enumerate(zip(cells, picks)))
    em = sum(weights[c] * values[i][b] for i, (c, b) in enumerate(zip(cells, picks)))
    return {"tokens": tokens, "em": em, "feasible": tokens <= budget + EPS,
            "modes": {c: curves[c][b].get("mode", "") for c, b in zip(cells, picks)}}


def monotone_choice(values, costs, allowed, weights, level: float, ranks) -> list[int]:
    """One option per group, as `pure_choice` describes, with the picks' ranks non-decreasing along the
    groups (groups in size order).

    Why: a small policy follows an allocation it can represent. "Shorten the short prompts, keep the long
    ones worked" is one threshold on the prompt's size; "shorten four-operation chains but not three- or
    five-operation ones" asks it to count exactly, and on `chain_graded` it never did (the knapsack's
    picks were that kind of hole, the shipped policy answered every kind alike). With `ranks` the length
    order of the options (a bin's index, a mode's length rank), no longer group gets a shorter option
    than a shorter group. Same conventions as `pure_choice`: the weighted cost in units of level /
    RESOLUTION (rounded down, true cost tracked, only paths that truly fit count), ties to the cheaper
    total, −1 for a group with no allowed option, every group's cheapest option if nothing fits
    (monotone or not: there is nothing to choose)."""
    import numpy as np

    values, costs = np.asarray(values, dtype=float), np.asarray(costs, dtype=float)
    allowed = np.broadcast_to(np.asarray(allowed, dtype=bool), values.shape)
    ranks = np.broadcast_to(np.asarray(ranks, dtype=int), values.shape)
    weights = np.asarray(weights, dtype=float)
    live = [g for g in range(len(values)) if allowed[g].any() and weights[g] > 0]
    cheapest = [int(np.flatnonzero(allowed[g])[np.argmin(costs[g][allowed[g]])]) if g in live else -1
                for g in range(len(values))]
    picks = [-1] * len(values)
    if not live:
        return picks
    if level <= 0 or sum(weights[g] * costs[g, cheapest[g]] for g in live) > level + EPS:
        return cheapest
    unit, n_ranks, size = level / RESOLUTION, int(ranks.max()) + 1, RESOLUTION + 1
    best = np.full((n_ranks, size), -np.inf)  # best value of a path whose last pick has rank r, by cost
    spent = np.zeros((n_ranks, size))
    start, trail = np.full(size, -np.inf), []
    start[0] = 0.0
    for k, g in enumerate(live):
        # prefix[r]: the best path whose last rank is ≤ r (the empty path before the first group), and
        # which rank it ended on
        prefix = (start if k == 0 else np.full(size, -np.inf)).copy()
        p_spent, p_rank = np.zeros(size), np.full(size, -1)
        prefixes = []
        for r in range(n_ranks):
            better = (best[r] > prefix + 1e-12) | ((best[r] > prefix - 1e-12) & (spent[r] < p_spent - 1e-12))
            prefix, p_spent = np.where(better, best[r], prefix), np.where(better, spent[r], p_spent)
            p_rank = np.where(better, r, p_rank)
            prefixes.append((prefix.copy(), p_spent.copy(), p_rank.copy()))
        new, new_spent = np.full_like(best, -np.inf), np.zeros_like(spent)
        took, came, came_rank = np.full(best.shape, -1), np.zeros(best.shape, dtype=int), np.full(best.shape, -1)
        for b in np.flatnonzero(allowed[g]):
            r, q = int(ranks[g, b]), int(np.floor(weights[g] * costs[g, b] / unit + 1e-9))
            if q > RESOLUTION:
                continue
            pre, pre_spent, pre_rank = prefixes[r]
            cand, cand_spent = np.full(size, -np.inf), np.zeros(size)
            cand[q:] = pre[:size - q] + weights[g] * values[g, b]
            cand_spent[q:] = pre_spent[:size - q] + weights[g] * costs[g, b]
            better = (cand > new[r] + 1e-12) | ((cand > new[r] - 1e-12) & (cand_spent < new_spent[r] - 1e-12))
            new[r], new_spent[r] = np.where(better, cand, new[r]), np.where(better, cand_spent, new_spent[r])
            took[r] = np.where(better, b, took[r])
            came[r] = np.where(better, np.arange(size) - q, came[r])
            came_rank[r] = np.where(better, np.concatenate([np.full(q, -1), pre_rank[:size - q]]), came_rank[r])
        best, spent = new, new_spent
        trail.append((g, took, came, came_rank))
    best = np.where(spent <= level + EPS, best, -np.inf)
    top = np.max(best)
    if not np.isfinite(top):
        return cheapest
    ties = np.argwhere(best >= top - 1e-12)
    r, u = (int(x) for x in ties[np.argmin([spent[tuple(t)] for t in ties])])
    for g, took, came, came_rank in reversed(trail):
        picks[g] = int(took[r, u])
        r, u = int(came_rank[r, u]), int(came[r, u])
    return picks


def monotone_frontier(curves: dict, shares: dict, budget: float) -> dict:
    """The best EM at mean tokens ≤ T with one mode per cell and no harder cell answered shorter than an
    easier one (cells in their sorted order; modes ranked by their tokens): {"tokens", "em", "feasible",
    "modes"} — what a policy that thresholds on the prompt's size can follow; ≤ `pure_frontier`."""
    weights = _normalised(shares, curves)
    cells = sorted(weights, key=_cell_order)
    spend = {}  # a mode's tokens in every cell it is measured in: its rank is its mean length
    for c in cells:
        for i, p in enumerate(curves[c]):
            spend.setdefault(p.get("mode", str(i)), []).append(float(p["mean_tokens"]))
    modes = sorted(spend, key=lambda m: (sum(spend[m]) / len(spend[m]), m))
    return _one_mode_per_cell(curves, weights, cells, budget, rank={m: i for i, m in enumerate(modes)})


def _cell_order(cell):
    """Difficulty cells sort by their number where they have one ("2" before "10"), else by name."""
    try:
        return (0, float(cell), "")
    except ValueError:
        return (1, 0.0, str(cell))
