"""The benchmark task `chain`: modes, their lengths, correctness of every trace, fixed balanced splits."""

import random
from collections import Counter

import pytest

from rewards.exact_match import is_correct
from train import tasks
from train.tasks import arith, chain, word_count


def test_every_mode_of_every_problem_is_correct_and_as_long_as_stated():
    rng = random.Random(0)
    for d in range(1, chain.MAX_OPS + 1):
        problem = arith.make_problem(rng, d)
        for mode in chain.MODES:
            text = chain.trace_text(problem, mode)
            assert text.split()[0] == mode
            assert is_correct(text, str(problem["answer"])), (mode, text)
            assert word_count(text) + 1 == chain.mode_tokens(d, mode)  # + end of sequence


def test_folded_modes_write_fewer_running_values():
    problem = {"start": 7, "ops": [("+", 5), ("-", 9), ("+", 3)], "answer": 6, "difficulty": 3}
    assert chain.trace_text(problem, "pairs") == "pairs 3 ; #### 6"
    assert chain.trace_text(problem, "direct") == "direct #### 6"
    assert chain.trace_text(problem, "steps") == "steps 7 + 5 = 12 ; 12 - 9 = 3 ; 3 + 3 = 6 ; #### 6"
    assert chain.trace_text(problem, "full").startswith("full 7 + 5 = 12 ; check 12 - 5 = 7 ok ; 12 - 9 = 3 ;")
    with pytest.raises(ValueError, match="unknown chain mode"):
        chain.trace_text(problem, "terse")


def test_modes_get_shorter_from_full_to_direct():
    for d in range(1, chain.MAX_OPS + 1):
        lengths = [chain.mode_tokens(d, m) for m in chain.MODES]
        assert lengths == sorted(lengths, reverse=True)
    assert chain.mode_tokens(6, "full") / chain.mode_tokens(6, "direct") >= 20  # a wide range to compress


def test_splits_are_fixed_balanced_disjoint_and_hide_the_difficulty():
    task = tasks.get("chain")
    train, val = task.load(0)
    assert task.load(0)[1] == val and task.load(1)[1] != val
    counts = Counter(r["difficulty"] for r in val)
    total = sum(chain.DIFFICULTY_MIX)
    for d, weight in enumerate(chain.DIFFICULTY_MIX, start=1):  # the mix, to within one cycle
        assert abs(counts[d] - len(val) * weight / total) <= max(chain.DIFFICULTY_MIX)
    assert not {r["prompt"] for r in val} & {r["prompt"] for r in train}
    assert len({r["prompt"] for r in val}) == len(val)
    for r in val[:50]:  # the prompt is the expression: its length shows the difficulty, no label does
        assert r["prompt"].count("+") + r["prompt"].count("-") == r["difficulty"]
        assert not any(m in r["prompt"].split() for m in chain.MODES)
    modes = Counter(r["completion"].split()[0] for r in train)
    assert modes.most_common(1)[0][0] == "full" and set(modes) == set(chain.MODES)
    assert not set(r["prompt"] for r in task.rl_rows(train)) & set(r["prompt"] for r in task.sft_rows(train))


def test_chain_and_arith_are_data_path_free():
    with pytest.raises(ValueError, match="data_path"):
        tasks.get("chain").load(0, data_path="/x")


def test_reliability_curves_and_references_from_per_row_results():
    from train.reliability import curves_from, references

    rows = [{"difficulty": 1}, {"difficulty": 1}, {"difficulty": 2}, {"difficulty": 2}]
    per_mode = {"steps": ([True, True, True, True], [10, 10, 16, 16]),
                "direct": ([True, True, False, True], [4, 4, 4, 4])}
    curves = curves_from(rows, per_mode)
    assert curves == {"1": [{"mode": "steps", "mean_tokens": 10, "em": 1.0}, {"mode": "direct", "mean_tokens": 4, "em": 1.0}],
                      "2": [{"mode": "steps", "mean_tokens": 16, "em": 1.0}, {"mode": "direct", "mean_tokens": 4, "em": 0.5}]}
    refs = references(curves, {"1": 0.5, "2": 0.5}, base_tokens=20, ratios=(0.2, 0.4, 0.5))
    # T = 4: everyone direct, EM 0.75. T = 8: d=2's upgrade costs 0.5·12 = 6 mean tokens and 4 are left, so
    # 2/3 of d=2 answer in steps: EM 0.75 + 0.5·0.5·2/3. T = 10: all of d=2 in steps, EM 1.
    assert [round(p["em"], 3) for p in refs["frontier"]] == [0.75, 0.917, 1.0]
    # uniform at T = 8: cap 16 would cost 10 mean tokens, so cap 10 — d=2 stays direct: EM 0.75.
    assert [round(p["em"], 3) for p in refs["uniform"]] == [0.75, 0.75, 1.0]
    # one mode per difficulty at T = 8: d=2 in steps costs 10 mean tokens, so both direct, as uniform here
    assert [round(p["em"], 3) for p in refs["pure_frontier"]] == [0.75, 0.75, 1.0]
    # d=1 shorter than d=2 everywhere here, so the size-order constraint binds nowhere: as pure
    assert [round(p["em"], 3) for p in refs["monotone_frontier"]] == [0.75, 0.75, 1.0]


