"""The budget-tagged task: tags, mode ranges and the warm-start / RL rows."""

import pytest

from train import tasks
from train.tasks import chain, chain_budget as cb


def test_every_budget_a_tag_states_asks_for_exactly_one_mode_the_longest_that_fits():
    for d in range(1, cb.MAX_OPS + 1):
        for b in cb.budget_grid():
            owners = [m for m in cb.distinct_modes(d) if b in cb.grid_budgets(d, m)]
            assert owners == [cb.mode_for_budget(d, b)], (d, b)
            assert chain.mode_tokens(d, owners[0]) <= b
        assert all(cb.grid_budgets(d, m) for m in cb.distinct_modes(d)), d  # every mode can be asked for


def test_pairs_that_write_nothing_are_direct():
    assert cb.distinct_modes(1) == ["direct", "steps", "full"]
    assert cb.distinct_modes(3) == ["direct", "pairs", "steps", "full"]
    with pytest.raises(ValueError, match="another's"):
        cb.mode_range(2, "pairs")


def test_tag_states_the_budget_in_units_the_tokenizer_knows():
    assert cb.tag_prompt("7 + 5 ?", 25) == "budget 5 : 7 + 5 ?"
    assert cb.tag_prompt("7 + 5 ?", 29) == "budget 5 : 7 + 5 ?"  # rounded down: never more room than asked
    words = set(cb.vocabulary())
    for b in cb.budget_grid():
        assert set(cb.tag_prompt("7 + 5 ?", b).split()) <= words
    with pytest.raises(ValueError, match="outside"):
        cb.tag_prompt("7 + 5 ?", cb.MAX_BUDGET + cb.UNIT)
    with pytest.raises(ValueError, match="outside"):
        cb.tag_prompt("7 + 5 ?", 4)


def test_warm_start_rows_tag_half_with_a_fitting_trace_and_keep_the_rest():
    task = tasks.get("chain_budget")
    train = cb.build_split("train", 0, tasks.word_count, size=400)
    rows = task.sft_rows(train)
    tagged = [r for r in rows if r["prompt"].startswith("budget")]
    assert 0.35 < len(tagged) / len(rows) < 0.65
    for r in tagged:
        b = int(r["prompt"].split()[1]) * cb.UNIT
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
        assert row["prompt"] == f"budget {int(row['token_budget']) // cb.UNIT} : " + row["prompt"].split(" : ", 1)[1]
        assert cb.RL_BUDGET_RANGE[0] <= row["token_budget"] <= cb.RL_BUDGET_RANGE[1]


def test_same_prompts_as_chain_easy():
    from train.tasks import chain_easy

    assert [r["prompt"] for r in cb.build_split("val", 1, tasks.word_count)] == \
        [r["prompt"] for r in chain_easy.build_split("val", 1, tasks.word_count)]


def test_calibration_rows_are_kept_out_of_rl_and_the_warm_start():
    task = tasks.get("chain_budget")
    train = cb.build_split("train", 0, tasks.word_count, size=3000)
    calib = {r["prompt"] for r in task.calibration_rows(train)}
    rl = {row["prompt"].split(" : ", 1)[1] for row in task.rl_dataset(train)}
    sft = {r["prompt"] for r in task.sft_rows(train) if not r["prompt"].startswith("budget")}
    assert calib and rl and not calib & rl and not calib & sft
    assert 0.1 < len(calib) / (len(calib) + len(rl)) < 0.3


def test_rl_budgets_span_the_grid_log_uniformly():
    train = cb.build_split("train", 0, tasks.word_count, size=3000)
    budgets = [r["token_budget"] for r in cb.rl_rows(train, seed=0)]
    assert set(budgets) == set(cb.budget_grid())
    share = {b: budgets.count(b) / len(budgets) for b in cb.budget_grid()}
    assert share[5] > share[10] > share[20] > share[40] > share[80]  # each budget as likely as its log width
    low = sum(v for b, v in share.items() if 20 <= b <= 40)
    high = sum(v for b, v in share.items() if 40 < b <= 80)
    assert abs(low - high) < 0.06  # about one octave each
