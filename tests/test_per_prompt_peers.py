"""The per-prompt peers (ALP, pass-rate-scaled linear, LASER-D) against their formulas, worked out by hand."""

import pytest

from rewards import build_rewards
from rewards.peers import LaserDState, alp, laser_d, pass_rate_linear

# Two prompts: "easy" solved 4/4 at 10, 20, 30, 40 tokens; "hard" solved 1/4 (the 10-token one).
COMPLETIONS = ["#### 5"] * 4 + ["#### 5", "#### 4", "#### 4", "#### 4"]
IDS = [[0] * n for n in (10, 20, 30, 40, 10, 20, 30, 40)]
ANSWER = ["5"] * 8
PROMPTS = ["easy"] * 4 + ["hard"] * 4


def test_alp_charges_easy_prompts_more_per_token():
    # easy: p = 1 → 1 − 0.4/40·n; hard: p = max(1/4, 1/4) = 0.25 → c − 0.4/40·0.25·n
    out = alp(COMPLETIONS, IDS, ANSWER, PROMPTS, beta=0.4, max_len=40)
    assert out[:4] == pytest.approx([0.9, 0.8, 0.7, 0.6])
    assert out[4:] == pytest.approx([1 - 0.025, -0.05, -0.075, -0.1])


def test_alp_floors_the_solve_rate_at_one_over_k():
    out = alp(["#### 4"] * 2, [[0] * 8, [0] * 16], ["5", "5"], ["q", "q"], beta=1.0, max_len=16)
    assert out == pytest.approx([-0.5 * 0.5, -0.5 * 1.0])  # p = 0 → 1/K = 1/2


def test_pass_rate_linear_scales_by_the_group_pass_rate_and_longest_rollout():
    out = pass_rate_linear(COMPLETIONS, IDS, ANSWER, PROMPTS, coef=0.5)
    assert out[:4] == pytest.approx([1 - 0.5 * n / 40 for n in (10, 20, 30, 40)])
    assert out[4:] == pytest.approx([1 - 0.5 * 0.25 * 10 / 40, -0.125 * 0.5, -0.125 * 0.75, -0.125])
    only = pass_rate_linear(COMPLETIONS, IDS, ANSWER, PROMPTS, coef=0.5, correct_only=True)
    assert only[5:] == [0.0, 0.0, 0.0]


def test_laser_d_target_is_the_shortest_length_with_one_expected_correct_answer():
    state = LaserDState(window=100)
    out = laser_d(COMPLETIONS, IDS, ANSWER, PROMPTS, state=state, alpha=0.5)
    # easy bucket: 4 rollouts, K = 4 → need ≥ 1 correct of length ≤ L: L_T = 10. Only the 10-token one earns it.
    assert state.target("easy", 4) == 10
    assert out[:4] == [1.5, 1.0, 1.0, 1.0]
    # hard bucket (p = 1/4): its one correct answer at 10 tokens gives L_T = 10 too.
    assert out[4:] == [1.5, 0.0, 0.0, 0.0]


def test_laser_d_target_follows_the_window_across_steps():
    state = LaserDState(window=8)
    state.add("easy", [30, 30, 30, 30], [True] * 4)
    state.add("easy", [10, 12, 50, 50], [True, True, False, False])
    # 8 rollouts, K = 4 → 2 correct ≤ L needed: sorted correct lengths 10, 12, 30, … → L_T = 12.
    assert state.target("easy", 4) == 12
    state.add("easy", [60] * 8, [False] * 8)  # the window forgets the old rollouts: nothing correct left
    assert state.target("easy", 4) == float("inf")


def test_laser_d_state_round_trips_and_is_built_per_run():
    state = LaserDState(window=6)
    state.add("medium", [5, 7], [True, False])
    copy = LaserDState()
    copy.load_state_dict(state.state_dict())
    assert copy.window == 6 and list(copy.history["medium"]) == [(5, True), (7, False)]
    first, second = build_rewards({"laser_d": {"window": 16}}), build_rewards({"laser_d": {}})
    assert first[0].state.window == 16 and second[0].state.window == 512
    assert first[0].state is not second[0].state
    with pytest.raises(ValueError, match="unknown parameter"):
        build_rewards({"laser_d": {"windw": 16}})


def test_buckets_by_solve_rate():
    assert [LaserDState.bucket(p) for p in (0.0, 0.25, 1 / 3, 0.5, 2 / 3, 1.0)] == \
        ["hard", "hard", "medium", "medium", "easy", "easy"]
