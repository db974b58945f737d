"""The built-in base models shipped with the code, so that a fresh clone's first run starts training at once.

    python -m train.model_rebuild --list               # what is shipped, and whether each still matches the code
    python -m train.model_rebuild --rebuild arith      # rebuild one from scratch and rewrite its manifest

Why ship weights at all: the built-in base models are made by the project's own code (train/base_model.py, a
900-step warm start), a few MB each, and building the default one takes ~8 of a first run's ~10 minutes on a
2-core CPU. A shipped model is used only when its name — `<task>-tiny-<key>`, the key hashing the warm-start
settings and every warm-start row (`WarmStartSettings.key`) — is exactly the one the run asks for, and only
after its files match the sha256 in its manifest; anything else is built and cached as before. So a change to a
task's generator, the trace format or the warm-start settings silently stops using the shipped copy (the
tests then fail with the rebuild command, `tests/test_shipped_models.py`).

When to rebuild: after any change that moves a shipped model's key (the test says which), or to add a model to
`SHIPPED`. Rebuild on an AVX-512 CPU with torch 2.13: the same settings and data give other weights on another
instruction set (`base_model.built_with`), and the manifest records what built it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).resolve().parent / "builtin_models"
MANIFEST = "manifest.json"
# name: the recipe whose seed-0 run uses it. Seeds other than 0 build their own base model, as before.
SHIPPED = {"arith": "configs/arith.yaml", "chain_easy": "configs/benchmark_easy.yaml",
           "chain_budget": "configs/benchmark_conditioned.yaml"}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(model_dir: Path) -> str | None:
    """None when `model_dir` holds a manifest and every file it lists with that sha256, else what is wrong."""
    manifest_path = model_dir / MANIFEST
    if not manifest_path.is_file():
        return f"{model_dir}: no {MANIFEST}"
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError) as err:
        return f"{manifest_path}: unreadable ({err})"
    for name, digest in files.items():
        path = model_dir / name
        if not path.is_file():
            return f"{model_dir}: {name} is missing"
        if sha256(path) != digest:
            return f"{model_dir}: {name} does not match its sha256 in {MANIFEST}"
    return None


def shipped_model(dir_name: str) -> Path | None:
    """The shipped copy of the cache entry `dir_name` (`<task>-tiny-<key>`), if one exists and is intact."""
    candidate = SHIPPED_DIR / dir_name
    if not candidate.is_dir():
        return None
    problem = verify(candidate)
    if problem:
        logger.warning("shipped base model not used: %s (building it instead)", problem)
        return None
    return candidate


def write_manifest(model_dir: Path, settings: dict, key: str, figures: dict) -> dict:
    files = {p.name: sha256(p) for p in sorted(model_dir.iterdir()) if p.is_file() and p.name != MANIFEST}
    manifest = {"name": model_dir.name, "settings": settings, "key": key, "files": files, "val": figures,
                "rebuild": f"python -m train.model_rebuild --rebuild {settings['name']}"}
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
