"""The dual-ascent scheduler for the length penalty's coefficient λ (a Lagrange multiplier).

Terse trains with reward `EM − λ·penalty(tokens)`. Instead of hand-tuning λ, λ is the multiplier of a
constraint and is moved by (projected) dual ascent after every optimizer step.

Budget mode — maximise EM subject to mean completion tokens ≤ T:
    L(θ, λ) = E[EM] − λ·(E[n]/T − 1),   λ ≥ 0.
The policy maximises L (its reward is EM − λ·n/T up to a constant); the dual *minimises* L over λ,
whose gradient is −(E[n]/T − 1), so λ rises while the policy is over budget and falls while under:
    e_t = ĝ_t/T − 1,   λ ← clip(λ + η·e_t, 0, λ_max).

Accuracy-floor mode — minimise tokens subject to EM ≥ F:
    L(θ, μ) = −E[n] + μ·(E[EM] − F),   μ ≥ 0.
Dividing the policy's objective by μ gives the reward EM − (1/μ)·n, i.e. λ = 1/μ. Dual descent on μ
lowers μ (raises λ) while EM is above the floor and raises μ (lowers λ) when EM drops below it. Moving λ
directly with the same sign:
    e_t = (ĝ_t − F)/s,   λ ← clip(λ + η·e_t, 0, λ_max),
so length pressure grows while accuracy has slack and backs off as soon as accuracy hits the floor —
the opposite direction from budget mode, where a high measurement (too many tokens) raises λ. The scale
s (`em_scale`, default 0.05 EM) puts both modes' errors in comparable units: budget errors are relative
(0.5 = 50% over budget), while EM slack is a few hundredths — unscaled, the same gains moved λ only to
0.11 in 120 steps on arith while EM stayed 0.02 above its floor.

Adherence mode — the price of overshooting a *stated* budget (a budget-conditioned run): maximise EM
subject to "a share ≥ A of answers fits its own prompt's budget b", with the reward EM − λ·overshoot(n, b).
The measurement is the share that fits, and λ rises while it is below A:
    e_t = (A − ĝ_t)/s,   λ ← clip(λ + η·e_t, 0, λ_max),
s (`adherence_scale`, default 0.05) one unit of error, as in em_floor mode. Why not a fixed price: the
price that makes a policy keep its budgets depends on the model and the data (3.0 was set by hand on
chain_budget); held to A it is found by the run, and a policy that already keeps its budgets pays none.

Controller. Plain dual ascent is integral-only control and overshoots (Stooke, Achiam & Abbeel 2020,
"Responsive Safety in RL by PID Lagrangian Methods"), and one batch's mean swings ±50% with prompt
difficulty. So the measurement ĝ_t is an exponential moving average of the per-step values, and λ is a
PI law with anti-windup:
    I_t = clip(I_{t−1} + k_i·e_t, 0, λ_max)      (the integrator never winds up past the bounds)
    λ_t = clip(k_p·e_t + I_t, 0, λ_max)
With k_p = 0 this is exactly plain projected dual ascent with step k_i = η. λ is held at `lambda_init`
for `warmup_steps` updates (the EMA still learns) so early noise cannot wind it up. A missing or NaN
measurement leaves every state unchanged and logs a warning.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

logger = logging.getLogger(__name__)

MODES = ("none", "budget", "em_floor", "adherence")


@dataclass
class DualSettings:
    mode: str = "budget"  # none | budget | em_floor
    target: float = 0.0  # T (tokens) in budget mode, F (EM in [0, 1]) in em_floor mode, A (share) in adherence mode
    # The defaults are the recipes' (train/config.py reads them from here: one source): the integral gain and
    # proportional gain tuned on arith and the benchmark, λ_max · cap(2) < 1 so a correct answer stays above a
    # wrong one. Plain dual ascent is kp = 0 (the LEASH peer in launch/compare.py).
    lr: float = 0.02  # k_i, the dual step size (plain dual ascent's η)
    kp: float = 0.2  # proportional gain; 0 gives plain dual ascent
    lambda_init: float = 0.0
    lambda_max: float = 0.45
    ema: float = 0.8  # smoothing of the measured constraint: ĝ ← ema·ĝ + (1 − ema)·g
    warmup_steps: int = 0
    em_scale: float = 0.05  # em_floor mode: the EM slack that counts as one unit of error
    adherence_scale: float = 0.05  # adherence mode: the shortfall of the kept share that counts as one unit

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"constraint must be one of {MODES}, got {self.mode!r}")
        if self.mode == "budget" and not self.target > 0:
            raise ValueError(f"the token budget must be > 0, got {self.target}")
        if self.mode == "em_floor" and not 0.0 <= self.target <= 1.0:
            raise ValueError(f"em_floor must lie in [0, 1], got {self.target}")
        if self.mode == "adherence" and not 0.0 < self.target <= 1.0:
            raise ValueError(f"adherence_target must lie in (0, 1], got {self.target}")
        if not self.em_scale > 0:
            raise ValueError(f"em_scale must be > 0, got {self.em_scale}")
        if not self.adherence_scale > 0:
            raise ValueError(f"adherence_scale must be > 0, got {self.adherence_scale}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"dual_ema must lie in [0, 1), got {self.ema}")
        if not 0.0 <= self.lambda_init <= self.lambda_max:
            raise ValueError(f"need 0 <= lambda_init <= lambda_max, got {self.lambda_init} and {self.lambda_max}")
        if self.lr < 0 or self.kp < 0:
            raise ValueError("dual_lr and dual_kp must be >= 0")


class DualController:
    """Holds λ and moves it from one reduced measurement per optimizer step (see the module docstring)."""

    def __init__(self, settings: DualSettings):
        self.settings = settings
        self.lam = settings.lambda_init
        self.integral = settings.lambda_init
        self.smoothed: float | None = None
        self.error = 0.0
        self.updates = 0

    def error_of(self, smoothed: float) -> float:
        """Normalised constraint violation; > 0 means 'push length down harder'."""
        s = self.settings
        if s.mode == "budget":
            return smoothed / s.target - 1.0
        if s.mode == "em_floor":
            return (smoothed - s.target) / s.em_scale
        if s.mode == "adherence":
            return (s.target - smoothed) / s.adherence_scale
        return 0.0

    def update(self, measured: float | None) -> float:
        """One optimizer step's measurement (mean tokens; EM in em_floor mode; the share of answers within
        their budgets in adherence mode) → the new λ."""
        s = self.settings
        if s.mode == "none":
            return self.lam
        if measured is None or not math.isfinite(measured):
            logger.warning("dual controller: measurement is %r; λ stays at %.4g", measured, self.lam)
            return self.lam
        self.smoothed = measured if self.smoothed is None else s.ema * self.smoothed + (1 - s.ema) * measured
        self.updates += 1
        self.error = self.error_of(self.smoothed)
        if self.updates <= s.warmup_steps:
            return self.lam
        self.integral = min(max(self.integral + s.lr * self.error, 0.0), s.lambda_max)
        self.lam = min(max(s.kp * self.error + self.integral, 0.0), s.lambda_max)
        return self.lam

    def metrics(self) -> dict[str, float]:
        return {
            "dual/lambda": self.lam,
            "dual/constraint": float("nan") if self.smoothed is None else self.smoothed,
            "dual/target": self.settings.target,
            "dual/violation": self.error,
        }

    def state_dict(self) -> dict:
        return {
            "settings": asdict(self.settings),
            "lam": self.lam,
            "integral": self.integral,
            "smoothed": self.smoothed,
            "error": self.error,
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict) -> None:
        for key in ("lam", "integral", "smoothed", "error", "updates"):
            setattr(self, key, state[key])
