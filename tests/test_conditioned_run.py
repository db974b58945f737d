"""The budget-conditioned pipeline end to end (a few steps): the tagged base model continued from chain_easy's,
RL on sampled budgets, the allocator fitted and saved with the adapter and the export, val served through it."""

import json

import pytest

from tests.conftest import SMOKE


def test_extend_vocabulary_keeps_every_known_id_and_grows_the_embeddings():
    from train.base_model import WarmStartSettings, build_model, build_tokenizer, extend_vocabulary

    tokenizer = build_tokenizer(["1", "2", "+"])
    model = build_model(tokenizer, WarmStartSettings(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32))
    grown, model = extend_vocabulary(tokenizer, model, ["1", "2", "+", "budget", ":"])
    assert all(grown.get_vocab()[w] == i for w, i in tokenizer.get_vocab().items())
    assert model.get_input_embeddings().weight.shape[0] == len(grown) == len(tokenizer) + 2
    assert grown.tokenize("budget 2 : 1 + 2") == ["budget", "2", ":", "1", "+", "2"]
    with pytest.raises(ValueError, match="would change id"):
        extend_vocabulary(tokenizer, model, ["2", "1", "+"])


def test_evaluate_allocated_reports_adherence_budgets_and_stream_windows():
    from train.allocator import Allocator, OnlineSettings
    from train.base_model import WarmStartSettings, build_model, build_tokenizer
    from train.served_eval import evaluate_allocated
    from train.tasks import chain_budget

    tokenizer = build_tokenizer(chain_budget.vocabulary())
    model = build_model(tokenizer, WarmStartSettings(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32))
    rows = [{"prompt": "3 + 4 ?", "answer": "7", "difficulty": 1}, {"prompt": "3 + 4 - 2 - 1 ?", "answer": "4",
                                                                      "difficulty": 3}] * 6
    records = [{"prompt": r["prompt"], "budget": b, "tokens": min(b, 4 * r["difficulty"]),
                "correct": b >= 4 * r["difficulty"]} for r in rows[:2] for b in (5, 15)]
    alloc = Allocator.fit(records, [5, 15], target=8.0, prior_strength=0.0, online=OnlineSettings(window=4),
                          tag_unit=5)
    served = evaluate_allocated(model, tokenizer, rows, alloc, max_new_tokens=6)
    assert served["n"] == 12 and 0.0 <= served["adherence"] <= 1.0
    assert served["per_example"]["budget"] == [alloc.budget(r["prompt"]) for r in rows]
    assert served["adherence"] == sum(n <= b for n, b in zip(served["per_example"]["tokens"],
                                                             served["per_example"]["budget"])) / 12
    assert set(served["by_difficulty"]) == {"1", "3"} and sum(v["n"] for v in served["by_budget"].values()) == 12
    streamed = evaluate_allocated(model, tokenizer, rows, alloc, max_new_tokens=6, stream_chunk=3)
    assert alloc.running()["requests"] == 12 and len(streamed["windows"]) == 12 - 4 + 1


def test_conditioned_run_fits_saves_and_serves_its_allocator(tmp_path):
    from train.allocator import ALLOCATOR_FILE, Allocator
    from train.run import main

    out = tmp_path / "run"
    summary = main(["--config", "configs/benchmark_conditioned.yaml", *SMOKE, "--warm_start_steps", "12",
                    "--cache_dir", str(tmp_path / "cache"), "--output_dir", str(out), "--max_steps", "2",
                    "--allocator_fit_rows", "12", "--allocator_grid", "5,10,25,40", "--val_size", "12"])
    final = summary["final"]
    assert final["allocator"]["grid"] == [5, 10, 25, 40] and final["allocator"]["fit_rows"] == 12
    assert final["allocator"]["target"] == pytest.approx(0.4 * summary["base"]["mean_tokens"])
    assert 0.0 <= final["adherence"] <= 1.0 and "untagged" in final
    for where in ("adapter", "export"):
        alloc = Allocator.load(out / where / ALLOCATOR_FILE)
        assert alloc.grid == [5, 10, 25, 40] and alloc.tag == "budget {budget} : {prompt}" and alloc.tag_unit == 5
    per = json.loads((out / "val_per_example.json").read_text())
    assert len(per["correct"]) == 12 and per["budget"] == [Allocator.load(out / "adapter").budget(p)
                                                           for p in per["prompts"]]
    assert any((tmp_path / "cache").glob("chain_easy-tiny-*")) and any((tmp_path / "cache").glob("chain_budget-chain_easy-tiny-*"))
