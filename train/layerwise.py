"""Layer-wise learning rates for the LoRA policy: LoRA+ and per-layer decay, as optimizer parameter groups.

- **LoRA+** (Hayou, Ghosh & Yu 2024, "LoRA+: Efficient Low Rank Adaptation of Large Models"; PEFT's
  `create_loraplus_optimizer`): the B matrices learn `lora_plus_ratio` times faster than the A matrices.
  Why: with B initialised at zero and A random, one learning rate for both is too small for B or too
  large for A; the paper reports faster convergence at ratio ~16. PEFT's rule is followed (the B matrices
  and any trainable 1-D parameter at lr × ratio, the A matrices at lr; `tests/test_layerwise.py` checks the
  learning rates against PEFT's own optimizer). LoRA on embedding layers, which PEFT gives a fixed rate,
  is not something Terse's recipes train.
- **Per-layer decay** (layer-wise learning-rate decay, as in ELECTRA / BEiT fine-tuning): decoder layer
  i of L learns at lr × decay^(L − 1 − i), the top layer at lr, parameters outside the layers (head,
  final norm) at lr. Why: the top layers decide the answer's form, the lower ones the arithmetic the
  warm start taught; a smaller step low in the stack changes the style while keeping what is below.

Pure: named parameters in, `torch.optim` parameter groups out; `train/trainer.py` builds the optimizer
from them when either option is on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_LAYER = re.compile(r"\.layers\.(\d+)\.")


def layer_index(name: str) -> int | None:
    """The decoder layer a parameter belongs to (`model.layers.3.self_attn…` → 3), None outside the layers."""
    match = _LAYER.search(name)
    return int(match.group(1)) if match else None


def learning_rate_of(name: str, lr: float, num_layers: int, lora_plus_ratio: float = 1.0,
                     layer_decay: float = 1.0, ndim: int = 2) -> float:
    """The learning rate one parameter gets.

    >>> learning_rate_of("base_model.model.model.layers.3.self_attn.q_proj.lora_B.default.weight", 1e-3, 4, 16.0)
    0.016
    >>> round(learning_rate_of("base_model.model.model.layers.1.mlp.up_proj.lora_A.default.weight", 1e-3, 4, 16.0, 0.5), 6)
    0.00025
    """
    scale = lora_plus_ratio if ("lora_B" in name or ndim == 1) else 1.0
    index = layer_index(name)
    if index is not None and layer_decay != 1.0:
        scale *= layer_decay ** (num_layers - 1 - index)
    return lr * scale


def param_groups(named_parameters: Iterable, lr: float, weight_decay: float, no_decay: set[str],
                 lora_plus_ratio: float = 1.0, layer_decay: float = 1.0) -> list[dict]:
    """Trainable parameters grouped by (learning rate, weight decay): one group per distinct pair, in the
    order first seen. `no_decay`: names that get no weight decay (the trainer's biases and norms)."""
    named = [(n, p) for n, p in named_parameters if p.requires_grad]
    layers = [i for i in (layer_index(n) for n, _ in named) if i is not None]
    num_layers = max(layers) + 1 if layers else 0
    groups: dict[tuple[float, float], dict] = {}
    for name, param in named:
        key = (learning_rate_of(name, lr, num_layers, lora_plus_ratio, layer_decay, param.ndim),
               0.0 if name in no_decay else weight_decay)
        groups.setdefault(key, {"params": [], "lr": key[0], "weight_decay": key[1], "names": []})
        groups[key]["params"].append(param)
        groups[key]["names"].append(name)
    return list(groups.values())
