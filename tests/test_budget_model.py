import random

import numpy as np
import pytest

from rewards.budgets import BudgetModel, BudgetModelSettings, predict_budget
from rewards.budget_penalty import budget_penalty
from train.tasks import arith, word_count


def spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def feed(model, rows, rng, batches=30, per_batch=8, group=8):
    """Simulated RL batches: a group of completions per prompt, lengths around the oracle, some wrong."""
    for _ in range(batches):
        prompts, lengths, correct = [], [], []
        for row in rng.sample(rows, per_batch):
            for _ in range(group):
                prompts.append(row["prompt"])
                lengths.append(row["oracle_tokens"] + rng.randint(0, 12))
                correct.append(rng.random() < 0.8)
        model.update(prompts, lengths, correct)


def test_learns_prompt_difficulty_and_generalises_to_unseen_prompts():
    rng = random.Random(0)
    train = arith.build_split("train", 0, word_count, size=2000)
    held_out = arith.build_split("test", 0, word_count, size=200)
    model = BudgetModel(fallback=30.0)
    assert model.predict(["1 + 2 ?"]) == [30.0]  # not ready: the global budget
    feed(model, train, rng)
    assert model.ready
    pred = model.predict([r["prompt"] for r in held_out])
    assert spearman(pred, [r["oracle_tokens"] for r in held_out]) >= 0.8
    easy = np.mean([p for p, r in zip(pred, held_out) if r["difficulty"] == 1])
    hard = np.mean([p for p, r in zip(pred, held_out) if r["difficulty"] == 5])
    assert hard > 3 * easy


