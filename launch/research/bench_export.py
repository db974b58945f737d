"""Benchmark: how long `train.export` takes for a SmolLM2-135M-sized model with a rank-16 LoRA adapter.

    python -m launch.research.bench_export            # prints seconds for the adapter export and with --merge

The model is built from SmolLM2-135M's configuration with random weights (no download needed); export
time does not depend on the weights' values.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path



def main() -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from train.base_model import build_tokenizer
    from train.export import ExportOptions, export
    from train.tasks import arith

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                         tie_word_embeddings=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = LlamaForCausalLM(config)
        params = sum(p.numel() for p in model.parameters())
        model.save_pretrained(tmp / "base")
        tokenizer = build_tokenizer(arith.vocabulary())
        lora = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
        peft_model = get_peft_model(LlamaForCausalLM.from_pretrained(tmp / "base"), lora)
        run = tmp / "run"
        peft_model.save_pretrained(run / "adapter", save_embedding_layers=False)
        tokenizer.save_pretrained(run / "adapter")
        (run / "summary.json").write_text(json.dumps({"base_model": str(tmp / "base")}))
        figures = {}
        for merge in (False, True):
            started = time.perf_counter()
            export(run, tmp / f"export-{merge}", ExportOptions(merge=merge))
            figures[merge] = time.perf_counter() - started
        size = sum(f.stat().st_size for f in (tmp / "export-False").glob("adapter_model.safetensors")) / 2**20
        print(f"model {params / 1e6:.1f}M params, LoRA r=16 on all linear layers ({size:.1f} MiB adapter)")
        print(f"export (adapter)          {figures[False]:.1f} s")
        print(f"export (adapter + merged) {figures[True]:.1f} s")


if __name__ == "__main__":
    main()
