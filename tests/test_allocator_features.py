"""The allocator's feature families (length, a column, a text model), their cross-validation and JSON round trip."""

import doctest
import random

import pytest

from train import allocator_features
from train.allocator import Allocator
from train.allocator_fit import cross_validate_features
from train.allocator_features import (ColumnFeature, LengthFeature, TextModel, auc,
                                      fit_feature, load_feature)

GRID = [5, 10, 20, 40]


def records_where_the_words_say_it(n=120, seed=0):
    """Prompts of random length; a 'proof' question needs 20 tokens, a 'name' question is right at 5.
    Length says nothing; the text says everything; the `kind` column says it too."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = "proof" if i % 2 else "name"
        prompt = f"{kind} question {i} " + " ".join(rng.choice(["alpha", "beta", "gamma"]) for _ in range(rng.randint(1, 12)))
        need = 20 if kind == "proof" else 5
        for b in GRID:
            out.append({"prompt": prompt, "budget": b, "tokens": min(b, need), "correct": b >= need,
                        "columns": {"kind": kind}})
    return out


def test_doctests():
    assert doctest.testmod(allocator_features).failed == 0


def test_auc_counts_ties_half_and_needs_both_classes():
    assert auc([0.2, 0.8], [0, 1]) == 1.0 and auc([0.8, 0.2], [0, 1]) == 0.0
    assert auc([0.5, 0.5], [0, 1]) == 0.5
    assert auc([0.1, 0.9], [1, 1]) is None


def test_length_feature_counts_words_of_text_and_chat():
    f = LengthFeature()
    assert f.values(["a b c", [{"role": "user", "content": "a b"}, {"role": "user", "content": "c"}]]) == [3.0, 3.0]


def test_column_feature_maps_seen_values_and_sends_unseen_ones_to_the_commonest():
    recs = [{"prompt": "p", "columns": {"src": s}} for s in ("web", "web", "docs")]
    f = ColumnFeature.fit(recs, "src")
    assert f.known == ["docs", "web"] and f.fallback == "web"
    assert f.values(["x", "y", "z"], [{"src": "docs"}, {"src": "web"}, {"src": "forum"}]) == [0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="pass each request's columns"):
        f.values(["x"])
    with pytest.raises(ValueError, match="no calibration row has that column"):
        ColumnFeature.fit(recs, "lang")
    with pytest.raises(ValueError, match="allocator_feature_column"):
        fit_feature("column", recs, GRID)


def test_text_model_reads_the_words_and_is_monotone_in_the_budget():
    model = TextModel.fit(records_where_the_words_say_it(), GRID)
    easy, hard = "name question 999 beta", "proof question 998 beta"
    assert model.scores([easy])[0] > model.scores([hard])[0]
    assert model.offsets == sorted(model.offsets)  # more room never predicts a worse answer
    assert [model.probability(hard, b) for b in GRID] == sorted(model.probability(hard, b) for b in GRID)
    back = TextModel.from_dict(model.to_dict())
    assert back.scores([easy, hard]) == model.scores([easy, hard])
    constant = TextModel.fit([{"prompt": "a", "budget": 5, "correct": True}] * 3, GRID)
    assert constant.scores(["anything"]) == [0.0]


def test_cross_validation_ranks_the_families_by_held_out_brier():
    report = cross_validate_features(records_where_the_words_say_it(), GRID, column="kind", folds=4)
    fam = report["families"]
    assert fam["length"]["brier"] > fam["text"]["brier"] + 0.05  # length says nothing here
    assert fam["column"]["brier"] < 0.01 and fam["column"]["auc"] > 0.99  # the column says it exactly
    assert report["best"] in ("column", "text") and fam[report["best"]]["brier"] <= fam["text"]["brier"]
    without_column = cross_validate_features(records_where_the_words_say_it(), GRID, folds=4)
    assert "skipped" in without_column["families"]["column"] and without_column["best"] == "text"


def test_allocator_with_the_text_feature_round_trips_through_json_and_serves_hard_prompts_more(tmp_path):
    recs = records_where_the_words_say_it()
    feature = fit_feature("text", recs, GRID)
    alloc = Allocator.fit([dict(r) for r in recs], GRID, target=12.5, prior_strength=0.0, max_groups=4,
                          feature_of=feature, tag="Answer in at most {budget} tokens.")
    easy, hard = "name question 999 beta beta", "proof question 998 beta beta"
    assert alloc.decide(easy)["budget"] == 5 and alloc.decide(hard)["budget"] >= 20
    back = Allocator.load(alloc.save(tmp_path))
    assert back.feature["kind"] == "text" and back.decide(easy) == alloc.decide(easy)
    assert back.prompt_with_budget("q", 5) == "q\n\nAnswer in at most 5 tokens."
    assert "pickle" not in (tmp_path / "allocator.json").read_text()


def test_column_allocator_needs_the_requests_column(tmp_path):
    recs = records_where_the_words_say_it()
    alloc = Allocator.fit([dict(r) for r in recs], GRID, target=12.5, prior_strength=0.0,
                          feature_of=fit_feature("column", recs, GRID, column="kind"))
    assert alloc.decide("anything", {"kind": "name"})["budget"] == 5
    assert alloc.decide("anything", {"kind": "proof"})["budget"] >= 20
    back = Allocator.load(alloc.save(tmp_path))
    assert back.decide("x", {"kind": "proof"})["budget"] == alloc.decide("x", {"kind": "proof"})["budget"]


def test_a_missing_extra_or_an_unknown_feature_is_one_clear_line(monkeypatch):
    with pytest.raises(ValueError, match="unknown feature 'embedding'"):
        load_feature({"kind": "embedding"})
    assert isinstance(load_feature(None), LengthFeature)  # allocator.json files written before features
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("no sklearn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ImportError, match=r"pip install 'terse\[allocator\]'"):
        load_feature({"kind": "text", "model": {}})
