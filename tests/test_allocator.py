"""The allocator's fit, allocation and online control: pure logic, milliseconds."""

import json
import random

import pytest

from train import allocator as A
from train import allocator_fit as F
from train.allocator import Allocator


def test_isotonic_pools_violators_and_keeps_monotone_input():
    assert F.isotonic([0.1, 0.3, 0.6], [1, 1, 1]) == [0.1, 0.3, 0.6]
    assert F.isotonic([0.2, 0.5, 0.4, 0.9], [1, 1, 1, 1]) == [0.2, 0.45, 0.45, 0.9]
    assert F.isotonic([0.8, 0.2], [3, 1]) == [0.65, 0.65]


def test_groups_are_distinct_values_or_quantile_bins():
    assert F.group_edges([4, 6, 4, 8]) == [4.0, 6.0, 8.0]
    edges = F.group_edges(list(range(100)), max_groups=4)
    assert len(edges) == 4 and edges[-1] == 99.0
    assert F.group_of(0, edges) == 0 and F.group_of(99, edges) == 3 and F.group_of(1000, edges) == 3


def two_kinds():
    """Easy prompts (2 words) right at any budget; hard ones (6 words) right only at budget ≥ 20."""
    records = []
    for i in range(20):
        for b in (4, 10, 20, 40):
            records.append({"prompt": f"e{i} x", "budget": b, "tokens": min(b, 4), "correct": True})
            records.append({"prompt": f"h{i} x x x x x", "budget": b, "tokens": min(b, 20), "correct": b >= 20})
    return records


def test_fit_learns_each_groups_curve_and_the_allocation_spends_where_it_buys():
    alloc = Allocator.fit(two_kinds(), grid=[4, 10, 20, 40], target=12.0, prior_strength=0.0)
    assert alloc.weights == [0.5, 0.5]
    assert alloc.em[0] == [1.0, 1.0, 1.0, 1.0] and alloc.em[1] == [0.0, 0.0, 1.0, 1.0]
    # 12 tokens on average: easy prompts at 4 tokens, hard ones at 20 — EM 1.0 where a uniform cap of 12 gets 0.5
    assert alloc.budget("e1 x") == 4 and alloc.budget("h1 x x x x x") == 20
    assert alloc.predicted()["em"] == pytest.approx(1.0)
    assert alloc.predicted()["mean_tokens"] == pytest.approx(12.0)


def test_a_tighter_target_mixes_the_marginal_group_to_meet_it_exactly():
    alloc = Allocator.fit(two_kinds(), grid=[4, 10, 20, 40], target=8.0, prior_strength=0.0)
    assert alloc.predicted()["mean_tokens"] == pytest.approx(8.0)
    assert alloc.predicted()["em"] == pytest.approx(0.5 + 0.5 * 0.5)  # half the hard prompts at 20
    hard = [alloc.budget(f"h{i} x x x x x") for i in range(400)]
    assert set(hard) == {4, 20} and 0.42 < hard.count(20) / 400 < 0.58
    assert alloc.budget("h7 x x x x x") == alloc.budget("h7 x x x x x")  # a prompt's side is fixed


def test_targets_outside_the_fit_get_the_cheapest_or_the_most_accurate():
    alloc = Allocator.fit(two_kinds(), grid=[4, 10, 20, 40], target=1.0, prior_strength=0.0)
    assert alloc.budget("h1 x x x x x") == 4
    alloc.set_target(500.0)
    assert alloc.mu == alloc.mu_min and alloc.budget("h1 x x x x x") == 20  # ties on EM go to the fewer tokens


def test_shrinkage_pulls_sparse_cells_toward_the_pooled_share():
    records = two_kinds() + [{"prompt": "r x x x x x x x x", "budget": 4, "tokens": 4, "correct": False}]
    alloc = Allocator.fit(records, grid=[4, 10, 20, 40], target=12.0, prior_strength=2.0)
    g = F.group_of(9, alloc.edges)
    assert 0.0 < alloc.em[g][0] < 0.5  # one wrong answer does not make the cell 0.0


def test_observe_holds_the_target_when_the_mix_shifts_to_hard_prompts():
    alloc = Allocator.fit(two_kinds(), grid=[4, 10, 20, 40], target=8.0, prior_strength=0.0)
    rng = random.Random(0)
    served = []
    for i in range(600):  # easy first, then hard only: the fitted mix (half and half) no longer holds
        prompt = f"e{i} x" if i < 200 else f"h{i} x x x x x"
        b = alloc.budget(prompt)
        tokens = min(b, 4) if prompt.startswith("e") else min(b, 20)
        served.append(tokens)
        alloc.observe(tokens, correct=rng.random() < 0.5)
    windows = [sum(served[i:i + 100]) / 100 for i in range(0, 501)]
    assert max(windows) <= 1.1 * 8.0
    assert sum(served[-200:]) / 200 == pytest.approx(8.0, abs=1.0)  # the hard tail still spends T
    assert alloc.running()["requests"] == 600 and 0.4 < alloc.running()["em"] < 0.6


