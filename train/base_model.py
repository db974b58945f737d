"""The base model: a tiny Llama warm-started to be *accurate but wordy*, built once and cached.

Why build one: the project must run end to end with no GPU and no download, so the default recipe makes
its own starting point — a word-level `PreTrainedTokenizerFast`, a Llama-architecture causal LM of a few
million parameters made from a config, and a supervised warm start with TRL's `SFTTrainer` on the task's
mixed-verbosity traces. The result is an ordinary Hugging Face model directory, so everything downstream
(GRPO, PEFT, export, vLLM) treats it like any hub model, and any hub id or local path can replace it
through `model_name_or_path`.

The same warm start also fine-tunes a *pretrained* model (`warm_start_pretrained: true`): SmolLM2 learns a
benchmark task's answer modes from the same traces, so a real pretrained LM's reliability curves (how
often it folds operations correctly "in its head") replace the tiny model's. All weights are fine-tuned
(a small instruct model learns the trace format in a few hundred steps; RL then adds LoRA on top).

The warm start is cached under `cache_dir/<hash of its settings and data>`; a directory is only published there
once complete (written to a temporary sibling, then renamed), so an interrupted warm start never leaves a
half-trained model that later runs would pick up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from train.config_groups import WARM_START_STEPS

logger = logging.getLogger(__name__)

BUILTIN_MODEL = "builtin:arith-tiny"  # the `model_name_or_path` that asks for this module's model
BUILTIN_PREFIX = "builtin:"  # `builtin:<anything>`: this module's model, warm-started on the recipe's task
BUILTIN_DIR_NAME = re.compile(r"^[a-z0-9_]+-tiny-[0-9a-f]{12}$")  # a built-in model's cache directory name
WARM_START_VERSION = 1  # bump when the code below changes in a way the settings and data don't capture


@dataclass(frozen=True)
class WarmStartSettings:
    """Everything that determines the warm-started model (and so its cache key)."""

    seed: int = 0
    task: str = "arith"  # a generated task with warm-start traces (`arith`, `chain`)
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 384
    sft_steps: int = WARM_START_STEPS
    sft_batch_size: int = 64
    sft_learning_rate: float = 3e-3
    pretrained: str | None = None  # a model path / hub id to fine-tune instead of building the tiny Llama
    max_length: int = 256  # SFT sequence cap (prompt + completion tokens)

    @classmethod
    def from_args(cls, script_args, training_args, pretrained: str | None) -> WarmStartSettings:
        """The warm start a run asks for: the built-in tiny model's, or a pretrained model's fine-tuning (a smaller
        learning rate and batch by default, and room in the SFT sequence for the recipe's completion length)."""
        defaults = cls()
        lr = script_args.warm_start_learning_rate or (5e-5 if pretrained else defaults.sft_learning_rate)
        batch = script_args.warm_start_batch_size or (16 if pretrained else defaults.sft_batch_size)
        max_length = max(defaults.max_length, 64 + training_args.max_completion_length) if pretrained else defaults.max_length
        return cls(seed=training_args.seed, sft_steps=script_args.warm_start_steps, task=script_args.task,
                   sft_learning_rate=lr, sft_batch_size=batch, pretrained=pretrained, max_length=max_length)

    def dir_name(self, train_rows: list[dict]) -> str:
        """The cache directory name of this warm start on these rows, `<cache_name>-<key>`: where it is cached,
        and the name a shipped copy must carry to be used."""
        return f"{cache_name(self)}-{self.key(train_rows)}"

    def key(self, train_rows: list[dict]) -> str:
        """Hash of these settings and of the warm-start data itself (so a change to the task's generator or
        trace format invalidates the cache without anyone remembering to bump a version). A pretrained
        starting point enters with its config.json where it is a local directory; the fields a built-in
        model does not use are left out of its key, so the built-in models' cache keys are unchanged."""
        fields = asdict(self)
        if self.pretrained is None:
            fields.pop("pretrained")
            fields.pop("max_length")
        elif BUILTIN_DIR_NAME.match(Path(self.pretrained.rstrip("/")).name):
            # a built-in model continued (chain_budget on chain_easy): its name already hashes its settings and
            # data, and where it lies (the cache or the shipped folder) must not change the key
            fields["pretrained"] = Path(self.pretrained.rstrip("/")).name
        else:
            config = Path(self.pretrained).expanduser() / "config.json"
            fields["pretrained_config"] = config.read_text() if config.exists() else None
        digest = hashlib.sha256(json.dumps({**fields, "version": WARM_START_VERSION}, sort_keys=True).encode())
        for row in train_rows:
            digest.update(f"{row['prompt']}\x00{row['completion']}\x01".encode())
        return digest.hexdigest()[:12]


def build_tokenizer(words: list[str]):
    """A word-level fast tokenizer over `words` (space separated), with pad/eos/unk specials."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate(specials + words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>", padding_side="left"
    )
    # A plain chat template (messages' contents in order), so chat-prompt tasks can be smoke-tested on it.
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    return tokenizer


def build_model(tokenizer, settings: WarmStartSettings):
    """A freshly initialised Llama causal LM sized by `settings`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        num_key_value_heads=settings.num_heads,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def warm_start(out_dir: Path, settings: WarmStartSettings, train_rows: list[dict]) -> None:
    """Build tokenizer + model and fine-tune them with `SFTTrainer` on prompt/completion traces."""
    import torch
    from datasets import Dataset
    from transformers import GenerationConfig
    from trl import SFTConfig, SFTTrainer

    from train import tasks

    torch.manual_seed(settings.seed)
    if settings.pretrained:
        tokenizer, model = load_pretrained(settings.pretrained)
        if is_builtin(settings.pretrained):  # a built-in model continued on a task that may add words
            tokenizer, model = extend_vocabulary(tokenizer, model, tasks.get(settings.task).vocabulary())
    else:
        tokenizer = build_tokenizer(tasks.get(settings.task).vocabulary())
        model = build_model(tokenizer, settings)
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in train_rows])
    config = SFTConfig(
        output_dir=str(out_dir / "sft"),
        max_steps=settings.sft_steps,
        per_device_train_batch_size=settings.sft_batch_size,
        learning_rate=settings.sft_learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, settings.sft_steps // 20),
        weight_decay=0.0,
        logging_steps=100,
        save_strategy="no",
        report_to="none",
        seed=settings.seed,
        data_seed=settings.seed,
        max_length=settings.max_length,
        completion_only_loss=True,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    trainer.train()
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )  # the traces end with the tokenizer's EOS (SFTTrainer appends it): stop there, and decode greedily
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "warm_start.json").write_text(json.dumps({**asdict(settings), "built_with": built_with()}, indent=2))
    shutil.rmtree(out_dir / "sft", ignore_errors=True)


