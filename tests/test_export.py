"""Export: what is served is what was trained (PEFT adapter and merged model), and vLLM's adapter rules."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from peft import LoraConfig

from train.export import ExportError, ExportOptions, check_vllm_rules, export, main

ROOT = Path(__file__).resolve().parent.parent

REPLAY = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from peft import AutoPeftModelForCausalLM
from transformers import AutoModelForCausalLM, AutoTokenizer
from train.generation import generate
from train.tasks import arith, word_count
export_dir, kind = sys.argv[2], sys.argv[3]
prompts = [r["prompt"] for r in arith.build_split("val", 0, word_count, size=int(sys.argv[4]))]
path = export_dir if kind == "adapter" else export_dir + "/merged"
model = AutoPeftModelForCausalLM.from_pretrained(path) if kind == "adapter" else AutoModelForCausalLM.from_pretrained(path)
texts, _, _ = generate(model, AutoTokenizer.from_pretrained(path), prompts, 40)
print(json.dumps(texts))
"""


@pytest.fixture(scope="module")
def exported(smoke_run, tmp_path_factory):
    run_dir, _ = smoke_run
    out = tmp_path_factory.mktemp("export") / "arith-terse"
    assert main([str(run_dir), "--out", str(out), "--merge"]) == 0
    return run_dir, out


def test_export_files_follow_vllm_rules(exported):
    _, out = exported
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md",
            "generation_config.json", "merged"} <= names
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and not config.get("use_dora") and not config.get("modules_to_save")
    from safetensors import safe_open

    with safe_open(out / "adapter_model.safetensors", "pt") as f:
        keys = list(f.keys())
    assert keys and all("lora_" in k for k in keys)
    assert not any(e in k for k in keys for e in ("embed_tokens", "lm_head"))
    card = (out / "README.md").read_text()
    assert "vllm serve" in card and "--enable-lora" in card and "--max-lora-rank" in card
    assert not list(out.parent.glob(".arith-terse.tmp-*"))  # nothing half-written left behind


@pytest.mark.parametrize("kind", ["adapter", "merged"])
def test_fresh_process_reproduces_training_completions(exported, kind):
    run_dir, out = exported
    trained = json.loads((run_dir / "val_completions.json").read_text())
    proc = subprocess.run(
        [sys.executable, "-c", REPLAY, str(ROOT), str(out), kind, str(len(trained))],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    replayed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert replayed == trained


def test_export_never_overwrites_without_being_told(exported):
    run_dir, out = exported
    before = (out / "adapter_model.safetensors").read_bytes()
    with pytest.raises(ExportError, match="already exists"):
        export(run_dir, out)
    assert main([str(run_dir), "--out", str(out)]) == 2
    assert (out / "adapter_model.safetensors").read_bytes() == before
    export(run_dir, out, ExportOptions(overwrite=True))
    assert (out / "adapter_model.safetensors").exists()


def test_export_refuses_a_directory_without_adapter(tmp_path):
    with pytest.raises(ExportError, match="no LoRA adapter"):
        export(tmp_path, tmp_path / "out")


@pytest.mark.parametrize(
    "config, message",
    [
        (LoraConfig(r=128, target_modules=["q_proj"]), "exceeds --max_lora_rank 64"),
        (LoraConfig(r=8, target_modules=["q_proj"], use_dora=True), "DoRA"),
        (LoraConfig(r=8, target_modules=["q_proj"], modules_to_save=["lm_head"]), "modules_to_save"),
        (LoraConfig(r=8, target_modules=["q_proj", "embed_tokens"]), "embedding"),
    ],
)
def test_vllm_rules_name_the_failed_rule(config, message):
    with pytest.raises(ExportError, match=message):
        check_vllm_rules(config, max_lora_rank=64)
