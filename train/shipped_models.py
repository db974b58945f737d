"""The built-in base models shipped with the code, so that a fresh clone's first run starts training at once.

    python -m train.base_model --list                 # what is shipped, and whether each still matches the code
    python -m train.base_model --rebuild arith        # rebuild one from scratch and rewrite its manifest

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
import os
import shutil
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
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
                "rebuild": f"python -m train.base_model --rebuild {settings['name']}"}
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# -- what today's code asks for, and rebuilding one (`python -m train.base_model --list | --rebuild NAME`) --
def expected(name: str) -> tuple[str, object, list[dict], list[dict], int]:
    """(the cache directory name the recipe's seed-0 run asks for, its settings, its warm-start rows, the val rows,
    the completion cap) as the code computes them today."""
    from dataclasses import replace

    from trl import GRPOConfig, ModelConfig, TrlParser

    from train import tasks
    from train.config import ScriptArguments
    from train.base_model import WarmStartSettings, continued_settings

    parser = TrlParser((ScriptArguments, GRPOConfig, ModelConfig))
    script_args, training_args, _ = parser.parse_args_and_config(["--config", str(REPO / SHIPPED[name])])
    task = tasks.get(script_args.task)
    train_rows, val_rows = task.load(training_args.seed, script_args.val_size, script_args.data_path)
    settings = WarmStartSettings.from_args(script_args, training_args, None)
    if getattr(task, "base_task", None):  # continued from another shipped model (chain_budget on chain_easy)
        first = replace(settings, task=task.base_task)
        first_name = first.dir_name(tasks.get(task.base_task).sft_rows(train_rows))
        settings = continued_settings(first, task, script_args.warm_start_steps, first_name)
    rows = task.sft_rows(train_rows)
    return settings.dir_name(rows), settings, rows, val_rows, training_args.max_completion_length


def measure(model_dir: Path, val_rows: list[dict], max_new: int) -> dict:
    """Greedy val EM and mean tokens of a base model (the figures its manifest carries)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.generation import evaluate

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    result = evaluate(model, tokenizer, val_rows, max_new, desc=f"val {model_dir.name}")
    return {"n": result["n"], "em": round(result["em"], 4), "mean_tokens": round(result["mean_tokens"], 2)}


def rebuild(name: str) -> Path:
    """Build `name` from scratch with today's code into SHIPPED_DIR (replacing any older copy of it) and write its
    manifest. A continued model (chain_budget) needs its starting model shipped first."""
    from dataclasses import asdict, replace

    from train.base_model import warm_start

    dir_name, settings, rows, val_rows, max_new = expected(name)
    if settings.pretrained:
        start = SHIPPED_DIR / settings.pretrained
        if verify(start):
            raise SystemExit(f"{name} continues {settings.pretrained}: rebuild that one first")
        build_settings = replace(settings, pretrained=str(start))
    else:
        build_settings = settings
    SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dir_name + ".tmp-", dir=SHIPPED_DIR))
    try:
        started = time.time()
        warm_start(tmp, build_settings, rows)
        record = json.loads((tmp / "warm_start.json").read_text())
        record["pretrained"] = settings.pretrained  # the shipped name, not this machine's path
        (tmp / "warm_start.json").write_text(json.dumps(record, indent=2))
        figures = {**measure(tmp, val_rows, max_new), "build_seconds": round(time.time() - started)}
        for old in SHIPPED_DIR.glob(f"{settings.task}-*"):
            if old.is_dir() and old != tmp:
                shutil.rmtree(old)
        final = SHIPPED_DIR / dir_name
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_manifest(final, {**asdict(settings), "name": name}, dir_name.rsplit("-", 1)[1], figures)
    print(f"{final}: val EM {figures['em']:.3f}, {figures['mean_tokens']:.1f} tokens, built in {figures['build_seconds']} s")
    return final


def main(argv=None) -> int:
    """`python -m train.base_model --list | --rebuild NAME...`: the shipped built-in base models
    (train/shipped_models.py says why they are shipped and when to rebuild)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--rebuild", nargs="+", choices=sorted(SHIPPED), help="rebuild these shipped models")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    for name in args.rebuild or []:
        rebuild(name)
    if args.list or not args.rebuild:
        for name in SHIPPED:
            dir_name = expected(name)[0]
            problem = verify(SHIPPED_DIR / dir_name) if (SHIPPED_DIR / dir_name).is_dir() else "not shipped for today's code"
            print(f"{name:14s} {dir_name}  {'ok' if problem is None else problem}")
    return 0
