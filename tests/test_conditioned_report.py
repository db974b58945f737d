"""launch/conditioned.py's references and report on synthetic curves (no model)."""

import argparse
import random

import pytest

from launch import conditioned as C


def records():
    """d = 1 right at any budget (4 tokens); d = 3 right only at budget ≥ 22 (22 tokens), 10 prompts each."""
    out = []
    for i in range(10):
        for b in (4, 10, 22, 40):
            out.append({"prompt": f"a{i}", "difficulty": 1, "budget": b, "tokens": 4, "correct": True})
            out.append({"prompt": f"b{i}", "difficulty": 3, "budget": b, "tokens": 22 if b >= 22 else 4,
                        "correct": b >= 22})
    return out


def test_references_uniform_per_difficulty_and_frontier():
    refs = C.references(records(), [4, 10, 22, 40], target=8.0)
    assert refs["uniform"] == {"budget": 4, "em": 0.5, "mean_tokens": 4.0}  # 22 everywhere costs 13 > 8; ties: the first
    assert refs["per_difficulty"]["budgets"] == {1: 4, 3: 4} and refs["per_difficulty"]["em"] == 0.5
    assert refs["frontier"]["mean_tokens"] == pytest.approx(8.0)  # d = 3 mixed: 4/9 of it at 22
    assert refs["frontier"]["em"] == pytest.approx(0.5 + 0.5 * 8 / 18)
    wide = C.references(records(), [4, 10, 22, 40], target=13.0)
    assert wide["per_difficulty"]["budgets"] == {1: 4, 3: 22} and wide["frontier"]["em"] == pytest.approx(1.0)


def fake_result(seed):
    rng = random.Random(seed)
    pe = {"correct": [float(rng.random() < 0.8) for _ in range(20)], "tokens": [rng.randint(4, 30) for _ in range(20)]}
    ref = C.references(records(), [4, 10, 22, 40], target=13.0)
    target = {"target": 13.0, "references": ref, "mu": 0.01, "predicted": {},
              "served": {"em": 0.9, "mean_tokens": 12.9, "adherence": 0.99, "mean_budget": 12.0, "mean_confidence": 0.9,
                         "by_difficulty": {"1": {"em": 1.0, "mean_tokens": 4.0, "mean_budget": 4.0, "n": 10},
                                           "3": {"em": 0.8, "mean_tokens": 21.0, "mean_budget": 22.0, "n": 10}},
                         "by_budget": {}},
              "warm_start_served": {"em": 0.85, "mean_tokens": 13.5, "adherence": 0.97}}
    return {"seed": seed, "base": {"em": 1.0, "mean_tokens": 32.5},
            "targets": {"0.4": target},
            "per_example": {"untagged": pe, "0.4": {"served": pe, "warm": pe, "uniform": pe}},
            "stream": {"ratio": 0.4, "em": 0.9, "mean_tokens": 13.0, "max_window_over_T": 1.04,
                       "windows": [{"em": 1.0, "mean_tokens": 5.0}, {"em": 0.8, "mean_tokens": 13.5}]}}


def test_report_has_every_row_and_the_pooled_bootstrap():
    args = argparse.Namespace(ratios=[0.4], peer=[("terse_monotone", "/nowhere/s{seed}")])
    text = C.report([fake_result(0), fake_result(1)], args)
    for needle in ("served by the allocator", "warm start alone", "frontier", "one budget per difficulty",
                   "best uniform budget", "EM-only control", "served − uniform budget", "served − terse_monotone | — (no runs)",
                   "| 0 | 0.900 | 13.0 | 1.040 |", "adherence"):
        assert needle in text, needle
    test = C.pooled_bootstrap([fake_result(0), fake_result(1)], "0.4", lambda r, q: r["per_example"][q]["uniform"],
                              lambda r, q: r["per_example"][q]["served"])
    assert test["n"] == 40 and test["em_diff"] == 0.0  # the same answers on both sides
