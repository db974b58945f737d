"""The shipped built-in base models (train/builtin_models/): intact, still what today's code would build, and
used by a run instead of a 900-step warm start."""

import json
import shutil

import pytest

from train import shipped_models as shipped
from train.base_model import WarmStartSettings, cached_base_model
from train.model_rebuild import expected, measure

NAMES = sorted(shipped.SHIPPED)


@pytest.mark.parametrize("name", NAMES)
def test_each_shipped_model_matches_its_manifest_and_todays_key(name):
    dir_name, settings, _, _, _ = expected(name)
    folder = shipped.SHIPPED_DIR / dir_name
    rebuild = f"python -m train.model_rebuild --rebuild {name}"
    assert folder.is_dir(), (f"the shipped {name} base model is not the one today's code builds ({dir_name}): the "
                             f"warm-start settings, the task's generator or its trace format changed. Rebuild it: {rebuild}")
    assert shipped.verify(folder) is None
    manifest = json.loads((folder / shipped.MANIFEST).read_text())
    assert manifest["name"] == dir_name and manifest["key"] == dir_name.rsplit("-", 1)[1]
    assert manifest["rebuild"] == rebuild and manifest["settings"]["sft_steps"] == settings.sft_steps
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert sizes["model.safetensors"] <= 5 * 2**20


def test_all_shipped_weights_stay_small():
    total = sum(p.stat().st_size for p in shipped.SHIPPED_DIR.rglob("*") if p.is_file())
    assert total <= 20 * 2**20


def test_a_run_gets_the_shipped_model_and_a_tampered_one_is_not_used(tmp_path, monkeypatch):
    from train import tasks

    task = tasks.get("arith")
    rows = task.sft_rows(task.load(seed=0)[0])
    cache = tmp_path / "cache"
    assert cached_base_model(cache, WarmStartSettings(), rows).parent == shipped.SHIPPED_DIR  # no warm start ran
    assert not cache.exists() or not any(cache.iterdir())
    # a copy whose weights changed by one byte fails its manifest, so the run would build instead
    dir_name = expected("arith")[0]
    copy = tmp_path / "shipped" / dir_name
    shutil.copytree(shipped.SHIPPED_DIR / dir_name, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(shipped, "SHIPPED_DIR", tmp_path / "shipped")
    assert "does not match its sha256" in shipped.verify(copy)
    assert shipped.shipped_model(dir_name) is None
    (copy / shipped.MANIFEST).unlink()
    assert shipped.shipped_model(dir_name) is None


def test_the_shipped_arith_model_is_accurate_and_wordy():
    """What the default run starts from: EM ≥ 0.99 on val at about 60 tokens (the figures in its manifest)."""
    import torch

    torch.set_num_threads(2)
    dir_name, _, _, val_rows, max_new = expected("arith")
    figures = measure(shipped.SHIPPED_DIR / dir_name, val_rows[:100], max_new)
    assert figures["em"] >= 0.99
    assert 50 <= figures["mean_tokens"] <= 70
