"""The budget-tagged task: tags, mode ranges and the warm-start / RL rows."""

import pytest

from train import tasks
from train.tasks import chain, chain_budget as cb


def test_every_budget_in_range_asks_for_exactly_one_mode_the_longest_that_fits():
    for d in range(1, cb.MAX_OPS + 1):
        for b in range(cb.MIN_BUDGET, cb.MAX_BUDGET + 1):
            owners = [m for m in cb.distinct_modes(d) if cb.mode_range(d, m)[0] <= b <= cb.mode_range(d, m)[1]]
            full_top = cb.mode_range(d, "full")[1]
            assert len(owners) == (1 if b <= full_top else 0), (d, b)
            if owners:
                assert owners[0] == cb.mode_for_budget(d, b)
                assert chain.mode_tokens(d, owners[0]) <= b


def test_pairs_that_write_nothing_are_direct():
    assert cb.distinct_modes(1) == ["direct", "steps", "full"]
    assert cb.distinct_modes(3) == ["direct", "pairs", "steps", "full"]
    with pytest.raises(ValueError, match="another's"):
        cb.mode_range(2, "pairs")


def test_tag_states_the_budget_in_words_the_tokenizer_knows():
    assert cb.tag_prompt("7 + 5 ?", 22) == "budget 22 : 7 + 5 ?"
    words = set(cb.vocabulary())
    for b in (cb.MIN_BUDGET, 21, cb.MAX_BUDGET):
        assert set(cb.tag_prompt("7 + 5 ?", b).split()) <= words
    with pytest.raises(ValueError, match="outside"):
        cb.tag_prompt("7 + 5 ?", cb.MAX_BUDGET + 1)


def test_warm_start_rows_tag_half_with_a_fitting_trace_and_keep_the_rest():
    task = tasks.get("chain_budget")
    train = cb.build_split("train", 0, tasks.word_count, size=400)
    rows = task.sft_rows(train)
    tagged = [r for r in rows if r["prompt"].startswith("budget")]
    assert 0.35 < len(tagged) / len(rows) < 0.65
    for r in tagged:
        b = int(r["prompt"].split()[1])
        mode = r["completion"].split()[0]
        assert mode == cb.mode_for_budget(r["difficulty"], b)
        assert len(r["completion"].split()) + 1 <= b  # words + end of sequence fit the budget
        assert r["completion"].split()[-1] == r["answer"]
    assert rows == task.sft_rows(train)  # the same split gives the same tags


def test_rl_rows_carry_their_budget_for_the_reward():
    train = cb.build_split("train", 0, tasks.word_count, size=200)
    ds = tasks.get("chain_budget").rl_dataset(train)
    assert set(ds.column_names) == {"prompt", "answer", "difficulty", "token_budget"}
    for row in ds:
        assert row["prompt"] == f"budget {int(row['token_budget'])} : " + row["prompt"].split(" : ", 1)[1]
        assert cb.RL_BUDGET_RANGE[0] <= row["token_budget"] <= cb.RL_BUDGET_RANGE[1]


def test_same_prompts_as_chain_easy():
    from train.tasks import chain_easy

    assert [r["prompt"] for r in cb.build_split("val", 1, tasks.word_count)] == \
        [r["prompt"] for r in chain_easy.build_split("val", 1, tasks.word_count)]