def test_save_and_load_give_the_same_decisions(tmp_path):
    alloc = Allocator.fit(two_kinds(), grid=[4, 10, 20, 40], target=8.0)
    alloc.save(tmp_path)
    again = Allocator.load(tmp_path)
    prompts = [f"h{i} x x x x x" for i in range(50)] + ["e1 x"]
    assert [again.budget(p) for p in prompts] == [alloc.budget(p) for p in prompts]
    assert json.loads((tmp_path / A.ALLOCATOR_FILE).read_text())["version"] == A.FORMAT_VERSION
    with pytest.raises(FileNotFoundError, match="budget-conditioned"):
        Allocator.load(tmp_path / "nowhere")


def test_prompt_with_budget_states_it_as_a_tag_or_a_system_sentence():
    alloc = Allocator.fit(two_kinds(), grid=[4, 10, 20, 40], target=12.0, prior_strength=0.0)
    assert alloc.prompt_with_budget("e1 x") == "budget 4 : e1 x"
    alloc.tag_unit = 2
    assert alloc.prompt_with_budget("e1 x", budget=21) == "budget 10 : e1 x"  # units, rounded down
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "h1 x x x x x"}]
    assert alloc.prompt_with_budget(chat, budget=20)[1]["content"] == "budget 10 : h1 x x x x x"  # the tag wraps
    alloc.tag, alloc.tag_unit = "Answer in at most {budget} tokens.", 1  # a sentence: the system message
    stated = alloc.prompt_with_budget(chat, budget=20)
    assert stated[0]["content"] == "Be brief. Answer in at most 20 tokens." and len(stated) == 2
    assert alloc.prompt_with_budget([{"role": "user", "content": "q"}], budget=5)[0]["role"] == "system"
    assert alloc.prompt_with_budget("q", budget=5) == "q\n\nAnswer in at most 5 tokens."


def test_records_off_the_grid_are_refused():
    with pytest.raises(ValueError, match="not on the grid"):
        F.fit_tables([{"feature": 2, "budget": 7, "correct": True, "tokens": 3}], [4, 10], [2.0])


def test_repeated_prompts_keep_their_share_of_traffic():
    records = []
    for b in (4, 20):
        records += [{"prompt": "e x", "budget": b, "tokens": 4, "correct": True}] * 3  # one easy prompt, asked 3 times
        records.append({"prompt": "h x x x x x", "budget": b, "tokens": min(b, 20), "correct": b >= 20})
    alloc = Allocator.fit(records, grid=[4, 20], target=8.0, prior_strength=0.0)
    assert alloc.weights == [0.75, 0.25]  # not one half each: the easy prompt is three quarters of the rows
    assert alloc.budget("h x x x x x") == 20  # 0.75·4 + 0.25·20 = 8 fits


def test_budgets_the_policy_does_not_keep_are_never_stated():
    records = []
    for i in range(10):
        records.append({"prompt": f"h{i} x x", "budget": 10, "tokens": 14, "correct": True})  # overshoots 10
        records.append({"prompt": f"h{i} x x", "budget": 20, "tokens": 14, "correct": True})
        records.append({"prompt": f"h{i} x x", "budget": 4, "tokens": 4, "correct": False})
    alloc = Allocator.fit(records, grid=[4, 10, 20], target=14.0, prior_strength=0.0)
    assert alloc.em[0][1] == -1.0 and alloc.budget("h1 x x") == 20  # same answer, stated honestly
    assert F.adherence_table([dict(r, feature=3) for r in records], [4, 10, 20], [3.0]) == [[1.0, 0.0, 1.0]]
    loose = Allocator.fit(records, grid=[4, 10, 20], target=14.0, prior_strength=0.0, min_adherence=0.0)
    assert loose.budget("h1 x x") == 10


def test_decisions_in_flight_share_the_token_bucket():
    alloc = Allocator.fit(two_kinds(), grid=[4, 10, 20, 40], target=8.0, prior_strength=0.0,
                          online=A.OnlineSettings(window=10))
    for _ in range(9):  # nine easy answers observed: 36 tokens of the window's 80
        alloc.decide("e1 x")
        alloc.observe(4)
    # a batch of four hard requests decided before any answer comes back: the bucket has 44 tokens left,
    # so two of them may be answered at 20 and the rest must be cheap
    budgets = [alloc.decide(f"h{i} x x x x x")["budget"] for i in range(4)]
    assert sum(min(b, 20) for b in budgets) <= 8.0 * 10 - 4 * 9 + 4 * 1e-9 + 20  # the last one may fill the window
    assert budgets.count(4) >= 2
    assert len(alloc.pending) == 4
    for b in budgets:
        alloc.observe(min(b, 20))
    assert alloc.pending == [] and alloc.running()["requests"] == 13


