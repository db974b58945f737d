"""A real (tiny) scheduled run: one run, three budgets, a front; any point exported and reloaded with PEFT."""

import json

import pytest
from conftest import SMOKE

from train.export import main as export_main
from train.run import main

SCHEDULE = ["--budget_schedule", "0.9,0.7,0.5", "--max_steps", "6", "--eval_every", "0", "--save_steps", "100"]


@pytest.fixture(scope="module")
def scheduled_run(tiny_base, tmp_path_factory):
    cache, _ = tiny_base
    out = tmp_path_factory.mktemp("schedule") / "run"
    summary = main(SMOKE + SCHEDULE + ["--cache_dir", str(cache), "--output_dir", str(out)])
    return out, summary


def test_each_stage_end_writes_a_front_point_with_its_checkpoint(scheduled_run):
    out, summary = scheduled_run
    front = json.loads((out / "frontier.json").read_text())
    base = summary["base"]["mean_tokens"]
    assert [p["step"] for p in front["points"]] == [2, 4, 6]
    assert [p["target"] for p in front["points"]] == pytest.approx([0.9 * base, 0.7 * base, 0.5 * base], abs=1e-3)
    for p in front["points"]:
        assert (out / p["checkpoint"] / "adapter_model.safetensors").exists()
        assert (out / p["checkpoint"] / "dual_state.json").exists()
    assert front["shipped_step"] == 6 and summary["selected_step"] == 6
    assert (out / "frontier.png").stat().st_size > 1000
    assert [p["step"] for p in summary["frontier"]] == [2, 4, 6]


def test_the_controller_moved_to_each_stage_target(scheduled_run):
    out, summary = scheduled_run
    base = summary["base"]["mean_tokens"]
    for step, next_ratio in ((2, 0.7), (4, 0.5)):  # saved after the stage end moved T: a resume trains the next stage
        dual = json.loads((out / "front" / f"step-{step}" / "dual_state.json").read_text())
        assert dual["settings"]["target"] == pytest.approx(next_ratio * base)
    assert summary["constraint"]["target"] == pytest.approx(0.5 * base)  # the shipped (last) stage's T


def test_export_a_middle_point_reproduces_its_greedy_val_completions(scheduled_run, tmp_path):
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    from train import tasks
    from train.generation import generate

    out, summary = scheduled_run
    assert export_main([str(out), "--out", str(tmp_path / "mid"), "--step", "4"]) == 0
    card = (tmp_path / "mid" / "README.md").read_text()
    assert "**this export**" in card and card.count("| 2 |") == 1  # the whole front is listed
    exported = json.loads((tmp_path / "mid" / "terse_summary.json").read_text())
    assert exported["selected_step"] == 4
    model = AutoPeftModelForCausalLM.from_pretrained(tmp_path / "mid")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "mid")
    _, val = tasks.get("arith").load(0, 20, None)
    texts = generate(model, tokenizer, [r["prompt"] for r in val], 40)[0]
    assert texts == json.loads((out / "front" / "step-4" / "val_completions.json").read_text())


def test_export_by_budget_picks_the_best_point_within_it_and_refuses_an_impossible_one(scheduled_run, tmp_path):
    out, summary = scheduled_run
    points = summary["frontier"]
    budget = max(p["mean_tokens"] for p in points)
    best = max((p for p in points if p["mean_tokens"] <= budget), key=lambda p: (p["em"], -p["mean_tokens"]))
    assert export_main([str(out), "--out", str(tmp_path / "b"), "--budget", str(budget)]) == 0
    assert json.loads((tmp_path / "b" / "terse_summary.json").read_text())["selected_step"] == best["step"]
    assert export_main([str(out), "--out", str(tmp_path / "c"), "--budget", "0.5"]) == 2
    assert not (tmp_path / "c").exists()


def test_resume_mid_schedule_continues_the_schedule(tiny_base, scheduled_run, tmp_path):
    cache, _ = tiny_base
    out, first = scheduled_run
    resumed = tmp_path / "resumed"
    import shutil

    shutil.copytree(out, resumed)
    (resumed / "frontier.json").write_text(json.dumps({
        **json.loads((out / "frontier.json").read_text()),
        "points": json.loads((out / "frontier.json").read_text())["points"][:2]}))  # as if killed after stage 2
    shutil.copytree(out / "front" / "step-4", resumed / "checkpoint-4", dirs_exist_ok=True)
    summary = main(SMOKE + SCHEDULE + ["--cache_dir", str(cache), "--output_dir", str(resumed),
                                       "--resume_from_checkpoint", str(resumed / "checkpoint-4")])
    assert [p["step"] for p in summary["frontier"]] == [2, 4, 6]
    assert summary["frontier"][2]["target"] == pytest.approx(first["frontier"][2]["target"])
