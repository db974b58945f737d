"""train/generation.py: the one rule every completion is counted by, and its doctests."""

import doctest

from train import generation


def test_doctests():
    assert doctest.testmod(generation).failed == 0


def test_a_completion_counts_up_to_and_with_its_eos_or_all_but_padding_when_cut():
    assert generation.completion_ids([7, 2, 7, 2], eos_token_id=2, pad_token_id=0) == ([7, 2], False)
    assert generation.completion_ids([2], eos_token_id=2, pad_token_id=0) == ([2], False)  # an empty answer costs 1
    assert generation.completion_ids([7, 0, 8], eos_token_id=2, pad_token_id=0) == ([7, 8], True)
    assert generation.completion_ids([7, 8], eos_token_id=None, pad_token_id=None) == ([7, 8], True)


def test_answer_f1_is_the_replys_for_text_checks_and_none_otherwise():
    padded = "Paris, London, Rome or Berlin"
    assert generation.answer_f1("Paris", {"answer": "Paris", "answer_check": "contains"}) == 1.0
    assert 0 < generation.answer_f1(padded, {"answer": "Paris", "answer_check": "contains"}) < 0.5  # listing costs F1
    assert generation.answer_f1("#### 4", {"answer": "4"}) is None


def test_decoding_draws_greedy_by_default_and_samples_by_seed(byte_lm):
    """A bare cap is greedy decoding; a sampled draw is fixed by its seed; a vote needs a temperature."""
    import pytest
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.generation import Decoding, evaluate, generate

    model, tok = AutoModelForCausalLM.from_pretrained(byte_lm), AutoTokenizer.from_pretrained(byte_lm)
    prompts = ["Q: 1+1?", "Q: capital of France?"]
    assert generate(model, tok, prompts, 6, desc="t") == generate(model, tok, prompts, Decoding(6), desc="t")
    drawn = [generate(model, tok, prompts, Decoding(6, temperature=1.0, seed=s), desc="t")[0] for s in (3, 3, 4)]
    assert drawn[0] == drawn[1] and drawn[0] != drawn[2]
    assert all(n <= 6 for n in generate(model, tok, prompts, Decoding(6, temperature=1.0), desc="t")[1])
    with pytest.raises(ValueError, match="majority vote over samples needs a sampling temperature"):
        evaluate(model, tok, [{"prompt": p, "answer": "2"} for p in prompts], Decoding(6, samples=3))
