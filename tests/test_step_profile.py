"""The step profile's bookkeeping (train/step_profile.py): exclusive parts, warm-up, the table — with a fake
clock, no TRL and no torch; then the scripts built on it (launch/research/bench_step.py, launch/research/random_weights_step.py,
the latter end to end with the tiny model)."""

from pathlib import Path

from train.step_profile import StepProfile, format_table

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def tick(self, seconds):
        self.now += seconds


def run_step(profile, clock, generation=2.0, reference=1.0, prep=0.5, backward=3.0, gap=0.5):
    profile.step_begin()
    with profile.part("batch prep"):
        clock.tick(prep / 2)
        with profile.part("generation"):
            clock.tick(generation)
        with profile.part("old/ref log-probs"):
            clock.tick(reference)
        clock.tick(prep / 2)
    clock.tick(gap)  # covered by no part: "other"
    with profile.part("backward"):
        clock.tick(backward)
    profile.step_end()


def test_nested_parts_are_exclusive_and_add_up_to_the_step():
    clock = Clock()
    profile = StepProfile(clock=clock, warmup=0)
    run_step(profile, clock)
    step = profile.steps[0]
    assert step["generation"] == 2.0 and step["old/ref log-probs"] == 1.0
    assert step["batch prep"] == 0.5  # its own time only: the nested parts paused its clock
    assert step["other"] == 0.5 and step["step"] == 7.0
    assert abs(sum(v for k, v in step.items() if k != "step") - step["step"]) < 1e-9


def test_warmup_steps_are_kept_out_of_the_mean():
    clock = Clock()
    profile = StepProfile(clock=clock, warmup=1)
    run_step(profile, clock, generation=20.0)  # the first step compiles: slow
    run_step(profile, clock, generation=2.0)
    run_step(profile, clock, generation=4.0)
    summary = profile.summary()
    assert summary["steps"] == 2 and summary["warmup_steps"] == 1
    assert summary["parts"]["generation"]["seconds"] == 3.0
    assert summary["step_seconds"] == 8.0 and summary["warmup_step_seconds"] == 25.0
    assert abs(sum(p["share"] for p in summary["parts"].values()) - 1.0) < 1e-3


def test_parts_outside_a_step_and_sync_calls():
    clock, calls = Clock(), []
    profile = StepProfile(clock=clock, warmup=0, sync=lambda: calls.append(clock.now))
    with profile.part("generation"):  # an evaluation between steps: not charged
        clock.tick(5.0)
    assert profile.steps == [] and calls == []
    run_step(profile, clock)
    # a sync at the step's begin and end and at both edges of each of the four parts
    assert len(calls) == 2 + 2 * 4
    assert profile.summary()["parts"]["generation"]["seconds"] == 2.0


def test_an_exception_inside_a_part_still_closes_it():
    clock = Clock()
    profile = StepProfile(clock=clock, warmup=0)
    profile.step_begin()
    try:
        with profile.part("rewards"):
            clock.tick(1.0)
            raise ValueError("a reward function failed")
    except ValueError:
        pass
    clock.tick(1.0)
    profile.step_end()
    assert profile.steps[0]["rewards"] == 1.0 and profile.steps[0]["other"] == 1.0


def test_table_puts_runs_side_by_side_with_the_speed_ratio():
    clock = Clock()
    slow, fast = StepProfile(clock=clock, warmup=0), StepProfile(clock=clock, warmup=0)
    run_step(slow, clock, generation=7.0)  # step 12 s
    run_step(fast, clock, generation=1.0)  # step 6 s
    table = format_table({"before": slow.summary(), "after": fast.summary()},
                         {"mean completion tokens": {"before": "40.0", "after": "38.5"}})
    assert "| generation | 7.000 s (58.3%) | 1.000 s (16.7%) |" in table
    assert "(speed-up 2.00×)" in table
    assert table.index("generation") < table.index("backward") < table.index("other") < table.index("**step**")
    assert table.rstrip().endswith("| mean completion tokens | 40.0 | 38.5 |")
    assert StepProfile().summary() == {"steps": 0, "parts": {}, "step_seconds": None}


