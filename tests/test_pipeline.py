"""A real (tiny) end-to-end run: warm start → GRPO + LoRA with the dual controller → summary + adapter."""

import json
from pathlib import Path

import pytest
from conftest import SMOKE

from train.run import main, parse_args

ROOT = Path(__file__).resolve().parent.parent



@pytest.mark.parametrize("recipe", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_recipe_parses(recipe):
    import torch

    cpu = [] if torch.cuda.is_available() else ["--bf16", "false"]  # GPU recipes ask for bf16
    script_args, training_args, model_args = parse_args(["--config", str(recipe), *cpu])
    assert script_args.task and training_args.output_dir and model_args.model_name_or_path


def test_cli_overrides_the_recipe():
    script_args, training_args, _ = parse_args(["--max_steps", "7", "--constraint", "none", "--output_dir", "x/y"])
    assert (training_args.max_steps, script_args.constraint, training_args.output_dir) == (7, "none", "x/y")


def test_grpo_smoke_run_writes_summary_adapter_and_dual_state(smoke_run):
    out, summary = smoke_run

    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["steps"] == 4
    for key in ("base", "final"):
        assert 0.0 <= on_disk[key]["em"] <= 1.0 and on_disk[key]["mean_tokens"] > 0
    assert on_disk["constraint"]["mode"] == "budget"
    assert on_disk["constraint"]["target"] == pytest.approx(0.5 * on_disk["base"]["mean_tokens"])
    assert on_disk["lambda"] == summary["lambda"] and 0.0 <= on_disk["lambda"] <= 0.45
    assert {"oracle_mean_tokens", "wall_seconds", "wandb_dir"} <= set(on_disk)

    # the controller's state travels with every checkpoint, and its metrics land in trainer_state.json
    ckpt = out / "checkpoint-4"
    dual = json.loads((ckpt / "dual_state.json").read_text())
    assert dual["lam"] == pytest.approx(on_disk["lambda"]) and dual["updates"] == 4
    history = json.loads((ckpt / "trainer_state.json").read_text())["log_history"]
    lambdas = [h["dual/lambda"] for h in history if "dual/lambda" in h]
    assert len(lambdas) == 4 and lambdas[-1] == pytest.approx(dual["lam"])
    evals = [h for h in history if "eval/em" in h]  # periodic greedy val evaluation, per difficulty
    assert [h["step"] for h in evals] == [2] and {"eval/d1/em", "eval/d5/mean_tokens"} <= set(evals[0])

    # checkpoint selection: the shipped model is the evaluated checkpoint that best satisfies the budget,
    # and its final evaluation reproduces that checkpoint's periodic one (the right weights were loaded)
    records = {r["step"]: r for r in on_disk["evaluations"]}
    assert set(records) == {2, 4} and on_disk["selected_step"] in records
    chosen = records[on_disk["selected_step"]]
    assert (on_disk["final"]["em"], on_disk["final"]["mean_tokens"]) == pytest.approx((chosen["em"], chosen["mean_tokens"]))
    assert (out / f"checkpoint-{on_disk['selected_step']}").exists()  # protected from checkpoint rotation
    assert on_disk["seconds_per_step"] > 0 and 0 <= on_disk["terse_overhead_seconds_per_step"] < on_disk["seconds_per_step"]

    # the adapter is a PEFT LoRA adapter that loads onto the base
    from peft import AutoPeftModelForCausalLM

    adapter = AutoPeftModelForCausalLM.from_pretrained(out / "adapter")
    assert adapter.peft_config["default"].r == 16
    assert (out / "adapter" / "tokenizer.json").exists()


def test_a_cached_base_model_names_the_machine_that_built_it(tiny_base):
    """The warm start is not bit-reproducible across torch builds and CPU instruction sets, so the cache
    entry records what it was built with (and reliability curves copy that record)."""
    import json

    import torch

    from train.base_model import WarmStartSettings, provenance

    _, path = tiny_base
    record = json.loads((path / "warm_start.json").read_text())
    assert WarmStartSettings(**{k: v for k, v in record.items() if k != "built_with"}).sft_steps == 40
    built = provenance(path)
    assert built["torch"] == torch.__version__ and built["threads"] == 2
    assert built["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert built["device"] == ("cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(0))
    assert provenance(path.parent / "not-a-model") is None


def test_the_built_with_record_names_environment_that_moved_the_kernels(monkeypatch):
    """ATen's and MKL's dispatch can be held to a lower instruction set from the environment, which builds
    another base model; the record must say so, and say nothing when no such variable is set."""
    from train.base_model import KERNEL_DISPATCH_ENV, built_with

    for name in KERNEL_DISPATCH_ENV:
        monkeypatch.delenv(name, raising=False)
    assert built_with()["kernel_env"] == {}
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    monkeypatch.setenv("UNRELATED", "1")
    assert built_with()["kernel_env"] == {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def test_em_only_and_rloo_run_with_a_step_profile(tiny_base, tmp_path):
    cache, _ = tiny_base
    profiled = ["--max_steps", "2", "--save_strategy", "no", "--step_profile", "true"]
    summary = main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(tmp_path / "em"), "--constraint", "none",
                            *profiled])
    assert summary["lambda"] == 0.0 and summary["steps"] == 2
    summary = main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(tmp_path / "rloo"), "--algorithm", "rloo",
                            *profiled])
    assert summary["algorithm"] == "rloo" and summary["steps"] == 2
    for run in ("em", "rloo"):  # both trainers charge TRL's methods to the parts, and the parts add up
        profile = json.loads((tmp_path / run / "step_profile.json").read_text())
        assert profile["steps"] == 1 and profile["warmup_steps"] == 1 and profile["device"].split(":")[0] in ("cpu", "cuda")
        parts = profile["parts"]
        for part in ("generation", "policy forward", "backward", "optimizer", "rewards", "terse"):
            assert parts[part]["seconds"] > 0, (run, part)
        assert abs(sum(p["share"] for p in parts.values()) - 1.0) < 0.01


