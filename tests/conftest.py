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
    train_rows, _ = tasks.get("arith").load(seed=0)
    return cache, cached_base_model(cache, settings, train_rows)
