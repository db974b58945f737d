"""launch/research/feature_value.py: each feature family's allocator served from a run's sweep, against length."""

import json

from train.allocator import Allocator


def _fake_run(tmp_path):
    """A finished conditioned run's files: calibration records, the adapter's allocator, the base, the sweep.
    Half the prompts are hard (right only at budget 16) but as long as the easy ones, which are right at any
    budget and fill three quarters of it: length cannot tell them apart, the word "hard" can."""
    def rows(prefix, n):
        return [f"{'hard' if i % 2 else 'easy'} {prefix}{i} ?" for i in range(n)]

    def answers(prompts):
        return [{"prompt": p, "budget": b, "tokens": min(b, 12) if p.startswith("hard") else 3 * b // 4,
                 "correct": b >= (12 if p.startswith("hard") else 3)} for p in prompts for b in (4, 8, 16)]

    calibration, sweep = answers(rows("c", 60)), answers(rows("v", 40))
    (tmp_path / "adapter").mkdir()
    Allocator.fit([dict(r) for r in calibration], [4, 8, 16], target=8.0).save(tmp_path / "adapter")
    (tmp_path / "allocator_records.json").write_text(json.dumps(calibration))
    (tmp_path / "summary.json").write_text(json.dumps({"base": {"em": 1.0, "mean_tokens": 20.0}}))
    (tmp_path / "front_val_sweep.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sweep))


def test_the_text_feature_buys_em_where_length_is_blind(tmp_path, capsys):
    from launch.research.feature_value import main

    _fake_run(tmp_path)
    assert main([str(tmp_path), "--ratios", "0.4", "--out", str(tmp_path / "value.json")]) == 0
    report = json.loads((tmp_path / "value.json").read_text())
    at = report["by_ratio"]["0.4"]  # T = 8 tokens
    assert at["length"]["em"] == 0.75 and at["length"]["mean_tokens"] <= 8.0 * 1.05  # one group: half the hard right
    assert at["text"]["em"] > at["length"]["em"] and abs(at["text"]["vs_length"]["em_diff"] - (at["text"]["em"] - 0.75)) < 1e-9
    assert at["text"]["vs_length"]["em_ci"][0] >= 0.0 and at["text"]["vs_length"]["n"] == 40
    assert report["cv"]["families"]["text"]["brier"] < report["cv"]["families"]["length"]["brier"]
    assert "text: Brier" in capsys.readouterr().out


def test_without_a_sweep_it_names_the_command_that_makes_one(tmp_path):
    import pytest

    from launch.research.feature_value import main

    _fake_run(tmp_path)
    (tmp_path / "front_val_sweep.jsonl").unlink()
    with pytest.raises(SystemExit, match="--front"):
        main([str(tmp_path)])