def test_layerwise_learning_rates_reach_the_real_optimizer(tiny_base, tmp_path, monkeypatch):
    """--lora_plus_ratio / --layer_lr_decay in a real GRPO run: the trainer's optimizer carries the groups."""
    from train import trainer as trainer_module

    seen = {}
    original = trainer_module.LayerwiseOptimizerMixin.create_optimizer

    def spy(self, model=None):
        optimizer = original(self, model)
        seen["lrs"] = sorted({round(g["lr"], 9) for g in optimizer.param_groups})
        return optimizer

    monkeypatch.setattr(trainer_module.LayerwiseOptimizerMixin, "create_optimizer", spy)
    cache, _ = tiny_base
    summary = main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(tmp_path / "lw"), "--max_steps", "2",
                            "--save_strategy", "no", "--lora_plus_ratio", "16", "--layer_lr_decay", "0.5"])
    assert summary["steps"] == 2
    lr = parse_args(SMOKE)[1].learning_rate
    assert max(seen["lrs"]) == pytest.approx(16 * lr) and min(seen["lrs"]) < lr  # B at 16×, lower layers decayed


@pytest.mark.parametrize("allocation, split", [("frontier", 1), ("knapsack", 1), ("monotone", 1), ("knapsack", 3)])
def test_frontier_allocated_budgets_run_and_ship_their_curves(tiny_base, tmp_path, allocation, split):
    """A real run with the frontier-rule (or knapsack) budget model: it learns curves online, hands budgets
    to the penalty, and ships a budget model that loads as its kind, pure for the knapsack."""
    from rewards.budgets import FrontierBudgetModel, load_budget_model

    cache, _ = tiny_base
    out = tmp_path / allocation
    summary = main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(out), "--max_steps", "3",
                            "--save_strategy", "no", "--learned_budget", "true", "--budget_allocation", allocation,
                            "--budget_kind_split", str(split)])
    assert summary["steps"] == 3
    shipped = load_budget_model(out / "adapter")
    assert isinstance(shipped, FrontierBudgetModel)
    assert shipped.frontier.pure == (allocation != "frontier")
    assert shipped.frontier.monotone == (allocation == "monotone")
    assert shipped.frontier.kind_split == split  # the kinds the knapsack solved over ship with it
    assert shipped.curve_samples > 0 and shipped.curve_count.sum() > 0  # it saw the rollouts
    assert len(shipped.pool) > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--budget_ratio", "1.5"], "budget_ratio must lie in"),
        (["--budget_tokens", "30"], "exactly one of budget_tokens and budget_ratio"),
        (["--constraint", "em_floor"], "exactly one of em_floor and em_tolerance"),
        (["--constraint", "em_floor", "--em_floor", "1.2"], "em_floor must lie in"),
        (["--constraint", "tokens"], "constraint must be one of"),
        (["--algorithm", "ppo"], "algorithm must be"),
        (["--lambda_max", "0.5"], "must be < 1"),
        (["--learned_budget", "true", "--budget_allocation", "greedy"], "budget_allocation must be one of"),
        (["--learned_budget", "true", "--budget_allocation", "monotone", "--budget_kind_split", "3"],
         "needs budget_allocation knapsack"),
        (["--budget_kind_split", "0"], "budget_kind_split must be >= 1"),
    ],
)
def test_bad_arguments_are_named(argv, message):
    with pytest.raises(ValueError, match=message):
        parse_args(argv)


