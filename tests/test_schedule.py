"""The budget schedule's logic (train/schedule.py): stages, auto stop, what ships, resume. No TRL, milliseconds."""

import pytest

from train.schedule import BudgetSchedule, best_within, parse_schedule


def point(step, em, tokens, target=0.0):
    return {"step": step, "em": em, "mean_tokens": tokens, "target": target, "lambda": 0.1, "checkpoint": f"front/step-{step}"}


@pytest.mark.parametrize(
    "spec, message",
    [("0.8", "at least 2"), ("0.6,0.8", "strictly decrease"), ("0.8,0.8", "strictly decrease"),
     ("1.2,0.5", r"\(0, 1\]"), ("0.8,abc", "comma-separated ratios")],
)
def test_bad_schedules_are_named(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_schedule(spec)


def test_parse_accepts_text_lists_and_auto():
    assert parse_schedule("0.8, 0.6,0.45") == [0.8, 0.6, 0.45]
    assert parse_schedule([0.5, 0.3]) == [0.5, 0.3]
    assert parse_schedule(" AUTO ") is None


def test_a_list_shares_max_steps_equally_and_ends_stages_on_their_boundaries():
    s = BudgetSchedule.plan("0.8,0.6,0.45,0.35", max_steps=130)
    assert (s.stage_steps, s.total_steps, s.ratio()) == ([32], 128, 0.8)  # 130 // 4 = 32; the run is cut to 128
    assert [step for step in range(1, 130) if s.is_stage_end(step)] == [32]  # only the current stage's end
    ends = []
    for step in range(1, 200):
        if s.is_stage_end(step):
            ends.append((step, s.ratio()))
            going_on = s.finish_stage(point(step, 1.0, 50 - step / 10))
    assert ends == [(32, 0.8), (64, 0.6), (96, 0.45), (128, 0.35)]
    assert not going_on and s.stopped and s.shipped()["step"] == 128  # a list ships its last stage
    assert [p["stage"] for p in s.points] == [0, 1, 2, 3]


def test_given_stage_steps_override_the_equal_split():
    s = BudgetSchedule.plan("0.8,0.5", max_steps=1000, stage_steps=30)
    assert (s.stage_steps, s.total_steps) == ([30], 60)
    s = BudgetSchedule.plan("0.8,0.6,0.5", max_steps=1000, stage_steps="60,40,20")  # a longer first stage
    assert s.total_steps == 120 and s.stage_end() == 60
    s.finish_stage(point(60, 1.0, 30))
    assert s.stage_end() == 100
    with pytest.raises(ValueError, match="lists 2 stages"):
        BudgetSchedule.plan("0.8,0.6,0.5", max_steps=1000, stage_steps="60,40")


def test_auto_lowers_the_budget_while_em_holds_and_ships_the_last_stage_that_held():
    s = BudgetSchedule.plan("auto", max_steps=600, stage_steps=50, floor=0.95, start=0.8, factor=0.5, max_stages=6)
    assert s.finish_stage(point(50, 0.99, 40, target=40)) and s.ratio() == pytest.approx(0.4)
    assert s.finish_stage(point(100, 0.95, 20, target=20)) and s.ratio() == pytest.approx(0.2)  # at the floor
    assert not s.finish_stage(point(150, 0.90, 10, target=10))  # breaks the floor: the run stops here
    assert [p["held"] for p in s.points] == [True, True, False]
    assert s.shipped()["step"] == 100 and s.stopped
    assert not s.is_stage_end(200)


def test_auto_also_stops_at_the_first_budget_the_policy_cannot_reach():
    s = BudgetSchedule.plan("auto", max_steps=600, stage_steps=50, floor=0.95, max_stages=6)
    assert s.finish_stage(point(50, 1.0, 23.6, target=36.0))
    assert s.finish_stage(point(100, 1.0, 21.0, target=20.0))  # within 1.1 × T
    assert not s.finish_stage(point(150, 1.0, 21.0, target=15.0))  # EM holds, but 21 tokens is 1.4 × T
    assert s.shipped()["step"] == 100


def test_auto_stops_after_max_stages_and_ships_none_if_the_first_stage_breaks():
    s = BudgetSchedule.plan("auto", max_steps=40, floor=0.9, max_stages=2)
    assert s.stage_steps == [20]
    assert s.finish_stage(point(20, 0.95, 30, target=30)) and not s.finish_stage(point(40, 0.93, 20, target=20))
    assert s.shipped()["step"] == 40  # both held; the stage limit ended it
    s = BudgetSchedule.plan("auto", max_steps=40, floor=0.9, max_stages=2)
    assert not s.finish_stage(point(20, 0.5, 30)) and s.shipped() is None


def test_auto_without_a_floor_or_with_a_bad_factor_is_refused():
    with pytest.raises(ValueError, match="EM floor"):
        BudgetSchedule.plan("auto", max_steps=60)
    with pytest.raises(ValueError, match="factor"):
        BudgetSchedule.plan("auto", max_steps=60, floor=0.9, factor=1.5)
    with pytest.raises(ValueError, match="too few"):
        BudgetSchedule.plan("0.8,0.6,0.4", max_steps=2)


def test_resume_mid_schedule_continues_at_the_next_stage():
    points = [point(30, 1.0, 40), point(60, 1.0, 30), point(90, 1.0, 25)]
    for i, p in enumerate(points):
        p["stage"] = i
    s = BudgetSchedule.plan("0.8,0.6,0.45,0.35", max_steps=120)
    s.resume(points, step=60)  # the checkpoint at 60: the 90 point was written after it and is dropped
    assert s.index == 2 and s.ratio() == 0.45 and s.stage_end() == 90 and not s.stopped
    s.resume(points + [point(120, 1.0, 20)], step=120)
    assert s.stopped  # all four stages were done


def test_resume_of_an_auto_run_that_already_broke_its_floor_stays_stopped():
    s = BudgetSchedule.plan("auto", max_steps=300, stage_steps=50, floor=0.9)
    s.resume([{**point(50, 0.95, 30, target=30), "held": True}, {**point(100, 0.8, 20), "held": False}], step=100)
    assert s.stopped and s.shipped()["step"] == 50


def test_best_within_picks_the_most_accurate_point_under_the_budget():
    points = [point(30, 1.0, 40), point(60, 0.98, 30), point(90, 0.98, 25), point(120, 0.9, 20)]
    assert best_within(points, 30)["step"] == 90  # equal EM: fewer tokens
    assert best_within(points, 100)["step"] == 30
    with pytest.raises(ValueError, match="no front point"):
        best_within(points, 10)