def is_builtin(path: str) -> bool:
    """A model this module built (it has a warm_start.json and no pretrained starting point)."""
    record = Path(path).expanduser() / "warm_start.json"
    return record.exists() and json.loads(record.read_text()).get("pretrained") is None


def extend_vocabulary(tokenizer, model, words: list[str]):
    """A built-in model's tokenizer grown to `words` (its own words first, in the same order, so every
    known token keeps its id) and its embeddings resized to match. New rows start as fresh random rows, not
    at the mean: the budget numbers must tell each other apart, and 300 steps from identical mean rows left
    every budget from 21 up read as one (measured: the tag was ignored above 20).
    Why: a task built on another (chain_budget on chain_easy) adds words — its budget tag — that the
    base model's word-level tokenizer would read as <unk>."""
    old = tokenizer.get_vocab()
    new_tokenizer = build_tokenizer(words)
    new = new_tokenizer.get_vocab()
    moved = [w for w, i in old.items() if new.get(w) != i]
    if moved:
        raise ValueError(f"the task's vocabulary does not extend the base model's: {moved[:5]} would change id")
    if len(new) > len(old):
        model.resize_token_embeddings(len(new), mean_resizing=False)
    return new_tokenizer, model


def load_pretrained(path: str):
    """Tokenizer and fp32 weights of a pretrained causal LM (safetensors, no remote code), padded on the left
    like the built-in tokenizer so that batched generation continues every prompt from its last token."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, use_safetensors=True)
    return tokenizer, model


def cache_name(settings: WarmStartSettings) -> str:
    """`<task>-tiny` for the built-in model, `<task>-<pretrained directory name>` for a fine-tuned one."""
    if settings.pretrained is None:
        return f"{settings.task}-tiny"
    return f"{settings.task}-{Path(settings.pretrained.rstrip('/')).name}"


# Environment variables that change which CPU kernels torch (ATen) and MKL dispatch to, and so the model.
KERNEL_DISPATCH_ENV = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "MKL_DEBUG_CPU_TYPE")


def built_with() -> dict:
    """What the warm start ran on. Why record it: the same settings and data give another model on a CPU
    with another instruction set — the published `chain_easy` base models (built with AVX-512) rebuild
    exactly on an AVX-512 machine, and an AVX2-only machine (or an AVX-512 one with torch's own kernels held
    to AVX2) builds models whose forced-mode accuracies differ by tenths (docs/benchmark.md; the thread
    count leaves the weights bit-identical). So a cached base model and every reliability curve measured
    on it name what made them, including any environment variable that moved the kernel dispatch."""
    import platform

    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    kernel_env = {k: os.environ[k] for k in KERNEL_DISPATCH_ENV if k in os.environ}
    return {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "kernel_env": kernel_env,
            "machine": platform.machine(), "device": device}


def provenance(model_dir: str | os.PathLike) -> dict | None:
    """The `built_with` record of a cached base model (None for a hub model or an older cache entry)."""
    record = Path(model_dir) / "warm_start.json"
    if not record.exists():
        return None
    return json.loads(record.read_text()).get("built_with")


DISTRIBUTED_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                   "GROUP_RANK", "ROLE_RANK", "ROLE_WORLD_SIZE", "TORCHELASTIC_RUN_ID", "ACCELERATE_USE_CPU")


def warm_start_in_own_process(out_dir: Path, settings: WarmStartSettings, train_rows: list[dict],
                              env: dict[str, str] | None = None) -> None:
    """`warm_start` in a child process that does not see the distributed environment. Why: under
    `accelerate launch` with several processes, an SFTTrainer started by the main rank alone would join
    torch.distributed and wait forever for ranks that are waiting for the cache. `env` adds variables the
    child starts with — how `launch/research/warm_start_repro.py` picks a kernel set or thread count, which torch
    and MKL fix at start-up."""
    import subprocess
    import sys

    rows_file = out_dir / "sft_rows.json"
    rows_file.write_text(json.dumps(train_rows))
    code = ("import json, sys; from pathlib import Path; from train.base_model import WarmStartSettings, warm_start; "
            "a = json.loads(sys.argv[1]); warm_start(Path(a['out']), WarmStartSettings(**a['settings']), "
            "json.loads(Path(a['rows']).read_text()))")
    arg = json.dumps({"out": str(out_dir), "settings": asdict(settings), "rows": str(rows_file)})
    child_env = {k: v for k, v in os.environ.items() if k not in DISTRIBUTED_ENV} | (env or {})
    repo = str(Path(__file__).resolve().parent.parent)
    child_env["PYTHONPATH"] = repo + os.pathsep + child_env.get("PYTHONPATH", "")
    subprocess.run([sys.executable, "-c", code, arg], check=True, env=child_env)
    rows_file.unlink()


def cached_base_model(cache_dir: str | os.PathLike, settings: WarmStartSettings, train_rows: list[dict]) -> Path:
    """Path of the warm-started model for `settings`, training it first if no complete copy is cached."""
    final = Path(cache_dir) / settings.dir_name(train_rows)
    from train.shipped_models import shipped_model

    shipped = shipped_model(final.name)
    if shipped is not None:
        logger.info("warm start: using the shipped base model %s", shipped)
        return shipped
    if (final / "config.json").exists() and (final / "warm_start.json").exists():
        logger.info("warm start: using cached base model %s", final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=final.name + ".tmp-", dir=final.parent))
    try:
        logger.info("warm start: training the base model (cached afterwards in %s)", final)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            warm_start_in_own_process(tmp, settings, train_rows)
        else:
            warm_start(tmp, settings, train_rows)
        if final.exists():  # an incomplete leftover: replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


# -- a task continued from another's base model --------------------------------------------------------------
def continued_settings(first: WarmStartSettings, task, warm_start_steps: int, pretrained: str) -> WarmStartSettings:
    """The warm start of a task that continues another's base model (`task.base_task`, at `pretrained`):
    `task.continue_share` × warm_start_steps more SFT steps at the task's own learning rate."""
    from dataclasses import replace

    return replace(first, task=task.name, pretrained=pretrained, sft_learning_rate=task.continue_learning_rate,
                   sft_steps=max(1, round(warm_start_steps * task.continue_share)))
