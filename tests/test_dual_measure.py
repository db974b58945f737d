"""The controller's measurement in budget mode: the sampled completions' mean, or the served (greedy) length."""

import json
from types import SimpleNamespace

import pytest
from conftest import SMOKE

from train.run import main, parse_args
from train.trainer import DualControlMixin


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dual_measure", "median"], "dual_measure must be one of"),
        (["--constraint", "em_floor", "--em_tolerance", "0.02", "--dual_measure", "greedy"], "measures EM"),
    ],
)
def test_bad_measure_is_named(argv, message):
    with pytest.raises(ValueError, match=message):
        parse_args(argv)


def test_greedy_measure_decodes_each_prompt_once_and_averages_its_lengths(tiny_base):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.generation import generate

    _, model_dir = tiny_base
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    fake = SimpleNamespace(
        measure="greedy", model=model, processing_class=tokenizer, _step_prompts=[], _dual_window=torch.zeros(4),
        budget_model=None, em_index=0, args=SimpleNamespace(max_completion_length=24),
        accelerator=SimpleNamespace(gather=lambda t: t, unwrap_model=lambda m: m, num_processes=1),
    )
    prompts = ["3 + 4 ?", "3 + 4 ?", "9 - 2 + 1 ?", "3 + 4 ?"]  # GRPO repeats each prompt per generation
    model.train()
    DualControlMixin._record_batch(fake, torch.ones(4, 1), prompts, [[1, 2]] * 4, prompts)
    DualControlMixin._record_batch(fake, torch.ones(2, 1), prompts[:2], [[1, 2]] * 2, prompts[:2])  # 2nd micro-batch
    assert fake._step_prompts == ["3 + 4 ?", "9 - 2 + 1 ?"]
    expected = generate(model, tokenizer, ["3 + 4 ?", "9 - 2 + 1 ?"], 24)[1]
    assert DualControlMixin._greedy_tokens(fake) == pytest.approx(sum(expected) / 2)
    assert fake._step_prompts == [] and DualControlMixin._greedy_tokens(fake) is None  # consumed once per step
    assert model.training  # the measurement leaves the policy in training mode


def test_a_greedy_measured_run_feeds_the_controller_the_greedy_length(tiny_base, tmp_path):
    cache, _ = tiny_base
    out = tmp_path / "greedy"
    main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(out), "--max_steps", "2", "--dual_measure", "greedy",
                  "--dual_ema", "0", "--budget_ratio", "0.5"])
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    steps = [h for h in history if "dual/greedy_tokens" in h]
    assert len(steps) == 2
    for h in steps:  # with no smoothing the controller's measurement is exactly the greedy length
        assert h["dual/constraint"] == pytest.approx(h["dual/greedy_tokens"])
        assert 1 <= h["dual/greedy_tokens"] <= 40


def test_the_adherence_measurement_counts_answers_within_their_rows_budget():
    """Adherence mode's measurement: answers within their own row's `token_budget`, over every answer."""
    import torch

    from train.dual import DualController, DualSettings

    fake = SimpleNamespace(measure="sampled", trace=False, model=SimpleNamespace(training=True), _dual_window=torch.zeros(4),
                           budget_model=None, em_index=0, accelerator=SimpleNamespace(gather=lambda t: t))
    ids = [[1] * 3, [1] * 5, [1] * 8, [1] * 8]
    DualControlMixin._record_batch(fake, torch.ones(4, 1), ["p"] * 4, ids, ["p"] * 4, [4.0, 4.0, 8.0, 16.0])
    assert fake._dual_window.tolist() == [24.0, 4.0, 4.0, 3.0]  # 3, 8 and 8 fit 4, 8 and 16; 5 overshoots 4
    fake.controller = DualController(DualSettings(mode="adherence", target=0.95, ema=0.0, warmup_steps=0))
    fake._tokens_ema, fake._metrics = None, {"train": __import__("collections").defaultdict(list)}
    fake._apply_lambda = fake._trace_rank_state = lambda: None
    fake._greedy_tokens = lambda: None
    DualControlMixin._dual_step(fake)
    assert fake.controller.smoothed == 0.75 and fake._metrics["train"]["dual/batch_adherence"] == [0.75]
    assert fake.controller.lam > 0  # 75% kept against 95%: overshoot gets a price
