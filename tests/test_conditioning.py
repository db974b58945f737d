"""`--budget_conditioned true` on any task and model: the wrapped task, the warm start's pieces, and a 2-step
run on own data (a CSV) with a tiny random model whose tokenizer reads any text."""

import doctest
import json
from pathlib import Path

import pytest

from train import conditioning
from train.budget_statement import BudgetStatement
from train.conditioning import ConditionedTask, adherence_by_budget, is_calibration, sft_examples, tag_answers
from train.distill_answers import instructed, parse_instructions

ROOT = Path(__file__).resolve().parent.parent
CAPITALS = ROOT / "tests" / "fixtures" / "own_data" / "capitals.csv"


def test_doctests():
    assert doctest.testmod(conditioning).failed == 0


def test_instructions_go_to_the_text_or_the_last_user_message():
    assert instructed("Q?", None) == "Q?"
    assert instructed("Q?", "Be brief.") == "Q?\n\nBe brief."
    chat = [{"role": "user", "content": "Q?"}]
    assert instructed(chat, "Be brief.") == [{"role": "user", "content": "Q?\n\nBe brief."}] and chat[0]["content"] == "Q?"
    assert parse_instructions("a.| b. |") == [None, "a.", "b."] and parse_instructions("") == [None]


def test_sft_examples_state_the_tagged_budget_as_text_or_chat():
    tagged = [{"prompt": "Q?", "completion": " Paris", "budget": 4},
              {"prompt": [{"role": "user", "content": "Q?"}], "completion": "Paris", "budget": 8}]
    text, chat = sft_examples(tagged, BudgetStatement())
    assert text == {"prompt": "Q?\n\nAnswer in at most 4 tokens.", "completion": " Paris"}
    assert chat["prompt"][0] == {"role": "system", "content": "Answer in at most 8 tokens."}
    assert chat["completion"] == [{"role": "assistant", "content": "Paris"}]


def test_tag_answers_tags_each_right_answer_where_it_is_the_longest_that_fits():
    samples = [{"prompt": "q", "completion": c, "tokens": n, "correct": ok}
               for c, n, ok in [("a", 3, True), ("bb", 5, True), ("wrong", 2, False), ("long", 99, True), ("a2", 3, True)]]
    tags = {(t["completion"], t["budget"]) for seed in range(20) for t in tag_answers(samples, [4, 8, 16], seed)}
    assert tags == {("a", 4), ("bb", 8), ("bb", 16)}  # one answer per length; 99 fits no budget; wrong dropped
    other = [{"prompt": "p", "completion": "x", "tokens": 9, "correct": True}]
    assert [t["budget"] for t in tag_answers(samples + other, [4, 8, 16])][-1] == 16  # prompts are tagged apart


def test_budget_ranges_cover_every_budget_from_the_shortest_right_answer_up():
    from train.conditioning import budget_ranges

    assert budget_ranges([4, 10, 40], [5, 10, 15, 20, 40, 80]) == [[5], [10, 15, 20], [40, 80]]
    assert budget_ranges([6, 7], [5, 10]) == [[], [10]]  # the longer answer fits the same budgets: it is preferred
    grid = list(range(5, 101, 5))
    covered = sorted(b for r in budget_ranges([4, 12, 31, 77], grid) for b in r)
    assert covered == grid  # no budget of the grid left unstated


def test_adherence_by_budget():
    recs = [{"budget": 4, "tokens": 3, "correct": True}, {"budget": 4, "tokens": 6, "correct": False},
            {"budget": 8, "tokens": 8, "correct": True}]
    out = adherence_by_budget(recs)
    assert out["4"] == {"n": 2, "em": 0.5, "adherence": 0.5, "mean_tokens": 4.5} and out["8"]["adherence"] == 1.0


