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
    task = tasks.get("arith")
    train_rows, _ = task.load(seed=0)
    return cache, cached_base_model(cache, settings, task.sft_rows(train_rows))  # what run.py asks for


SMOKE = [
    "--warm_start_steps", "40", "--val_size", "20", "--max_steps", "4", "--per_device_train_batch_size", "16",
    "--num_generations", "4", "--max_completion_length", "40", "--report_to", "none", "--save_steps", "2",
    "--logging_steps", "1", "--torch_threads", "2", "--disable_tqdm", "true", "--dual_lr", "0.5",
    "--dual_warmup_steps", "0",
]


@pytest.fixture(scope="session")
def smoke_run(tiny_base, tmp_path_factory):
    """One short real GRPO run of the default recipe (4 steps), shared by the tests that inspect its outputs."""
    from train.run import main

    cache, _ = tiny_base
    out = tmp_path_factory.mktemp("smoke") / "run"
    summary = main(SMOKE + ["--cache_dir", str(cache), "--output_dir", str(out), "--eval_every", "2"])
    return out, summary


@pytest.fixture(scope="session")
def byte_lm(tmp_path_factory):
    """A randomly initialised tiny Llama whose byte-level tokenizer reads any text (a plain chat template), saved as
    safetensors: own data in any language reaches it, and a step takes well under a second."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    specials = ["<pad>", "<s>", "</s>"]
    vocab = {t: i for i, t in enumerate(specials + alphabet)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    path = tmp_path_factory.mktemp("byte_lm")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