def test_allocation_shares_the_level_by_difficulty():
    rng = random.Random(3)
    rows = arith.build_split("train", 0, word_count, size=2000)
    model = BudgetModel(fallback=30.0)
    assert model.allocate(["1 + 2 ?"], level=24.0) == [24.0]  # not ready: the level itself
    feed(model, rows, rng)
    prompts = [r["prompt"] for r in rng.sample(rows, 400)]
    shares = model.allocate(prompts, level=24.0)
    assert np.mean(shares) == pytest.approx(24.0, rel=0.15)  # anchored to the level, not to past lengths
    by_level = {d: np.mean([s for s, p in zip(shares, prompts, strict=True) if p.count(" ") // 2 == d])
                for d in (1, 5)}
    assert by_level[1] < by_level[5] / 3  # easy prompts get a small share, hard ones a large one


def test_targets_count_only_lengths_that_are_reliably_right():
    model = BudgetModel(BudgetModelSettings(quantile=0.0, reliable_accuracy=0.85))
    prompts = ["a"] * 3 + ["b"] + ["c"] * 8
    lengths = [50, 10, 30, 7] + [3, 3, 9, 9, 12, 20, 22, 22]
    correct = [True, False, True, False] + [True, False] + [True] * 6
    t = model.targets(prompts, lengths, correct)
    # a: right at 50 and 30, but each alone in its length range (no evidence of reliability) → longest; b: none;
    # c: the 3-token answers are right half the time (luck), so the shortest sufficient length is 9
    assert t == {"a": 50.0, "c": 9.0}
    # a policy guessing a one-step prompt: short guesses right 5/8, the worked answers always right
    guess = model.targets(["d"] * 11, [3] * 8 + [9, 9, 9], [True] * 5 + [False] * 3 + [True] * 3)
    assert guess == {"d": 9.0}


def test_a_prompt_with_no_reliable_length_keeps_its_budget():
    rng = random.Random(0)
    model = BudgetModel(BudgetModelSettings(min_samples=8), fallback=20.0)
    feed(model, arith.build_split("train", 0, word_count, size=200), rng, batches=6)
    prompt = "4 + 5 ?"
    before = model.predict([prompt])[0]
    guesses = model.targets([prompt] * 8, [3] * 8, [True] * 5 + [False] * 3)  # right only by luck
    assert guesses[prompt] == pytest.approx(max(3.0, before))
    assert guesses[prompt] > 3.0


def test_save_load_round_trip(tmp_path):
    rng = random.Random(1)
    model = BudgetModel(fallback=20.0)
    feed(model, arith.build_split("train", 0, word_count, size=300), rng, batches=10)
    model.save(tmp_path)
    prompts = ["3 + 4 - 1 ?", "9 - 2 ?", "1 + 1 + 1 + 1 + 1 ?"]
    assert predict_budget(tmp_path, prompts) == model.predict(prompts)
    assert predict_budget(tmp_path, prompts[0]) == model.predict(prompts[:1])[0]
    again = BudgetModel.load(tmp_path)
    for a, b in zip(again.state_dict().values(), model.state_dict().values()):
        assert a == b


def test_budget_penalty_relative_overshoot():
    ids = [[0] * n for n in (10, 20, 40, 200)]
    out = budget_penalty(["#### 1"] * 4, ids, ["1"] * 4, budget_tokens=99, token_budget=[20, 20, 20, 20], cap=3)
    assert out == [0.0, 0.0, 1.0, 3.0]
    # wrong answers are exempt, the global budget is used without per-prompt budgets
    assert budget_penalty(["#### 2", "#### 1"], ids[2:], ["1", "1"], budget_tokens=20) == [0.0, 2.0]  # default cap
    with pytest.raises(ValueError, match="budgets > 0"):
        budget_penalty(["#### 1"], [[0]], ["1"], budget_tokens=0)


def test_pooled_accuracy_unmasks_lucky_guesses():
    """Three right 3-token guesses in one group look reliable; pooled over batches they are right 70%."""
    rng = random.Random(2)
    model = BudgetModel(BudgetModelSettings(quantile=0.0, reliable_accuracy=0.85))
    rows = arith.build_split("train", 0, word_count, size=400)
    easy = [r for r in rows if r["difficulty"] == 1]
    for _ in range(10):  # one-operation prompts: 3-token guesses right 70%, 9-token worked answers right always
        prompts, lengths, correct = [], [], []
        for row in rng.sample(easy, 4):
            for _ in range(8):
                guess = rng.random() < 0.5
                prompts.append(row["prompt"])
                lengths.append(3 if guess else 9)
                correct.append(rng.random() < 0.7 if guess else True)
        model.observe(prompts, lengths, correct)
    prompt = easy[0]["prompt"]
    assert model.pooled_accuracy(prompt, 3) == pytest.approx(0.7, abs=0.1)
    assert model.pooled_accuracy(prompt, 9) == 1.0
    lucky = model.targets([prompt] * 5, [3, 3, 3, 9, 9], [True] * 5)
    assert lucky == {prompt: 9.0}
    fresh = BudgetModel(BudgetModelSettings(quantile=0.0))  # no pooled evidence yet: the group decides
    assert fresh.targets([prompt] * 5, [3, 3, 3, 9, 9], [True] * 5) == {prompt: 3.0}


def test_memorised_prompts_are_not_evidence():
    """RL revisits a few one-operation prompts until it knows their answers: there a 3-token guess is always
    right, on a prompt it meets for the first time only 70% of the time. Only fresh prompts count."""
    rng = random.Random(3)
    model = BudgetModel(BudgetModelSettings(quantile=0.0, reliable_accuracy=0.85, fresh_visits=1))
    easy = sorted({r["prompt"] for r in arith.build_split("train", 0, word_count, size=600) if r["difficulty"] == 1})
    memorised, new = easy[:3], iter(easy[3:])
    for _ in range(12):
        prompts, lengths, correct = [], [], []
        for prompt in [*memorised, next(new)]:
            seen = prompt in memorised and prompt in model.visits
            for _ in range(8):
                guess = rng.random() < 0.5
                prompts.append(prompt)
                lengths.append(3 if guess else 9)
                correct.append(seen or rng.random() < 0.7 if guess else True)
        model.observe(prompts, lengths, correct)
    assert model.visits[memorised[0]] == 12 and not model.is_fresh(memorised[0])
    assert model.pooled_accuracy(memorised[0], 3) == pytest.approx(0.7, abs=0.15)  # fresh prompts' accuracy
    assert model.targets([memorised[0]] * 5, [3, 3, 3, 9, 9], [True] * 5) == {memorised[0]: 9.0}
    # a stale prompt whose cell lacks evidence: its own (memorised) group no longer vouches for a length
    stale = BudgetModel(BudgetModelSettings(quantile=0.0, fresh_visits=1))
    stale.visits[memorised[0]] = 5
    assert stale.targets([memorised[0]] * 5, [3, 3, 3, 9, 9], [True] * 5) == {memorised[0]: 9.0}
    fresh = BudgetModel(BudgetModelSettings(quantile=0.0, fresh_visits=1))
    assert fresh.targets([memorised[0]] * 5, [3, 3, 3, 9, 9], [True] * 5) == {memorised[0]: 3.0}