def test_conditioned_task_holds_out_calibration_rows_and_states_sampled_budgets():
    from train import tasks

    inner = tasks.get("arith")
    train_rows, _ = inner.load(seed=0)
    task = ConditionedTask(inner, BudgetStatement(), seed=3).with_grid([4, 8, 16, 32])
    held = task.calibration_rows(train_rows)
    assert 0.1 < len(held) / len(train_rows) < 0.3
    assert not {r["prompt"] for r in held} & {r["prompt"] for r in task.learning_rows(train_rows)}
    ds = task.rl_dataset(train_rows)
    assert set(ds["token_budget"]) <= {4.0, 8.0, 16.0, 32.0} and len(set(ds["token_budget"])) == 4
    for row in ds.select(range(5)):
        assert row["prompt"].endswith(f"Answer in at most {int(row['token_budget'])} tokens.")
        assert not is_calibration(row["prompt"].split("\n\n")[0])
    assert task.rl_dataset(train_rows)["token_budget"] == ds["token_budget"]  # the seed fixes the budgets
    assert task.name == "arith" and task.vocabulary() == inner.vocabulary()  # the rest is the wrapped task's
    assert task.budget_tag() == {"tag": "Answer in at most {budget} tokens.", "tag_unit": 1}
    with pytest.raises(ValueError, match="grid is not set"):
        ConditionedTask(inner).budget_grid()