def test_rewards_json_on_the_command_line(capsys):
    script_args, _, _ = parse_args(["--rewards", '{"exact_match": {}, "budget_penalty": {"weight": "dual"}}'])
    assert set(script_args.rewards) == {"exact_match", "budget_penalty"}
    with pytest.raises(SystemExit):
        parse_args(["--rewards", "{not json"])
    assert "--rewards: invalid JSONMapping value" in capsys.readouterr().err


def test_unknown_recipe_key_is_refused(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text((ROOT / "configs" / "arith.yaml").read_text() + "\nbudget_rato: 0.3\n")
    with pytest.raises(ValueError, match="budget_rato"):
        parse_args(["--config", str(recipe)])


def test_gpu_recipe_runs_one_step_on_cpu_with_the_tiny_model(tiny_base, tmp_path):
    """configs/gsm8k_qwen2.5-0.5b_budget.yaml as written, but the tiny model, local GSM8K rows, no vLLM/bf16."""
    _, model_dir = tiny_base
    summary = main([
        "--config", str(ROOT / "configs" / "gsm8k_qwen2.5-0.5b_budget.yaml"),
        "--model_name_or_path", str(model_dir), "--dtype", "float32",
        "--data_path", str(ROOT / "tests" / "fixtures" / "gsm8k"), "--val_size", "2",
        "--use_vllm", "false", "--bf16", "false", "--gradient_checkpointing", "false",
        "--max_steps", "1", "--gradient_accumulation_steps", "1", "--per_device_train_batch_size", "8",
        "--max_completion_length", "8", "--eval_every", "0", "--report_to", "none", "--save_strategy", "no",
        "--output_dir", str(tmp_path / "gsm8k"), "--torch_threads", "2",
    ])
    assert summary["steps"] == 1 and summary["task"] == "gsm8k"
    assert (tmp_path / "gsm8k" / "export" / "budget_model.json").exists()


def test_checkpoint_weights_load_into_the_final_model(smoke_run):
    import torch
    from peft import AutoPeftModelForCausalLM, get_peft_model_state_dict
    from safetensors.torch import load_file

    from train.files import load_adapter_weights

    out, _ = smoke_run
    model = AutoPeftModelForCausalLM.from_pretrained(out / "adapter")
    load_adapter_weights(model, out / "checkpoint-2")
    saved = load_file(out / "checkpoint-2" / "adapter_model.safetensors")
    loaded = get_peft_model_state_dict(model)
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)
    with pytest.raises(FileNotFoundError, match="adapter weights"):
        load_adapter_weights(model, out)


