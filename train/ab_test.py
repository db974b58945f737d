"""Paired bootstrap A/B test of two models on the same prompts: is B's EM (or token count) really different?

Why paired: both models answer the same prompts, so most of the variation between prompts (easy vs hard)
is shared; resampling *prompts* and recomputing both means on each resample keeps that pairing, and the
interval on the difference is much tighter than two independent intervals would suggest. This is what a
team should look at before shipping adapter B over adapter A: the 95% interval of EM(B) − EM(A) and of
tokens(B) − tokens(A).
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.95  # the intervals' coverage: 95%, as every table in the docs states


def paired_bootstrap(correct_a, correct_b, tokens_a, tokens_b, n_boot: int = 5000, seed: int = 0) -> dict:
    """Differences B − A of EM and mean tokens with percentile bootstrap intervals (`LEVEL`) over resampled prompts.

    `p_em` is the two-sided bootstrap p-value of "no EM difference" (twice the smaller tail mass at 0)."""
    a, b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    ta, tb = np.asarray(tokens_a, dtype=float), np.asarray(tokens_b, dtype=float)
    n = len(a)
    if n == 0 or not (len(b) == len(ta) == len(tb) == n):
        raise ValueError(f"paired_bootstrap needs four equal, non-empty lists (got {len(a)}, {len(b)}, {len(ta)}, {len(tb)})")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    d_em = (b - a)[idx].mean(axis=1)
    d_tok = (tb - ta)[idx].mean(axis=1)
    tail = (1 - LEVEL) / 2
    p_em = 2 * min(float(np.mean(d_em <= 0)), float(np.mean(d_em >= 0))) if np.any(b != a) else 1.0
    return {
        "n": n,
        "em_a": float(a.mean()),
        "em_b": float(b.mean()),
        "em_diff": float((b - a).mean()),
        "em_ci": [float(np.quantile(d_em, tail)), float(np.quantile(d_em, 1 - tail))],
        "p_em": min(1.0, p_em),
        "tokens_a": float(ta.mean()),
        "tokens_b": float(tb.mean()),
        "tokens_diff": float((tb - ta).mean()),
        "tokens_ci": [float(np.quantile(d_tok, tail)), float(np.quantile(d_tok, 1 - tail))],
        "level": LEVEL,
        "n_boot": n_boot,
    }
