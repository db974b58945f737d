import math

import pytest

from train.dual import DualController, DualSettings


def budget(**kw):
    return DualController(DualSettings(mode="budget", target=50.0, **kw))


def test_budget_mode_sign():
    c = budget(lr=0.1, ema=0.0)
    assert c.update(80.0) > 0  # over budget: λ rises
    lam = c.lam
    assert c.update(20.0) < lam  # under budget: λ falls


def test_em_floor_mode_sign():
    c = DualController(DualSettings(mode="em_floor", target=0.8, lr=0.5, ema=0.0))
    assert c.update(0.9) > 0  # accuracy has slack: more length pressure
    lam = c.lam
    assert c.update(0.6) < lam  # below the floor: pressure backs off


def test_em_floor_error_is_in_units_of_em_scale():
    c = DualController(DualSettings(mode="em_floor", target=0.8, lr=0.1, kp=0.0, ema=0.0, em_scale=0.05))
    c.update(0.85)  # 0.05 of slack = one unit of error
    assert c.error == pytest.approx(1.0) and c.lam == pytest.approx(0.1)
    raw = DualController(DualSettings(mode="em_floor", target=0.8, lr=0.1, kp=0.0, ema=0.0, em_scale=1.0))
    raw.update(0.85)  # A-DLP's raw gap
    assert raw.error == pytest.approx(0.05) and raw.lam == pytest.approx(0.005)
    with pytest.raises(ValueError, match="em_scale"):
        DualSettings(mode="em_floor", target=0.8, em_scale=0.0)


def test_adherence_mode_prices_overshoot_until_the_kept_share_reaches_its_target():
    c = DualController(DualSettings(mode="adherence", target=0.95, lr=0.1, kp=0.0, ema=0.0, adherence_scale=0.05))
    c.update(0.85)  # 10 points short of 95% kept: two units of error, λ rises
    assert c.error == pytest.approx(2.0) and c.lam == pytest.approx(0.2)
    c.update(1.0)  # every answer within its budget: one unit of slack, the price falls
    assert c.error == pytest.approx(-1.0) and c.lam == pytest.approx(0.1)
    c.update(0.95)  # exactly at the target: λ holds
    assert c.lam == pytest.approx(0.1)
    raw = DualController(DualSettings(mode="adherence", target=0.95, lr=0.1, kp=0.0, ema=0.0, adherence_scale=1.0))
    raw.update(0.85)
    assert raw.error == pytest.approx(0.1)
    with pytest.raises(ValueError, match="adherence_scale"):
        DualSettings(mode="adherence", target=0.95, adherence_scale=0.0)
    for bad in (0.0, 1.2):
        with pytest.raises(ValueError, match="adherence_target"):
            DualSettings(mode="adherence", target=bad)
    DualSettings(mode="adherence", target=1.0)  # "every answer within budget" is a valid target


def test_projection_at_zero_and_cap():
    c = budget(lr=1.0, ema=0.0, lambda_max=0.3)
    for _ in range(20):
        c.update(1000.0)
    assert c.lam == pytest.approx(0.3) and c.integral <= 0.3  # capped, integrator not wound up
    c.update(0.0)  # one step of maximal under-shoot (error −1) from the cap
    assert c.lam == pytest.approx(0.0)
    for _ in range(5):
        c.update(0.0)
    assert c.lam == 0.0 and c.integral == 0.0  # never negative


def test_plain_dual_ascent_step():
    c = budget(lr=0.05, kp=0.0, ema=0.0)
    c.update(75.0)  # error = 75/50 − 1 = 0.5
    assert c.lam == pytest.approx(0.025)


def test_smoothing_damps_one_noisy_batch():
    c = budget(lr=0.1, ema=0.9)
    c.update(50.0)
    c.update(100.0)  # one outlier batch
    assert c.smoothed == pytest.approx(55.0)


@pytest.mark.parametrize("bad", [float("nan"), None, float("inf")])
def test_nan_guard_keeps_state(bad, caplog):
    c = budget(lr=0.1, ema=0.5)
    c.update(70.0)
    before = c.state_dict()
    c.update(bad)
    assert c.state_dict() == before
    assert "λ stays" in caplog.text


def test_warmup_holds_lambda():
    c = budget(lr=0.1, ema=0.0, warmup_steps=3, lambda_init=0.05)
    for _ in range(3):
        assert c.update(100.0) == 0.05
    assert c.update(100.0) > 0.05


def test_none_mode_never_moves():
    c = DualController(DualSettings(mode="none"))
    assert c.update(1e9) == 0.0


def test_state_round_trip_continues_identically():
    a = budget(lr=0.07, kp=0.2, ema=0.6)
    seq = [60, 40, 90, 55, 30, 70, 52]
    for x in seq[:3]:
        a.update(x)
    b = budget(lr=0.07, kp=0.2, ema=0.6)
    b.load_state_dict(a.state_dict())
    assert [a.update(x) for x in seq[3:]] == [b.update(x) for x in seq[3:]]


@pytest.mark.parametrize(
    "kw",
    [dict(mode="budget", target=0.0), dict(mode="em_floor", target=1.5), dict(mode="bogus"),
     dict(mode="budget", target=5, ema=1.0), dict(mode="budget", target=5, lambda_init=2.0, lambda_max=1.0)],
)
def test_bad_settings_raise(kw):
    with pytest.raises(ValueError):
        DualSettings(**kw)


def test_lambda_bounds_under_random_measurements():
    import random

    rng = random.Random(0)
    c = budget(lr=0.5, kp=1.0, ema=0.3, lambda_max=0.24)
    for _ in range(500):
        lam = c.update(rng.choice([rng.uniform(0, 500), float("nan")]))
        assert 0.0 <= lam <= 0.24 and not math.isnan(lam)


def test_the_recipe_defaults_are_the_controllers_own():
    from train.config import ScriptArguments

    args, settings = ScriptArguments(budget_ratio=0.5), DualSettings(mode="none")
    assert (args.dual_lr, args.dual_kp, args.dual_ema, args.lambda_init, args.lambda_max, args.dual_warmup_steps,
            args.dual_em_scale) == (settings.lr, settings.kp, settings.ema, settings.lambda_init, settings.lambda_max,
                                    settings.warmup_steps, settings.em_scale)
    assert settings.lambda_max * 2.0 < 1.0  # with the default cap a correct answer stays above a wrong one