def test_evaluate_cli_ab_tests_base_against_the_run(smoke_run, tmp_path):
    from train.evaluate import cli

    out, _ = smoke_run
    report_path = tmp_path / "ab.json"
    assert cli(["base", str(out), "--size", "12", "--n_boot", "300", "--out", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    base, run = report["models"]["base"]["greedy"], report["models"][str(out)]["greedy"]
    assert report["n"] == 12 and {"median_tokens", "p90_tokens", "tokens_over_oracle", "by_difficulty"} <= set(run)
    ab = report["ab_test"]["greedy"]
    assert ab["em_diff"] == pytest.approx(run["em"] - base["em"])
    assert ab["tokens_diff"] == pytest.approx(run["mean_tokens"] - base["mean_tokens"])
    assert ab["em_ci"][0] <= ab["em_diff"] <= ab["em_ci"][1]
    assert cli([str(tmp_path / "missing")]) == 2  # a clear error, not a traceback


def test_evaluate_cli_reports_beam_search_and_majority_vote_beside_greedy(smoke_run, tmp_path):
    from train.evaluate import cli

    out, _ = smoke_run
    path = tmp_path / "decoding.json"
    assert cli(["base", str(out), "--size", "8", "--n_boot", "200", "--num_beams", "3", "--temperature", "1.0",
                "--samples", "3", "--out", str(path)]) == 0
    report = json.loads(path.read_text())
    modes = report["models"][str(out)]
    assert set(modes) == {"greedy", "beam3", "sampled", "vote3"}
    assert set(report["ab_test"]) == {"greedy", "beam3", "sampled", "vote3"}
    # a vote's cost is all its samples: three samples of at least one token each
    assert modes["vote3"]["mean_tokens"] >= 3


def test_evaluate_cli_reports_em_and_tokens_per_fold(smoke_run, tmp_path, capsys):
    from train.evaluate import cli

    out, _ = smoke_run
    path = tmp_path / "folds.json"
    assert cli([str(out), "--size", "24", "--folds", "3", "--out", str(path)]) == 0
    greedy = json.loads(path.read_text())["models"][str(out)]["greedy"]
    folds = greedy["folds"]
    n = greedy["n"]  # the smoke run's val rows (fewer than --size asks for)
    assert folds["folds"] == 3 and sum(f["n"] for f in folds["per_fold"]) == n and n > 3
    assert abs(sum(f["em"] * f["n"] for f in folds["per_fold"]) / n - greedy["em"]) < 1e-9  # folds add up
    assert "3 folds: EM" in capsys.readouterr().out


def test_evaluate_cli_vote_without_temperature_is_an_error(capsys):
    from train.evaluate import cli

    with pytest.raises(SystemExit) as exit_info:
        cli(["base", "--model", "x", "--samples", "3"])
    assert exit_info.value.code == 2
    assert "--samples needs --temperature" in capsys.readouterr().err


def test_majority_answer_takes_the_most_common_extracted_answer():
    from train.generation import majority_answer

    assert majority_answer(["#### 5", "x #### 7", "#### 7.0", "nothing"]) == "x #### 7"
    assert majority_answer(["#### 5", "#### 7"]) == "#### 5"  # a tie: the answer seen first
    assert majority_answer(["no answer", "none either"]) == "no answer"


def test_majority_answer_votes_with_the_rows_check():
    from train.generation import majority_answer

    choice = ["The answer is B.", "I'd go with (C).", "Answer: C", "C, because ..."]
    assert majority_answer(choice, "choice") == "I'd go with (C)."  # numeric would find no answer in any
    text = ["Paris", "paris.", "Lyon", "the Paris"]
    assert majority_answer(text, "text") == "Paris"  # "Paris", "paris." and "the Paris" normalise alike


def test_evaluate_cli_one_fold_is_an_error(capsys):
    from train.evaluate import cli

    with pytest.raises(SystemExit) as exit_info:
        cli(["base", "--model", "x", "--folds", "1"])
    assert exit_info.value.code == 2
    assert "--folds must be 0 (off) or at least 2" in capsys.readouterr().err


def test_smollm2_squad_recipe_runs_two_steps_on_a_fixture(tiny_base, tmp_path):
    """configs/smollm2_squad.yaml as written (contains check, dual budget, the prompt template), on 24 real SQuAD
    rows with the tiny model in float32: the preflight reports strict EM and F1 beside contains-EM."""
    import json

    _, model_dir = tiny_base
    out = tmp_path / "squad"
    summary = main([
        "--config", str(ROOT / "configs" / "smollm2_squad.yaml"), "--model_name_or_path", str(model_dir),
        "--dataset_name", str(ROOT / "tests" / "fixtures" / "squad"), "--dtype", "float32", "--bf16", "false",
        "--max_steps", "2", "--per_device_train_batch_size", "8", "--max_completion_length", "8",
        "--report_to", "none", "--save_strategy", "no", "--output_dir", str(out), "--torch_threads", "2",
    ])
    assert summary["steps"] == 2
    preflight = json.loads((out / "preflight.json").read_text())
    assert preflight["answer_check"] == "contains" and preflight["n"] == 6
    assert {"strict_em", "f1"} <= set(preflight)
