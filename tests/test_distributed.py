"""Two processes (accelerate, gloo on CPU): every rank holds the same λ and budget-model weights every step."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import SMOKE

ROOT = Path(__file__).resolve().parent.parent


def test_two_processes_hold_identical_lambda_and_budget_model(tiny_base, tmp_path):
    cache, _ = tiny_base
    out = tmp_path / "ddp"
    i = SMOKE.index("--torch_threads")
    args = SMOKE[:i] + SMOKE[i + 2 :]  # one thread per process instead
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ROOT / "launch/accelerate/cpu.yaml"),
           "--num_processes", "2", str(ROOT / "train" / "run.py"), *args, "--torch_threads", "1",
           "--learned_budget", "true", "--cache_dir", str(cache), "--output_dir", str(out), "--save_strategy", "no"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # the CPU config, also on a machine with a GPU
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    traces = [[json.loads(line) for line in (out / "dual_trace" / f"rank{r}.jsonl").read_text().splitlines()]
              for r in (0, 1)]
    assert len(traces[0]) == len(traces[1]) == 4
    for a, b in zip(*traces, strict=True):
        assert a == b  # λ, integrator, smoothed constraint and the budget model's weight digest, bit for bit
    assert json.loads((out / "summary.json").read_text())["steps"] == 4
