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
