"""An interrupted run, resumed from its checkpoint, continues the same λ trajectory as an uninterrupted one."""

import json

import pytest

from conftest import SMOKE
from train.run import main


def lambdas(checkpoint):
    history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    return [h["dual/lambda"] for h in history if "dual/lambda" in h]


def test_resume_continues_the_lambda_sequence(smoke_run, tiny_base, tmp_path):
    uninterrupted, _ = smoke_run  # 4 steps, checkpoints at 2 and 4
    cache, _ = tiny_base
    out = tmp_path / "resumed"
    args = SMOKE + ["--cache_dir", str(cache), "--output_dir", str(out), "--eval_every", "2"]
    main(args + ["--max_steps", "2"])  # "interrupted" after step 2
    summary = main(args + ["--max_steps", "4", "--resume_from_checkpoint", "true"])

    assert summary["steps"] == 4
    expected = lambdas(uninterrupted / "checkpoint-4")
    assert len(expected) == 4 and len(set(expected)) > 1  # λ really moved
    assert lambdas(out / "checkpoint-4") == pytest.approx(expected, rel=1e-9, abs=1e-12)
    state_a = json.loads((uninterrupted / "checkpoint-4" / "dual_state.json").read_text())
    state_b = json.loads((out / "checkpoint-4" / "dual_state.json").read_text())
    for key in ("lam", "integral", "smoothed"):
        assert state_b[key] == pytest.approx(state_a[key], rel=1e-9)
    assert state_b["updates"] == state_a["updates"] == 4
