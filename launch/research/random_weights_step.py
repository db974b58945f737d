"""Measure a GPU recipe's worst case without downloading its model: peak GPU memory and seconds per step.

    python -m launch.research.random_weights_step --recipe configs/gsm8k_qwen2.5-0.5b_budget.yaml --arch qwen2.5-0.5b \
        --tokenizer .cache/terse/smollm2-135m-instruct --data_path .gpu/gsm8k --steps 4

Why random weights: the machines this project is measured on reach no model hub, and an untrained model is
the slowest case a recipe meets — it almost never samples its end-of-sequence token, so every completion
runs to `max_completion_length` and every batch is as long as the recipe allows. The architecture is
Qwen2.5's own (the shapes below are its published `config.json`: layers, widths, heads, the 151,936-token
vocabulary whose logits dominate the log-prob passes), built seeded and written as safetensors; the
tokenizer only has to turn GSM8K prompts into ids (SmolLM2's, 49,152 tokens, stands in: prompt lengths
differ from Qwen's by a few percent). The recipe runs as it is — its batch, accumulation, lengths, LoRA,
gradient checkpointing — except that generation uses transformers rather than vLLM (`--use_vllm false`;
vLLM is not installed on those machines, so **vLLM itself is not measured**), and that a short run skips
evaluations, checkpoints and W&B. Peak memory is counted from the first training step on (the baseline
evaluation before it is not part of a step); seconds per step come from `--step_profile`, warm-up step
excluded. Writes `<out>/random_weights_step-<arch>.json` and prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


# Qwen2.5's published shapes (config.json of Qwen/Qwen2.5-{0.5B,1.5B}-Instruct); `tiny` is for CPU checks.
ARCHS = {
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
}
COMMON = dict(max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6, hidden_act="silu",
              attention_dropout=0.0, use_sliding_window=False)


def qwen2_config(arch: str, tokenizer=None):
    """A `Qwen2Config` of the named shapes; the special-token ids are the stand-in tokenizer's."""
    from transformers import Qwen2Config

    if arch not in ARCHS:
        raise SystemExit(f"--arch must be one of {sorted(ARCHS)}, got {arch!r}")
    ids = {}
    if tokenizer is not None:
        ids = {"eos_token_id": tokenizer.eos_token_id, "bos_token_id": tokenizer.bos_token_id,
               "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id}
        if len(tokenizer) > ARCHS[arch]["vocab_size"]:
            raise SystemExit(f"the tokenizer has {len(tokenizer)} tokens, more than {arch}'s vocabulary")
    return Qwen2Config(**ARCHS[arch], **COMMON, **ids)


def parameter_count(config) -> int:
    """Parameters of the model `config` describes, counted on the meta device (no memory, no init)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def build_model(arch: str, tokenizer_dir: str, out: Path, seed: int) -> Path:
    """Write a seeded random-weight model of `arch` (bf16 safetensors) with the stand-in tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = out / f"model-{arch}"
    if (target / "config.json").exists():
        return target
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(qwen2_config(arch, tokenizer), dtype=torch.bfloat16)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    return target


def memory_callback(record: dict):
    """Reset CUDA's peak-memory counters when training begins and read them when it ends."""
    import torch
    from transformers import TrainerCallback

    class _Memory(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()

        def on_train_end(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
                record["peak_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
                record["peak_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 2**30, 2)
                record["gpu"] = torch.cuda.get_device_name()
                record["gpu_total_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)

    return _Memory()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", required=True, help="the GPU recipe (YAML) to measure")
    parser.add_argument("--arch", required=True, choices=sorted(ARCHS))
    parser.add_argument("--tokenizer", default=".cache/terse/smollm2-135m-instruct",
                        help="a local tokenizer directory that stands in for the model's own")
    parser.add_argument("--data_path", required=True, help="directory with the task's train.jsonl / test.jsonl")
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps (the first is warm-up)")
    parser.add_argument("--out", default="runs/random_weights")
    parser.add_argument("--seed", type=int, default=0)
    args, overrides = parser.parse_known_args(argv)
    if args.steps < 2:
        parser.error("--steps must be ≥ 2: the first step is warm-up and is not counted")
    for path, what in ((args.recipe, "--recipe"), (args.tokenizer, "--tokenizer"), (args.data_path, "--data_path")):
        if not Path(path).exists():
            parser.error(f"{what} {path}: no such file or directory")

    import torch

    from train import run

    out = Path(args.out)
    model_dir = build_model(args.arch, args.tokenizer, out, args.seed)
    config = qwen2_config(args.arch)
    record = {"arch": args.arch, "parameters": parameter_count(config), "recipe": args.recipe,
              "vllm": "off (transformers generation; vLLM not measured)", "torch": torch.__version__}
    run_dir = out / f"run-{args.arch}-{Path(args.recipe).stem}"
    argv_run = ["--config", args.recipe, "--model_name_or_path", str(model_dir), "--data_path", args.data_path,
                "--use_vllm", "false", "--max_steps", str(args.steps), "--step_profile", "true",
                "--eval_every", "0", "--val_size", "8", "--save_strategy", "no", "--report_to", "none",
                "--select_checkpoint", "false", "--output_dir", str(run_dir), "--seed", str(args.seed), *overrides]
    started = time.time()
    summary = run.main(argv_run, callbacks=[memory_callback(record)])
    profile = summary["step_profile"]
    record.update({
        "wall_seconds": round(time.time() - started, 1),
        "seconds_per_step": profile["step_seconds"],
        "warmup_step_seconds": profile["warmup_step_seconds"],
        "train_mean_completion_tokens": summary["train_mean_completion_tokens"],
        "max_completion_length": summary["max_completion_length"],
        "profile_shares": {k: v["share"] for k, v in profile["parts"].items()},
        "overrides": overrides,
    })
    (out / f"random_weights_step-{args.arch}.json").write_text(json.dumps(record, indent=2))
    for key, value in record.items():
        print(f"{key:32s} {value}", flush=True)
    return record


if __name__ == "__main__":
    main()
