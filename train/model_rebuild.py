"""Rebuilding the shipped built-in base models: what today's code asks for (`expected`), building one from scratch
with it (`rebuild`), and the command line.

    python -m train.model_rebuild --list               # each shipped model: ok, or why it no longer matches the code
    python -m train.model_rebuild --rebuild arith      # rebuild one from scratch and rewrite its manifest

Apart from `train/shipped_models.py` (finding and checking a shipped copy, which `train/base_model.py` needs) because
rebuilding needs `train/base_model.py` itself: one module each way, no cycle.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from train.base_model import WarmStartSettings, continued_settings, warm_start
from train.shipped_models import SHIPPED, SHIPPED_DIR, verify, write_manifest

REPO = Path(__file__).resolve().parent.parent


def expected(name: str) -> tuple[str, object, list[dict], list[dict], int]:
    """(the cache directory name the recipe's seed-0 run asks for, its settings, its warm-start rows, the val rows,
    the completion cap) as the code computes them today."""
    from dataclasses import replace

    from trl import GRPOConfig, ModelConfig, TrlParser

    from train import tasks
    from train.config import ScriptArguments
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
    """`python -m train.model_rebuild --list | --rebuild NAME...`: the shipped built-in base models
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
