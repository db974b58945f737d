"""Files a run writes and reads back: atomic JSON, complete checkpoints, a checkpoint's adapter weights.

Why apart from the trainer: the schedule, the learning-rate guard, the run's stages and the scripts write
the same files, and none of them should need TRL's trainer to do it.
"""

from __future__ import annotations

import json
import os

PREFIX_CHECKPOINT_DIR = "checkpoint"  # transformers.trainer_utils' folder prefix; a copy keeps this module torch-free
COMPLETE_MARKER = "terse_checkpoint_complete"  # written last: a checkpoint without it is half-written


def latest_complete_checkpoint(output_dir: str) -> str | None:
    """The newest `checkpoint-N` in `output_dir` that was completely written (a run killed mid-save leaves
    an incomplete one, which is skipped)."""
    if not os.path.isdir(output_dir):
        return None
    steps = []
    for name in os.listdir(output_dir):
        path = os.path.join(output_dir, name)
        if name.startswith(f"{PREFIX_CHECKPOINT_DIR}-") and os.path.exists(os.path.join(path, COMPLETE_MARKER)):
            steps.append((int(name.rsplit("-", 1)[1]), path))
    return max(steps)[1] if steps else None


def load_adapter_weights(model, checkpoint) -> None:
    """Put a checkpoint's LoRA weights into a PEFT model in place (checkpoint selection after training)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    path = os.path.join(checkpoint, "adapter_model.safetensors")
    if not os.path.exists(path):
        raise FileNotFoundError(f"selected checkpoint has no adapter weights: {path}")
    set_peft_model_state_dict(model, load_file(path))


def write_json_atomic(path: str, obj) -> None:
    """Write JSON so that a reader (or a crash) never sees a half-written file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class JsonCache:
    """One JSON result on disk under a key: `read()` gives it or None, `write(obj)` stores it atomically."""

    def __init__(self, path: str):
        self.path = path

    def read(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def write(self, obj) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        write_json_atomic(self.path, obj)


def base_eval_key(model_path: str, dtype, rows: list[dict], max_new_tokens: int) -> str:
    """What the untrained model's greedy val figures depend on: its weights (files' names, sizes and times),
    the dtype, every val row (prompt, gold, check) and the cap. Greedy decoding is deterministic, so runs that
    share these (the seeds and methods of a contest) evaluate the base model once, not once each."""
    import hashlib

    files = []
    if os.path.isdir(str(model_path)):
        for name in sorted(os.listdir(model_path)):
            stat = os.stat(os.path.join(model_path, name))
            files.append((name, stat.st_size, int(stat.st_mtime)))
    payload = [os.path.abspath(str(model_path)) if files else str(model_path), files, str(dtype), max_new_tokens,
               [[r.get("prompt"), r.get("answer"), r.get("answer_check")] for r in rows]]
    return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()[:16]


def base_eval_cache(cache_dir: str, model_path: str, dtype, rows: list[dict], max_new_tokens: int) -> JsonCache:
    """`cache_dir/base_eval/<key>.json` (the run's `cache_dir`, where its base models are cached too)."""
    return JsonCache(os.path.join(cache_dir, "base_eval", base_eval_key(model_path, dtype, rows, max_new_tokens) + ".json"))
