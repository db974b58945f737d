import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A briefly warm-started built-in base model (shared by the slow tests of one session)."""
    import torch

    from train import tasks
    from train.base_model import WarmStartSettings, cached_base_model

    torch.set_num_threads(2)
    cache = tmp_path_factory.mktemp("cache")
    settings = WarmStartSettings(sft_steps=40)
    task = tasks.get("arith")
    train_rows, _ = task.load(seed=0)
    return cache, cached_base_model(cache, settings, task.sft_rows(train_rows))  # what run.py asks for


SMOKE = [
    "--warm_start_steps", "40", "--val_size", "20", "--max_steps", "4", "--per_device_train_batch_size", "16",
    "--num_generations", "4", "--max_completion_length", "40", "--report_to", "none", "--save_steps", "2",
    "--logging_steps", "1", "--torch_threads", "2", "--disable_tqdm", "true", "--dual_lr", "0.5",
    "--dual_warmup_steps", "0",
]


@pytest.fixture(scope="session")
def smoke_run(tiny_base, tmp_path_factory):
    """One short real GRPO run of the default recipe (4 steps), shared by the tests that inspect its outputs."""
    from train.run import main

    cache, _ = tiny_base
    out = tmp_path_factory.mktemp("smoke") / "run"
    summary = main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(out), "--eval_every", "2"])
    return out, summary
