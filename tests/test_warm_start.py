"""The warm start's settings, cache identity and the pretrained path (SmolLM2 on a benchmark task's traces)."""

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from train.base_model import WARM_START_VERSION, WarmStartSettings, cache_name
from train.run import parse_args, warm_start_settings

ROOT = Path(__file__).resolve().parent.parent
ROWS = [{"prompt": "1 + 2 =", "completion": " full 3"}, {"prompt": "2 + 2 =", "completion": " direct 4"}]


def test_a_built_in_model_keeps_the_cache_key_it_had_before_the_pretrained_fields():
    """Adding the pretrained fields must not invalidate every cached tiny model (a 9-minute warm start)."""
    settings = WarmStartSettings(seed=3, task="chain_easy", sft_steps=40)
    old = {k: v for k, v in asdict(settings).items() if k not in ("pretrained", "max_length")}
    digest = hashlib.sha256(json.dumps({**old, "version": WARM_START_VERSION}, sort_keys=True).encode())
    for row in ROWS:
        digest.update(f"{row['prompt']}\x00{row['completion']}\x01".encode())
    assert settings.key(ROWS) == digest.hexdigest()[:12]


def test_a_pretrained_start_is_keyed_by_its_config_and_named_by_its_directory(tmp_path):
    model = tmp_path / "smollm2-135m-instruct"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 576}')
    pretrained = WarmStartSettings(task="chain_easy", pretrained=str(model))
    builtin = WarmStartSettings(task="chain_easy")
    first = pretrained.key(ROWS)
    assert first != builtin.key(ROWS)
    (model / "config.json").write_text('{"hidden_size": 960}')  # another model in the same place
    assert pretrained.key(ROWS) != first
    assert WarmStartSettings(task="chain_easy", pretrained=str(model), max_length=512).key(ROWS) != pretrained.key(ROWS)
    assert cache_name(builtin) == "chain_easy-tiny"
    assert cache_name(pretrained) == cache_name(WarmStartSettings(task="chain_easy", pretrained=f"{model}/")) \
        == "chain_easy-smollm2-135m-instruct"


def test_warm_start_settings_follow_the_recipe_and_its_overrides():
    recipe = str(ROOT / "configs" / "smollm2_chain_easy.yaml")
    script_args, training_args, model_args = parse_args(["--config", recipe])
    settings = warm_start_settings(script_args, training_args, model_args.model_name_or_path)
    assert (settings.task, settings.sft_steps, settings.sft_learning_rate, settings.sft_batch_size) == \
        ("chain_easy", 600, 5e-5, 16)
    assert settings.max_length >= 64 + training_args.max_completion_length  # a 192-token `full` answer fits
    assert settings.pretrained == model_args.model_name_or_path
    script_args, training_args, _ = parse_args(["--config", recipe, "--warm_start_learning_rate", "1e-4",
                                                "--warm_start_batch_size", "8", "--seed", "2"])
    settings = warm_start_settings(script_args, training_args, "somewhere")
    assert (settings.sft_learning_rate, settings.sft_batch_size, settings.seed) == (1e-4, 8, 2)
    # the built-in model: the defaults its cache entries were built with
    script_args, training_args, _ = parse_args([])
    assert warm_start_settings(script_args, training_args, None) == \
        WarmStartSettings(seed=training_args.seed, sft_steps=script_args.warm_start_steps, task=script_args.task)


@pytest.mark.parametrize("argv, message", [
    (["--warm_start_steps", "0"], "warm_start_steps must be >= 1"),
    (["--warm_start_learning_rate", "0"], "warm_start_learning_rate must be > 0"),
    (["--warm_start_batch_size", "0"], "warm_start_batch_size must be >= 1"),
])
def test_bad_warm_start_arguments_are_named(argv, message):
    with pytest.raises(ValueError, match=message):
        parse_args(argv)


def test_a_pretrained_model_is_fine_tuned_on_the_traces_and_cached(tiny_base, tmp_path):
    """The whole pretrained path on a small stand-in: a saved model directory (the tiny warm-started model)
    is loaded, fine-tuned on the task's traces, published under `<task>-<dirname>-<key>` and reused."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train import tasks
    from train.base_model import cached_base_model

    _, source = tiny_base
    task = tasks.get("arith")
    train_rows = task.sft_rows(task.load(seed=0)[0])[:64]
    settings = WarmStartSettings(task="arith", pretrained=str(source), sft_steps=2, sft_batch_size=8,
                                 sft_learning_rate=1e-3)
    path = cached_base_model(tmp_path, settings, train_rows)
    assert path.name == f"arith-{source.name}-{settings.key(train_rows)}"
    record = json.loads((path / "warm_start.json").read_text())
    assert record["pretrained"] == str(source) and record["sft_steps"] == 2
    tuned = AutoModelForCausalLM.from_pretrained(path)
    before = AutoModelForCausalLM.from_pretrained(source)
    changed = [n for n, p in tuned.state_dict().items() if not torch.equal(p, before.state_dict()[n])]
    assert changed, "the fine-tune left every weight as it was"
    assert AutoTokenizer.from_pretrained(path).padding_side == "left"
    assert cached_base_model(tmp_path, settings, train_rows) == path  # the second call reads the cache
    assert len(list(tmp_path.iterdir())) == 1


def test_reliability_curves_of_runs_with_extra_arguments_are_kept_apart():
    """launch/compare.py hands its --extra to the curves too; a change of base model there must not read
    the curves cached for the recipe as written."""
    from train.reliability import default_path

    plain = default_path("configs/smollm2_chain_easy.yaml", 1)
    assert plain.name == "smollm2_chain_easy-s1.json"
    assert default_path("configs/smollm2_chain_easy.yaml", 1, "  ") == plain
    tuned = default_path("configs/smollm2_chain_easy.yaml", 1, "--warm_start_steps 300")
    assert tuned != plain and tuned == default_path("configs/smollm2_chain_easy.yaml", 1, "--warm_start_steps  300")
    assert tuned != default_path("configs/smollm2_chain_easy.yaml", 1, "--warm_start_steps 200")