def test_tokens_that_buy_next_to_nothing_are_not_bought_however_much_room():
    records = []
    for i in range(100):  # budget 40 buys one more right answer in a hundred for 30 more tokens
        records.append({"prompt": f"h{i} x", "budget": 10, "tokens": 10, "correct": i > 0})
        records.append({"prompt": f"h{i} x", "budget": 40, "tokens": 40, "correct": True})
    alloc = Allocator.fit(records, grid=[10, 40], target=100.0, prior_strength=0.0)
    assert alloc.budget("h1 x") == 10  # 0.01 / 30 tokens < mu_min
    alloc.mu_min = 0.0
    alloc.set_target(100.0)
    assert alloc.budget("h1 x") == 40


# -- cross-validated regularisation -------------------------------------------------------------------------
def _noisy_records(rows_per_group: int, seed: int = 0) -> list[dict]:
    """Prompts of 1..12 words whose true P(correct | b) is the same for every length: any difference
    between groups is noise, so shrinking to the pooled share should win on held-out prompts."""
    import random

    rng = random.Random(seed)
    out = []
    for length in range(1, 13):
        for i in range(rows_per_group):
            prompt = " ".join(["w"] * length) + f" ?{i}"
            for b, p in ((5, 0.3), (10, 0.6), (20, 0.9)):
                out.append({"prompt": prompt, "budget": b, "tokens": b, "correct": rng.random() < p})
    return out


def test_cross_validation_shrinks_noise_and_keeps_prompts_in_one_fold():
    from train.allocator_fit import cross_validate, fold_of

    records = _noisy_records(4)
    chosen = cross_validate(records, [5, 10, 20], folds=4)
    assert chosen["prior_strength"] >= 8.0  # groups differ by noise only: shrink hard
    assert chosen["scores"]["8,12"] < chosen["scores"]["0,12"]
    folds = {}
    for r in records:
        folds.setdefault(r["prompt"], set()).add(fold_of(r["prompt"], 4))
    assert all(len(f) == 1 for f in folds.values())
    with pytest.raises(ValueError, match="folds >= 2"):
        cross_validate(records, [5, 10, 20], folds=1)
    with pytest.raises(ValueError, match="too few distinct prompts"):
        cross_validate(records[:3], [5, 10, 20], folds=5)


def test_fit_with_cv_uses_the_chosen_regularisation():
    from train.allocator import Allocator
    from train.allocator_fit import cross_validate

    records = _noisy_records(4)
    chosen = cross_validate([dict(r) for r in records], [5, 10, 20], folds=4)
    fitted = Allocator.fit([dict(r) for r in records], [5, 10, 20], 10.0, cv_folds=4)
    assert len(fitted.edges) <= chosen["max_groups"]
    plain = Allocator.fit([dict(r) for r in records], [5, 10, 20], 10.0)
    spread = lambda a: max(row[0] for row in a.em) - min(row[0] for row in a.em)  # noqa: E731
    assert spread(fitted) < spread(plain)  # shrunk harder: the groups' p(g, 5) closer together


def test_a_batch_known_in_advance_is_served_for_its_own_mix():
    """Fitted on half easy, half hard: a batch of three hard prompts to one easy served with the fitted plan
    spends over T; the copy solved for the batch's mix holds T, and the fitted allocator is left unchanged."""
    alloc = Allocator.fit(two_kinds(), grid=[4, 10, 20, 40], target=10.0, prior_strength=0.0)
    batch = [f"e{i} x" for i in range(100)] + [f"h{i} x x x x x" for i in range(300)]

    def spent(a):
        return sum(min(a.budget(p), 4 if p.startswith("e") else 20) for p in batch) / len(batch)

    assert spent(alloc) > 1.2 * 10.0  # the plan for half and half buys 20 tokens for 3 hard prompts in 4
    served = alloc.for_batch(batch)
    assert served.weights == [0.25, 0.75] and alloc.weights == [0.5, 0.5]
    assert served.predicted()["mean_tokens"] == pytest.approx(10.0)
    assert spent(served) == pytest.approx(10.0, rel=0.05)
    hard_at_20 = lambda a: sum(a.budget(p) >= 20 for p in batch[100:]) / 300  # noqa: E731
    assert hard_at_20(alloc) > 0.65 and 0.4 < hard_at_20(served) < 0.6  # 100·4 + 300·(4 + 16f) = 10·400: f = 1/2


def test_doctests():
    import doctest

    from train import allocator_fit

    assert doctest.testmod(A).failed == 0 and doctest.testmod(allocator_fit).failed == 0
