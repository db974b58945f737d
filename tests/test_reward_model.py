"""Human feedback as a reward term: fit a reward model from ratings, then score completions with it."""

import json

import pytest

from launch.train_reward_model import RatingsError, main, preference_pairs, read_ratings
from rewards import build_rewards


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A randomly initialised tiny Llama and its word-level tokenizer, saved (safetensors)."""
    import torch

    from train.base_model import WarmStartSettings, build_model, build_tokenizer
    from train.tasks import chain

    torch.manual_seed(0)
    tokenizer = build_tokenizer(chain.vocabulary())
    model = build_model(tokenizer, WarmStartSettings())
    path = tmp_path_factory.mktemp("lm")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def ratings_file(path):
    """Raters prefer the worked answer to the bare one, and a wrong answer least."""
    rows = []
    for a in range(1, 9):
        for b in range(1, 4):
            prompt, answer = f"{a} + {b} ?", a + b
            rows += [{"prompt": prompt, "completion": f"steps {a} + {b} = {answer} ; #### {answer}", "score": 5},
                     {"prompt": prompt, "completion": f"direct #### {answer}", "score": 3},
                     {"prompt": prompt, "completion": f"direct #### {answer + 1}", "score": 1}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def test_ratings_become_preference_pairs_per_prompt():
    rows = [{"prompt": "p", "completion": "a", "score": 2.0}, {"prompt": "p", "completion": "b", "score": 1.0},
            {"prompt": "p", "completion": "c", "score": 1.0}, {"prompt": "q", "completion": "d", "score": 9.0}]
    assert preference_pairs(rows) == [{"chosen": "p a", "rejected": "p b"}, {"chosen": "p a", "rejected": "p c"}]
    with pytest.raises(RatingsError, match="no preference pair"):
        preference_pairs(rows[3:])


@pytest.mark.parametrize(
    "line, message",
    [("not json", ":2: not JSON"), ('{"prompt": "p", "completion": "c"}', ":2: missing score"),
     ('{"prompt": "p", "completion": "c", "score": "high"}', ":2: score must be a finite number"),
     ('{"prompt": 3, "completion": "c", "score": 1}', ":2: prompt and completion must be strings"),
     ('[1, 2]', ":2: expected an object")],
)
def test_a_bad_row_is_named_by_its_line(tmp_path, line, message, capsys):
    path = tmp_path / "r.jsonl"
    path.write_text('{"prompt": "p", "completion": "c", "score": 1}\n' + line + "\n")
    with pytest.raises(RatingsError, match=message):
        read_ratings(path)
    assert main(["--ratings", str(path), "--base", "unused", "--out", str(tmp_path / "rm")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "rm").exists()


def test_a_fitted_reward_model_ranks_as_the_raters_did_and_serves_as_a_reward(tiny_lm, tmp_path):
    import torch

    torch.manual_seed(0)
    out = tmp_path / "rm"
    assert main(["--ratings", str(ratings_file(tmp_path / "r.jsonl")), "--base", str(tiny_lm), "--out", str(out),
                 "--epochs", "15", "--learning_rate", "1e-3", "--batch_size", "16"]) == 0
    # (3e-3 passed with transformers 5.23 and overshot with 5.24: bare answers scored as high as worked ones;
    # at 1e-3 the ranking holds with a wide margin at 10, 15 and 20 epochs)
    assert (out / "model.safetensors").exists()
    (func,) = [r.func for r in build_rewards({"reward_model": {"path": str(out), "normalize": False}})]
    prompts = [f"{a} + 2 ?" for a in (2, 5)] * 3
    completions = [f"steps {a} + 2 = {a + 2} ; #### {a + 2}" for a in (2, 5)] + [f"direct #### {a + 2}" for a in (2, 5)] \
        + [f"direct #### {a + 3}" for a in (2, 5)]
    scores = func(completions=completions, prompts=prompts)
    worked, bare, wrong = scores[0:2], scores[2:4], scores[4:6]
    # the raters' strongest preference, on every prompt (telling a right bare answer from a wrong one would
    # need the arithmetic, which a randomly initialised 0.9M-parameter scorer does not learn from 24 prompts)
    assert min(worked) > max(bare + wrong)
    (normalised,) = [r.func for r in build_rewards({"reward_model": {"path": str(out)}})]
    z = normalised(completions=completions, prompts=prompts)
    assert sum(z) == pytest.approx(0.0, abs=1e-6) and z[0] > z[4]


def test_a_reward_model_that_is_not_there_is_named(tmp_path):
    (func,) = [r.func for r in build_rewards({"reward_model": {"path": str(tmp_path / "nope")}})]
    with pytest.raises(OSError, match="cannot load a reward model"):
        func(completions=["a"], prompts=["p"])