# -- the scripts that use it (launch/research/bench_step.py, launch/research/random_weights_step.py) ------------------------
def test_bench_step_variants_and_their_flags(tmp_path):
    import pytest

    from launch.research.bench_step import max_steps_for, parse_variants, variant_command

    assert parse_variants("baseline, gen4") == ["baseline", "gen4"]
    with pytest.raises(ValueError, match="unknown.*'fast'"):
        parse_variants("baseline,fast")
    with pytest.raises(ValueError, match="empty"):
        parse_variants(" , ")
    command = variant_command("configs/arith.yaml", "gen4", 5, tmp_path, ["--bf16", "true"])
    joined = " ".join(command)
    assert "--steps_per_generation 4" in joined and "--step_profile true" in joined
    # one warm-up cycle of 4 steps, then 5 measured steps rounded up to whole cycles: 4 + 8
    assert "--max_steps 12" in joined and joined.endswith("--bf16 true")  # extra flags last: they win
    assert max_steps_for("baseline", 5) == 6 and max_steps_for("gen4", 8) == 12
    assert max_steps_for("gen4", 8, accumulation=4) == 9  # 4 micro-batches a step: one generation per step
    assert f"--output_dir {tmp_path / 'gen4'}" in joined


def test_generation_cycle_counts_optimizer_steps_per_generation_call():
    from types import SimpleNamespace

    from train.rl_setup import generation_cycle

    def args(spg, ga, iterations=1):
        return SimpleNamespace(steps_per_generation=spg, gradient_accumulation_steps=ga, num_iterations=iterations)

    assert generation_cycle(args(None, 1)) == 1 and generation_cycle(args(None, 8)) == 1
    assert generation_cycle(args(4, 1)) == 4 and generation_cycle(args(8, 2)) == 4
    assert generation_cycle(args(None, 1, iterations=2)) == 2


def test_random_weight_models_have_qwen25s_published_sizes():
    from launch.research.random_weights_step import parameter_count, qwen2_config

    # Qwen2.5-0.5B-Instruct: 494,032,768 parameters; 1.5B: 1,543,714,304 (tied embeddings, 151,936 tokens)
    assert parameter_count(qwen2_config("qwen2.5-0.5b")) == 494_032_768
    assert parameter_count(qwen2_config("qwen2.5-1.5b")) == 1_543_714_304


def test_random_weights_step_measures_a_recipe_end_to_end_on_cpu(tiny_base, tmp_path):
    """The Qwen2.5 recipe as written, on the scaled-down `tiny` shapes: a random model writes every completion
    to the cap (the worst case the script is for), and the record carries the step time and its parts."""
    import json

    from launch.research.random_weights_step import main

    _, tokenizer_dir = tiny_base  # the built-in model's tokenizer stands in for Qwen's
    record = main(["--recipe", str(ROOT / "configs" / "gsm8k_qwen2.5-0.5b_budget.yaml"), "--arch", "tiny",
                   "--tokenizer", str(tokenizer_dir), "--data_path", str(ROOT / "tests" / "fixtures" / "gsm8k"),
                   "--steps", "2", "--out", str(tmp_path), "--dtype", "float32", "--bf16", "false",
                   "--gradient_checkpointing", "false", "--gradient_accumulation_steps", "1",
                   "--per_device_train_batch_size", "8", "--num_generations", "4", "--max_completion_length", "6",
                   "--val_size", "2", "--torch_threads", "2", "--disable_tqdm", "true"])
    assert record["parameters"] == 9_798_208 and record["max_completion_length"] == 6
    assert record["train_mean_completion_tokens"] == 6.0  # never ends: every completion runs to the cap
    assert record["seconds_per_step"] > 0 and record["profile_shares"]["generation"] > 0
    assert json.loads((tmp_path / "random_weights_step-tiny.json").read_text()) == record
    assert (tmp_path / "model-tiny" / "model.safetensors").exists()
