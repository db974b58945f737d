"""Each published reward against its formula, on a hand-computed group."""

import math

import pytest

from rewards.peers import (
    arora_zanette,
    kimi_length,
    linear_length,
    shorter_better,
    trl_cosine,
    trl_soft_overlong,
    truncation,
)

# one prompt, four completions: correct at 10 and 30 tokens, wrong at 20 and 40
COMPLETIONS = ["#### 5", "#### 4", "#### 5", "#### 4"]
IDS = [[0] * 10, [0] * 20, [0] * 30, [0] * 40]
ANSWER = ["5"] * 4
PROMPTS = ["p"] * 4


def test_linear_length():
    assert linear_length(COMPLETIONS, IDS, ANSWER, coef=0.5, max_len=40) == pytest.approx([0.875, -0.25, 0.625, -0.5])


def test_kimi_length():
    lam = [0.5 - (n - 10) / 30 for n in (10, 20, 30, 40)]
    expected = [1 + lam[0], min(0, lam[1]), 1 + lam[2], min(0, lam[3])]
    assert kimi_length(COMPLETIONS, IDS, ANSWER, prompts=PROMPTS) == pytest.approx(expected)
    half = kimi_length(COMPLETIONS, IDS, ANSWER, prompts=PROMPTS, w=0.5)
    assert half == pytest.approx([1 + 0.5 * lam[0], 0.5 * min(0, lam[1]), 1 + 0.5 * lam[2], 0.5 * min(0, lam[3])])


def test_arora_zanette():
    # correct lengths 10, 30: mean 20, std 10 → z = ∓1
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    expected = [1 - 0.2 * sig(-1), 0.0, 1 - 0.2 * sig(1), 0.0]
    assert arora_zanette(COMPLETIONS, IDS, ANSWER, prompts=PROMPTS, alpha=0.2) == pytest.approx(expected)


def test_truncation():
    assert truncation(COMPLETIONS, IDS, ANSWER, limit=20) == [1.0, 0.0, 0.0, 0.0]


def test_shorter_better():
    # SOL = shortest correct = 10
    expected = [1.0, -0.01, 1 - 0.02, -0.03]
    assert shorter_better(COMPLETIONS, IDS, ANSWER, prompts=PROMPTS, alpha=1.0, beta=0.001) == pytest.approx(expected)
    # no correct answer: SOL = group mean length (15 for lengths 10 and 20)
    out = shorter_better(["#### 4"] * 3, IDS[:3], ["5"] * 3, prompts=["q"] * 3, beta=0.1)
    assert out == pytest.approx([-1.0, 0.0, -1.0])


def test_groups_are_per_prompt():
    out = kimi_length(COMPLETIONS, IDS, ANSWER, prompts=["a", "a", "b", "b"])
    assert out == pytest.approx([1.5, -0.5, 1.5, -0.5])


def test_trl_soft_overlong_is_trls():
    # DAPO: 0 up to L_max − L_c, linear down to −1 at L_max, −1 beyond
    out = trl_soft_overlong(COMPLETIONS, IDS, ANSWER, max_len=40, cache=20)
    assert out == pytest.approx([1.0, 0.0, 1 - 0.5, -1.0])


def test_trl_cosine_is_trls_schedule_on_our_correctness():
    # v_min + ½(v_max − v_min)(1 + cos(π·min(n/L, 1))): correct 1.0 → 0.5, wrong −1.0 → −0.5 (bounds swapped)
    cos = lambda n, lo, hi: lo + 0.5 * (hi - lo) * (1 + math.cos(math.pi * min(n / 40, 1)))  # noqa: E731
    expected = [cos(10, 0.5, 1.0), cos(20, -0.5, -1.0), cos(30, 0.5, 1.0), cos(40, -0.5, -1.0)]
    assert trl_cosine(COMPLETIONS, IDS, ANSWER, max_len=40) == pytest.approx(expected)
    # correctness is the shared exact match: "1,000" is 1000, a text without a number is wrong
    out = trl_cosine(["so #### 1,000", "no idea"], [[0] * 20, [0] * 20], ["1000", "1000"], max_len=40)
    assert out == pytest.approx([0.75, -0.75])
