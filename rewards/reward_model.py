"""Human feedback as a reward term: a sequence-classification model scores each (prompt, completion).

    rewards:
      exact_match: {}
      budget_penalty: {weight: dual}
      reward_model: {path: runs/rm, weight: 0.2, normalize: true}   # a directory or a hub id

Why: EM says whether an answer is right and the length penalty how long it is; neither says whether a
person would like reading it. A reward model fitted on human ratings (`launch/train_reward_model.py`, or
any Hugging Face `AutoModelForSequenceClassification` with one output) adds that as one more weighted term,
logged by TRL as `rewards/reward_model/mean` like the others. With `normalize` the scores are z-scored
within the batch, so `weight` is in the units of the other terms (EM is 0/1) whatever scale the model's
logit has; a batch whose scores are all equal gives zeros.

The scorer is loaded once per process (safetensors only; remote code only with `trust_remote_code: true`)
and runs without gradients on the policy's device. Its text is the prompt followed by the completion, as
the reward model saw them in training.
"""

from __future__ import annotations

import statistics

from rewards.exact_match import completion_text

_SCORERS: dict[tuple, tuple] = {}


def load_scorer(path: str, trust_remote_code: bool = False):
    """(tokenizer, model) for a reward model, cached per process; a clear error when it is not one."""
    key = (str(path), bool(trust_remote_code))
    if key not in _SCORERS:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=1, use_safetensors=True, trust_remote_code=trust_remote_code)
        except OSError as err:
            raise OSError(f"rewards.reward_model.path: cannot load a reward model from {path!r}: {err}") from None
        if model.config.num_labels != 1:
            raise ValueError(f"rewards.reward_model: {path!r} has {model.config.num_labels} outputs; a reward model has 1")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
        _SCORERS[key] = (tokenizer, model.eval())
    return _SCORERS[key]


def score_texts(path: str, texts: list[str], batch_size: int = 32, max_length: int = 512,
                trust_remote_code: bool = False, device=None) -> list[float]:
    """The reward model's raw scalar for each text."""
    import torch

    tokenizer, model = load_scorer(path, trust_remote_code)
    if device is not None and next(model.parameters()).device != torch.device(device):
        model.to(device)
    device = next(model.parameters()).device
    scores: list[float] = []
    tokenizer.padding_side = "right"
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True, truncation=True,
                              max_length=max_length).to(device)
            scores += model(**batch).logits[:, 0].float().tolist()
    return scores


def _prompt(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))


def reward_model(completions: list, prompts: list | None = None, path: str | None = None, normalize: bool = True,
                 batch_size: int = 32, max_length: int = 512, trust_remote_code: bool = False,
                 device: str | None = None, **kwargs) -> list[float]:
    """The reward model's score of prompt + completion, z-scored within the batch when `normalize`."""
    if not path:
        raise ValueError("rewards.reward_model needs `path`: a reward model directory or hub id")
    prompts = prompts if prompts is not None else [""] * len(completions)
    texts = [f"{_prompt(p)} {completion_text(c)}".strip() for p, c in zip(prompts, completions, strict=True)]
    scores = score_texts(path, texts, batch_size, max_length, trust_remote_code, device)
    if not normalize or len(scores) < 2:
        return scores
    mean, spread = statistics.fmean(scores), statistics.pstdev(scores)
    return [(s - mean) / spread if spread > 1e-8 else 0.0 for s in scores]