def test_mode_choice_reads_the_first_word_probabilities_per_difficulty():
    import torch

    from train.reliability import mode_choice
    from train.base_model import build_tokenizer
    from train.tasks import chain

    tokenizer = build_tokenizer(chain.vocabulary())
    full, steps = (tokenizer(m, add_special_tokens=False)["input_ids"][0] for m in ("full", "steps"))

    class LongPromptsSayFull(torch.nn.Module):  # a "policy" whose first word depends on the prompt's length
        def forward(self, input_ids, attention_mask):
            logits = torch.full((*input_ids.shape, len(tokenizer)), -30.0)
            long = attention_mask.sum(dim=1) > 6
            logits[long, -1, full] = 0.0
            logits[~long, -1, steps] = 0.0
            return type("Out", (), {"logits": logits})()

    rows = [{"prompt": "3 + 4 ?", "difficulty": 1}, {"prompt": "3 + 4 - 2 + 1 - 5 ?", "difficulty": 4}]
    choice = mode_choice(LongPromptsSayFull(), tokenizer, rows, ("full", "steps"))
    assert choice["1"] == {"full": pytest.approx(0.0, abs=1e-6), "steps": pytest.approx(1.0)}
    assert choice["4"] == {"full": pytest.approx(1.0), "steps": pytest.approx(0.0, abs=1e-6)}


def test_target_mode_reward_pays_the_frontier_mode_of_each_difficulty():
    from launch.research.check_allocation_learnable import target_mode_reward

    completions = ["full 1 + 2 = 3 ; #### 3", "steps 1 + 2 = 3 ; #### 3", "steps #### 9", "full #### 9", ""]
    got = target_mode_reward(completions, difficulty=[1, 1, 6, 6, 6], split=5, bonus=0.5)
    assert got == [0.0, 0.5, 0.0, 0.5, 0.0]


def test_allocation_score_is_zero_for_a_prompt_blind_choice_and_one_for_the_target():
    from launch.research.check_allocation_learnable import allocation_score

    blind = {str(d): {"full": 0.7, "steps": 0.3, "pairs": 0.0, "direct": 0.0} for d in range(1, 7)}
    assert allocation_score(blind, split=5) == pytest.approx(0.0)
    perfect = {str(d): {"full": float(d >= 5), "steps": float(d < 5), "pairs": 0.0, "direct": 0.0}
               for d in range(1, 7)}
    assert allocation_score(perfect, split=5) == pytest.approx(1.0)


def test_graded_task_has_chains_prompts_and_a_full_share_growing_with_length():
    from train.tasks import chain_graded

    plain = chain.build_split("val", 0, word_count)
    graded = chain_graded.build_split("val", 0, word_count)
    assert [r["prompt"] for r in graded] == [r["prompt"] for r in plain]
    assert [r["answer"] for r in graded] == [r["answer"] for r in plain]
    shares = [chain_graded.mode_mix(d) for d in range(1, chain.MAX_OPS + 1)]
    assert all(sum(s.values()) == pytest.approx(1.0) for s in shares)
    assert [s["full"] for s in shares] == sorted(s["full"] for s in shares) and shares[0]["full"] < shares[-1]["full"]
    assert all(s["full"] > max(s["steps"], s["pairs"], s["direct"]) for s in shares)  # greedy stays `full`
    train = chain_graded.build_split("train", 0, word_count)
    full_share = {d: sum(r["completion"].split()[0] == "full" for r in train if r["difficulty"] == d)
                  / sum(r["difficulty"] == d for r in train) for d in (1, chain.MAX_OPS)}
    assert full_share[chain.MAX_OPS] - full_share[1] > 0.1


def test_easy_task_starts_anywhere_so_training_sees_many_one_operation_prompts():
    from train.tasks import arith, chain_easy

    val, test, train = (chain_easy.build_split(s, 0, word_count) for s in ("val", "test", "train"))
    assert [r["prompt"] for r in val] == [r["prompt"] for r in chain_easy.build_split("val", 0, word_count)]
    assert len({r["prompt"] for r in val}) == len(val) and len({r["prompt"] for r in test}) == len(test)
    assert not {r["prompt"] for r in train} & ({r["prompt"] for r in val} | {r["prompt"] for r in test})
    one_op = {r["prompt"] for r in train if r["difficulty"] == 1}
    plain_one_op = {r["prompt"] for r in chain.build_split("train", 0, word_count) if r["difficulty"] == 1}
    assert len(one_op) > 4 * len(plain_one_op)  # the point of the task: 173 against 25 on seed 0
    assert max(int(r["prompt"].split()[0]) for r in train) > arith.MAX_OPERAND
    for row in val + train[:500]:  # every trace still computes the prompt's chain, within range
        problem_steps = row["completion"].split()
        assert problem_steps[-1] == row["answer"] and 0 <= int(row["answer"]) <= arith.MAX_VALUE
        assert row["completion"].split()[0] in chain.MODES
    counts = [sum(r["difficulty"] == d for r in val) for d in range(1, chain.MAX_OPS + 1)]
    cycle = chain._difficulty_cycle()  # the same balanced difficulty mix as `chain`
    assert counts == [sum(cycle[i % len(cycle)] == d for i in range(len(val))) for d in range(1, chain.MAX_OPS + 1)]


def test_easy_task_steps_traces_compute_the_prompt():
    from train.tasks import chain_easy

    for row in chain_easy.build_split("val", 1, word_count):
        numbers = row["prompt"].split()[:-1]
        value = int(numbers[0])
        for op, b in zip(numbers[1::2], numbers[2::2], strict=True):
            value = value + int(b) if op == "+" else value - int(b)
            assert 0 <= value <= 20
        assert str(value) == row["answer"]
