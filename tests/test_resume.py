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


def test_sigkill_mid_training_then_resume(smoke_run, tiny_base, tmp_path):
    """kill -9 a real training process after its first checkpoint; `--resume_from_checkpoint true` picks the
    last complete checkpoint and the λ sequence and step count continue exactly as without the kill."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from train.files import COMPLETE_MARKER

    uninterrupted, _ = smoke_run
    cache, _ = tiny_base
    out = tmp_path / "killed"
    args = SMOKE + ["--cache_dir", str(cache), "--output_dir", str(out), "--eval_every", "2", "--max_steps", "4"]
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, str(root / "train" / "run.py"), *args], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (out / "checkpoint-2" / COMPLETE_MARKER).exists():
        assert proc.poll() is None and time.time() < deadline, "training ended or stalled before its first checkpoint"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()  # it really died mid-run

    summary = main(args + ["--resume_from_checkpoint", "true"])
    assert summary["steps"] == 4
    assert lambdas(out / "checkpoint-4") == pytest.approx(lambdas(uninterrupted / "checkpoint-4"), rel=1e-9)
    for ckpt in out.glob("checkpoint-*"):
        assert (ckpt / COMPLETE_MARKER).exists()  # every checkpoint left behind is complete