def test_budget_conditioned_options_are_checked():
    from train.run import parse_args

    for argv, message in [
        (["--budget_conditioned", "true", "--budget_prompt_template", "Be brief."], "must contain"),
        (["--budget_conditioned", "true", "--budget_grid", "8;16"], "comma-separated"),
        (["--budget_conditioned", "true", "--adherence_target", "0"], "adherence_target"),
        (["--budget_conditioned", "true", "--overshoot_price", "-1"], "overshoot_price"),
        (["--budget_conditioned", "true", "--learned_budget", "true"], "turn off learned_budget"),
        (["--allocator_feature", "embedding"], "allocator_feature must be"),
        (["--allocator_feature", "column"], "needs allocator_feature_column"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_args(argv)


@pytest.fixture(scope="module")
def conditioned_run(byte_lm, tmp_path_factory):
    """A 2-step `--budget_conditioned true` run on the capitals CSV with the random byte-level model."""
    from train.run import main

    tmp_path = tmp_path_factory.mktemp("conditioned")
    out = tmp_path / "run"
    summary = main([
        "--budget_conditioned", "true", "--model_name_or_path", str(byte_lm), "--dataset_name", str(CAPITALS),
        "--prompt_column", "Quiz item", "--answer_column", "Expected reply", "--answer_check", "text",
        "--val_size", "6", "--use_peft", "true", "--lora_target_modules", "all-linear", "--lora_r", "4",
        "--distill_rows", "12", "--distill_samples", "1", "--distill_steps", "2", "--conditioning_report_rows", "3",
        "--budget_grid", "2,4,8", "--allocator_fit_rows", "8", "--allocator_feature", "auto", "--allocator_cv_folds", "2",
        "--max_steps", "2", "--per_device_train_batch_size", "4", "--num_generations", "2", "--max_completion_length", "8",
        "--report_to", "none", "--save_strategy", "steps", "--save_steps", "2", "--logging_steps", "1", "--torch_threads", "2",
        "--cache_dir", str(tmp_path / "cache"), "--output_dir", str(out), "--disable_tqdm", "true",
    ])
    return tmp_path, out, summary


def test_two_steps_on_own_csv_with_a_random_byte_level_model(conditioned_run):
    """The whole path: golds (the random model is never right) teach the warm start, RL prices overshoot by
    the adherence-held λ, the allocator is fitted on calibration rows, val is served through it."""
    from train.allocator import Allocator

    tmp_path, out, summary = conditioned_run
    assert summary["steps"] == 2
    report = json.loads((out / "conditioning.json").read_text())
    assert report["grid"] == [2, 4, 8] and set(report["before_rl"]) == {"2", "4", "8"}
    assert report["by_instruction"]["(gold answer)"]["em"] == 1.0 and report["examples"] >= 1
    assert summary["conditioning"]["adherence_target"] == 0.95
    served = summary["final"]
    assert 0.0 <= served["adherence"] <= 1.0 and served["allocator"]["grid"] == [2, 4, 8]
    assert served["allocator"]["feature"] in ("length", "text")
    alloc = Allocator.load(out / "adapter" / "allocator.json")
    assert (out / "export" / "allocator.json").exists()  # served beside the exported adapter
    assert alloc.prompt_with_budget("Q?", 8) == "Q?\n\nAnswer in at most 8 tokens."
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    steps = [h for h in history if "dual/target" in h]
    assert len(steps) == 2 and all(h["dual/target"] == 0.95 and 0 <= h["dual/batch_adherence"] <= 1 for h in steps)
    cached = sorted(p.name for p in (tmp_path / "cache" / "conditioned").iterdir())
    assert len(cached) == 2 and cached[1].startswith("samples-")  # the warm start and its samples are cached


def test_the_samples_are_cached_apart_from_the_tagging_and_sft(tmp_path, monkeypatch):
    """A new tagging rule or SFT setting reuses the base model's samples; a new sampling setting does not."""
    from types import SimpleNamespace

    from train import conditioning

    calls = []

    def fake_sample(ctx, rows):
        calls.append(ctx.script_args.distill_temperature)
        return [{"prompt": r["prompt"], "completion": " x", "tokens": 2, "correct": False, "instruction": None}
                for r in rows]

    monkeypatch.setattr(conditioning, "sample_answers", fake_sample)
    args = SimpleNamespace(distill_instructions="Be brief.", distill_samples=1, distill_temperature=0.7,
                           distill_every_budget=False, distill_steps=10)
    ctx = SimpleNamespace(script_args=args, training_args=SimpleNamespace(seed=0), model_args=SimpleNamespace(),
                          model=None, tokenizer=None, model_path="m", max_new=8)
    rows = [{"prompt": "Q1?"}, {"prompt": "Q2?"}]
    first = conditioning._cached_samples(ctx, rows, tmp_path)
    args.distill_every_budget, args.distill_steps = True, 50
    assert conditioning._cached_samples(ctx, rows, tmp_path) == first and calls == [0.7]
    args.distill_temperature = 1.0
    conditioning._cached_samples(ctx, rows, tmp_path)
    assert calls == [0.7, 1.0] and len(list(tmp_path.glob("samples-*.json"))) == 2
    scored = [{**r, "answer": "x", "answer_check": "contains"} for r in rows]  # another check scores them anew
    conditioning._cached_samples(ctx, scored, tmp_path)
    assert calls == [0.7, 1.0, 1.0] and len(list(tmp_path.glob("samples-*.json"))) == 3


def test_the_front_from_one_sweep_matches_serving(conditioned_run, capsys):
    """`python -m train.evaluate RUN --front`: a row per grid budget and per T; every served figure read from
    the sweep equals what serving through the allocator returns (greedy), and the PNG is written."""
    from train.evaluate import cli

    tmp_path, out, summary = conditioned_run
    report_file = tmp_path / "front.json"
    assert cli([str(out), "--front", "--out", str(report_file)]) == 0
    front = json.loads(report_file.read_text())["models"][str(out)]["front"]
    assert list(front["per_budget"]) == ["2", "4", "8"] and [s["ratio"] for s in front["served"]] == [0.3, 0.4, 0.5, 0.6, 0.7]
    assert (tmp_path / "front.png").stat().st_size > 1000
    assert "best single budget within T" in capsys.readouterr().out
    # The sweep is kept: the served figures at any T are recomputed from it without generating again.
    from train.allocator import Allocator
    from train.front import served_from_sweep

    sweep = [json.loads(line) for line in (tmp_path / "front_sweep.jsonl").read_text().splitlines()]
    prompts = list({json.dumps(r["prompt"], sort_keys=True): r["prompt"] for r in sweep}.values())
    assert len(sweep) == 3 * len(prompts) and front["sweep"].endswith("front_sweep.jsonl")
    again = served_from_sweep(sweep, [{"prompt": p} for p in prompts], Allocator.load(out / "adapter"),
                              front["served"][1]["target"])
    assert again["em"] == front["served"][1]["em"] and again["mean_tokens"] == front["served"][1]["mean_tokens"]


def test_front_served_figures_are_the_sweeps_answers_at_the_allocators_budgets():
    from train.allocator import Allocator
    from train.allocator_features import fit_feature
    from train.front import best_uniform, front, per_budget

    rows = [{"prompt": f"{'hard' if i % 2 else 'easy'} q{i}"} for i in range(20)]
    records = [{"prompt": r["prompt"], "budget": b, "tokens": min(b, 9 if "hard" in r["prompt"] else 3),
                "correct": b >= (9 if "hard" in r["prompt"] else 3)} for r in rows for b in (4, 8, 16)]
    table = per_budget(records)
    assert table[4] == {"em": 0.5, "mean_tokens": 3.5, "adherence": 1.0, "n": 20}
    assert best_uniform(table, 6.0)["budget"] == 16 and best_uniform(table, 5.9)["budget"] == 4  # ties: fewer tokens
    assert best_uniform(table, 3.0) is None
    alloc = Allocator.fit([dict(r) for r in records], [4, 8, 16], target=6.0, prior_strength=0.0,
                          feature_of=fit_feature("text", records, [4, 8, 16]))
    report = front(records, rows, alloc, {"em": 0.5, "mean_tokens": 20.0}, ratios=(0.3, 0.6))
    at_6, at_12 = report["served"]
    assert at_12["em"] == 1.0 and at_12["mean_tokens"] == 6.0  # every prompt at its own need: hard 16, easy 4
    assert at_6["mean_tokens"] <= 6.0 + 1e-9 and at_6["em"] >= at_6["uniform"]["em"]


def test_chain_easy_supplies_its_traces_as_right_answers_of_every_length():
    from train import tasks
    from train.generation import is_right

    task = tasks.get("chain_easy")
    rows = [r for r in task.load(seed=0)[0] if r["difficulty"] == 3][:5]
    answers = task.budget_answers(rows)
    assert len({a["tokens"] for a in answers if a["prompt"] == rows[0]["prompt"]}) >= 3  # several lengths
    for a in answers:
        row = next(r for r in rows if r["prompt"] == a["prompt"])
        assert is_right(a["completion"], row) and a["tokens"] == len(a["completion"].split()) + 1  # words + EOS


def test_task_capabilities_are_protocols_not_attribute_probes():
    from train import tasks
    from train.conditioning import ConditionedTask

    chain_easy, chain_budget = tasks.get("chain_easy"), tasks.get("chain_budget")
    wrapped = ConditionedTask(chain_easy, BudgetStatement(), seed=0)
    assert isinstance(chain_budget, tasks.BudgetConditioned) and isinstance(wrapped, tasks.BudgetConditioned)
    assert not isinstance(chain_easy, tasks.BudgetConditioned) and not isinstance(tasks.get("arith"), tasks.BudgetConditioned)
    assert isinstance(chain_easy, tasks.HasBudgetAnswers) and not isinstance(tasks.get("arith"), tasks.HasBudgetAnswers)
    assert isinstance(chain_easy, tasks.Generated) and all(isinstance(t, tasks.Task) for t in (chain_easy, wrapped))


def test_the_warm_start_cache_key_covers_the_adapters_shape():
    """A run asking for another LoRA rank (or alpha, or target modules) must not be handed a cached adapter of
    another shape; the same settings find the same cache."""
    from train.conditioning import distill_key
    from train.run import parse_args

    rows = [{"prompt": "q1"}, {"prompt": "q2"}]

    def key(*argv):
        script_args, training_args, model_args = parse_args(["--budget_conditioned", "true", *argv])
        return distill_key("builtin:arith-tiny", script_args, training_args, model_args, rows)

    base = key("--lora_r", "16")
    assert key("--lora_r", "16") == base
    assert len({base, key("--lora_r", "64"), key("--lora_r", "16", "--lora_alpha", "64"), key("--distill_steps", "7"),
                key("--lora_r", "16", "--lora_target_modules", "q_proj")}) == 5
