"""A real (tiny) end-to-end run: warm start → GRPO + LoRA with the dual controller → summary + adapter."""

import json
from pathlib import Path

import pytest

from train.run import main, parse_args

ROOT = Path(__file__).resolve().parent.parent

SMOKE = [
    "--warm_start_steps", "40", "--val_size", "20", "--max_steps", "4", "--per_device_train_batch_size", "16",
    "--num_generations", "4", "--max_completion_length", "40", "--report_to", "none", "--save_steps", "2",
    "--logging_steps", "1", "--torch_threads", "2", "--disable_tqdm", "true", "--dual_lr", "0.5",
]


@pytest.mark.parametrize("recipe", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_recipe_parses(recipe):
    script_args, training_args, model_args = parse_args(["--config", str(recipe)])
    assert script_args.task and training_args.output_dir and model_args.model_name_or_path


def test_cli_overrides_the_recipe():
    script_args, training_args, _ = parse_args(["--max_steps", "7", "--constraint", "none", "--output_dir", "x/y"])
    assert (training_args.max_steps, script_args.constraint, training_args.output_dir) == (7, "none", "x/y")


def test_grpo_smoke_run_writes_summary_adapter_and_dual_state(tiny_base, tmp_path):
    cache, _ = tiny_base
    out = tmp_path / "run"
    summary = main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(out)])

    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["steps"] == 4
    for key in ("base", "final"):
        assert 0.0 <= on_disk[key]["em"] <= 1.0 and on_disk[key]["mean_tokens"] > 0
    assert on_disk["constraint"]["mode"] == "budget"
    assert on_disk["constraint"]["target"] == pytest.approx(0.5 * on_disk["base"]["mean_tokens"])
    assert on_disk["lambda"] == summary["lambda"] and 0.0 <= on_disk["lambda"] <= 0.24
    assert {"oracle_mean_tokens", "wall_seconds", "wandb_dir"} <= set(on_disk)

    # the controller's state travels with every checkpoint, and its metrics land in trainer_state.json
    ckpt = out / "checkpoint-4"
    dual = json.loads((ckpt / "dual_state.json").read_text())
    assert dual["lam"] == pytest.approx(on_disk["lambda"]) and dual["updates"] == 4
    history = json.loads((ckpt / "trainer_state.json").read_text())["log_history"]
    lambdas = [h["dual/lambda"] for h in history if "dual/lambda" in h]
    assert len(lambdas) == 4 and lambdas[-1] == pytest.approx(dual["lam"])

    # the adapter is a PEFT LoRA adapter that loads onto the base
    from peft import AutoPeftModelForCausalLM

    adapter = AutoPeftModelForCausalLM.from_pretrained(out / "adapter")
    assert adapter.peft_config["default"].r == 16
    assert (out / "adapter" / "tokenizer.json").exists()


def test_em_only_and_rloo_run(tiny_base, tmp_path):
    cache, _ = tiny_base
    summary = main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(tmp_path / "em"), "--constraint", "none",
                            "--max_steps", "2", "--save_strategy", "no"])
    assert summary["lambda"] == 0.0 and summary["steps"] == 2
    summary = main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(tmp_path / "rloo"), "--algorithm", "rloo",
                            "--max_steps", "2", "--save_strategy", "no"])
    assert summary["algorithm"] == "rloo" and summary["steps"] == 2
