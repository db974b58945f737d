"""Layer-wise learning rates (train/layerwise.py): LoRA+ as PEFT defines it, per-layer decay, and the
trainer's optimizer built from them."""

import pytest
import torch

from train.layerwise import layer_index, learning_rate_of, param_groups


def test_layer_index_reads_the_decoder_layer():
    assert layer_index("base_model.model.model.layers.12.mlp.down_proj.lora_A.default.weight") == 12
    assert layer_index("base_model.model.lm_head.weight") is None
    assert layer_index("model.layers_norm.weight") is None


def test_learning_rates_lora_plus_and_decay():
    b = "m.layers.0.q_proj.lora_B.default.weight"
    a = "m.layers.0.q_proj.lora_A.default.weight"
    assert learning_rate_of(a, 1e-3, 3) == learning_rate_of(b, 1e-3, 3) == 1e-3  # both off
    assert learning_rate_of(b, 1e-3, 3, lora_plus_ratio=16) == pytest.approx(16e-3)
    assert learning_rate_of(a, 1e-3, 3, lora_plus_ratio=16) == pytest.approx(1e-3)
    assert learning_rate_of("m.layers.0.norm.bias", 1e-3, 3, 16, ndim=1) == pytest.approx(16e-3)  # PEFT: 1-D too
    # decay from the top: layer 2 of 3 at lr, layer 0 at lr × decay²; outside the layers at lr
    assert learning_rate_of("m.layers.2.x.lora_A.w", 1.0, 3, layer_decay=0.5) == 1.0
    assert learning_rate_of("m.layers.0.x.lora_A.w", 1.0, 3, layer_decay=0.5) == 0.25
    assert learning_rate_of("m.lm_head.lora_A.w", 1.0, 3, layer_decay=0.5) == 1.0
    assert learning_rate_of("m.layers.0.x.lora_B.w", 1.0, 3, 4.0, 0.5) == 1.0  # both: 4 × 0.25


def tiny_peft_model():
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=3,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32)
    return get_peft_model(LlamaForCausalLM(config), LoraConfig(r=2, target_modules="all-linear"))


def test_groups_match_peft_loraplus_optimizer():
    """Every trainable parameter gets the learning rate PEFT's `create_loraplus_optimizer` gives it."""
    from peft.optimizers import create_loraplus_optimizer

    model = tiny_peft_model()
    peft_opt = create_loraplus_optimizer(model, torch.optim.AdamW, lr=1e-3, loraplus_lr_ratio=16.0)
    theirs = {id(p): g["lr"] for g in peft_opt.param_groups for p in g["params"]}
    groups = param_groups(model.named_parameters(), 1e-3, 0.0, set(), lora_plus_ratio=16.0)
    ours = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert ours.keys() == theirs.keys() and len(ours) > 0
    assert all(ours[k] == pytest.approx(theirs[k]) for k in ours)
    assert sorted({round(g["lr"], 6) for g in groups}) == [0.001, 0.016]


def test_groups_cover_every_trainable_parameter_once_with_decay_and_weight_decay():
    model = tiny_peft_model()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    no_decay = {trainable[0]}
    groups = param_groups(model.named_parameters(), 1.0, 0.1, no_decay, layer_decay=0.5)
    names = [n for g in groups for n in g["names"]]
    assert sorted(names) == sorted(trainable)
    by_name = {n: g for g in groups for n in g["names"]}
    assert by_name[trainable[0]]["weight_decay"] == 0.0
    assert {round(g["lr"], 4) for g in groups} == {1.0, 0.5, 0.25}  # three layers from the top


def test_trainer_builds_its_optimizer_from_the_groups(tmp_path):
    """The mixin's create_optimizer: with LoRA+ on, B matrices run at ratio × lr inside the real optimizer."""
    from train.trainer import LayerwiseOptimizerMixin

    class Base:  # what create_optimizer needs of transformers' Trainer
        def __init__(self, model, args):
            self.model, self.args, self.optimizer = model, args, None

        def get_optimizer_cls_and_kwargs(self, args, model):
            return torch.optim.AdamW, {"lr": args.learning_rate, "betas": (0.9, 0.999)}

        def get_decay_parameter_names(self, model):
            return [n for n, _ in model.named_parameters()]

        def create_optimizer(self, model=None):
            if self.optimizer is None:
                self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.args.learning_rate)
            return self.optimizer

    class Mixed(LayerwiseOptimizerMixin, Base):
        def __init__(self, model, args, ratio, decay):
            self.lora_plus_ratio, self.layer_lr_decay = ratio, decay
            Base.__init__(self, model, args)

    class Args:
        learning_rate, weight_decay = 1e-3, 0.0

    model = tiny_peft_model()
    lrs = lambda opt: sorted({round(g["lr"], 7) for g in opt.param_groups})  # noqa: E731
    assert lrs(Mixed(model, Args, 1.0, 1.0).create_optimizer()) == [0.001]   # off: the trainer's own
    assert lrs(Mixed(model, Args, 16.0, 1.0).create_optimizer()) == [0.001, 0.016]
    assert lrs(Mixed(model, Args, 1.0, 0.5).create_optimizer()) == [0.00025, 0.0005, 0.001]
