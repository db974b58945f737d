"""The one price solver: the lowest token price μ at which a spending rule meets a level.

Both places that price tokens — the allocator of a budget-conditioned policy (train/allocator.py: per group of
prompts the budget maximising EM − μ·tokens) and the frontier budget model (rewards/budgets/frontier.py: per
prompt the length bin maximising value − μ·cost) — choose more tokens the cheaper a token is, so what they spend
never rises with μ. The μ that makes them spend `level` is found by bisection on that monotone function.
"""

from __future__ import annotations

from collections.abc import Callable


GROW, CEILING = 4.0, 1e6  # without a given hi: the first hi grows by GROW until it meets the level or passes CEILING


def price_bracket(spend: Callable[[float], float], level: float, lo: float = 0.0, hi: float | None = None,
                  iterations: int = 60) -> tuple[float, float]:
    """(lo, hi) with spend(lo) > level ≥ spend(hi) and hi − lo below (hi₀ − lo₀)/2^iterations: hi is the lowest
    price that meets `level`, lo the highest that does not (a mix of their choices meets it exactly).

    `spend` must not increase with the price. Where spend(lo) ≤ level already: (lo, lo). With `hi` given the
    search stays in [lo, hi] and where spend(hi) > level returns (hi, hi); without it, hi starts at max(1, 2·lo)
    and grows by `GROW` until it meets the level or passes `CEILING`.

    >>> round(price_bracket(lambda mu: 10 / (1 + mu), 5.0)[1], 9)   # 10 / (1 + μ) = 5 at μ = 1
    1.0
    >>> price_bracket(lambda mu: 3.0, 5.0, lo=0.25)
    (0.25, 0.25)
    >>> price_bracket(lambda mu: 10 / (1 + mu), 1.0, hi=2.0)
    (2.0, 2.0)
    """
    if spend(lo) <= level:
        return lo, lo
    if hi is None:
        hi = max(1.0, 2 * lo)
        while spend(hi) > level and hi < CEILING:
            hi *= GROW
    elif spend(hi) > level:
        return hi, hi
    for _ in range(iterations):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spend(mid) > level else (lo, mid)
    return lo, hi
