"""Can the policy learn to pick its answer style by prompt at all? A reward that names the right mode.

    python -m launch.research.check_allocation_learnable                       # seed 0, 120 steps, GRPO + LoRA
    python -m launch.research.check_allocation_learnable --seed 1 --learning_rate 1e-3   # any train/run.py flag
    python -m launch.research.check_allocation_learnable --supervised       # the control: the same LoRA, supervised

Why: on the benchmark every length method ends with one answer mode for every prompt, and the measured
cause is that no trained policy's first word depends on the prompt (`launch/reliability.py
--mode_choice`). That can be the reward's fault (the per-prompt price is too weak or too noisy) or the
policy's (GRPO with LoRA on the 0.9M-parameter base does not learn a prompt-dependent first word in the
steps a run has). This script separates the two with the strongest and cleanest per-prompt signal there
is: a reward of `bonus` when the completion's first word is the mode the allocation frontier assigns to
the prompt's difficulty (`full` from `--split` operations on, `steps` below: the frontier's allocation
at ~0.77 × base tokens, where it spends the extra tokens on the longest chains first), plus EM. No length
method gives a per-prompt signal this strong, so if this does not make the policy's first word depend on
the prompt, none of them can, and the benchmark measures the policy's limits rather than the method.

It uses the prompt's difficulty label, which no method sees: a diagnostic, not a method. Prints
P(mode | difficulty) before and after, and how far the policy moved toward the target split.
`--supervised` is the control: the same LoRA (rank, targets, learning rate, 8 prompts a step) trained
with cross-entropy on the target mode word, so that a failure of RL is not mistaken for a policy that
cannot represent the choice.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

from rewards.exact_match import completion_text


def target_mode(difficulty: int, split: int) -> str:
    return "full" if difficulty >= split else "steps"


def target_mode_reward(completions: list, difficulty: list[int], split: int = 5, bonus: float = 1.0,
                       **kwargs) -> list[float]:
    """`bonus` for a completion whose first word is its prompt's target mode, else 0."""
    out = []
    for completion, d in zip(completions, difficulty, strict=True):
        words = completion_text(completion).split()
        out.append(bonus if words and words[0] == target_mode(int(d), split) else 0.0)
    return out


def allocation_score(choice: dict[str, dict[str, float]], split: int) -> float:
    """P(full) on the prompts that should get `full` minus P(full) on those that should not (each side the
    mean over its difficulties): 0 for a policy whose choice ignores the prompt, whatever it prefers; 1
    for one that answers `full` exactly where the target says so."""
    long = [p["full"] for d, p in choice.items() if int(d) >= split]
    short = [p["full"] for d, p in choice.items() if int(d) < split]
    return sum(long) / len(long) - sum(short) / len(short)


def supervised(config: str, seed: int, split: int, steps: int, learning_rate: float, every: int = 30) -> list:
    """The control: LoRA trained with cross-entropy on the first word = the target mode, 8 train prompts a
    step. Returns [(step, allocation score)] every `every` steps."""
    import random

    import torch
    from peft import LoraConfig, get_peft_model

    from train.reliability import load_base_model, mode_choice
    from train import tasks
    from train.run import parse_args

    tokenizer, model, rows, _, modes = load_base_model(config, ["--seed", str(seed)])
    script_args, training_args, model_args = parse_args(["--config", config, "--seed", str(seed)])
    train_rows, _ = tasks.get(script_args.task).load(seed, script_args.val_size, script_args.data_path)
    lora = LoraConfig(r=model_args.lora_r, lora_alpha=model_args.lora_alpha,
                      target_modules=model_args.lora_target_modules or "all-linear")
    model = get_peft_model(model, lora)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    word = {m: tokenizer(m, add_special_tokens=False)["input_ids"][0] for m in modes}
    tokenizer.padding_side, rng, scores = "left", random.Random(seed), []
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            scores.append((step, allocation_score(mode_choice(model.eval(), tokenizer, rows, modes), split)))
            print(f"step {step}: allocation score {scores[-1][1]:+.2f}", flush=True)
            model.train()
        if step == steps:
            break
        batch = rng.sample(train_rows, 8)
        enc = tokenizer([r["prompt"] for r in batch], return_tensors="pt", padding=True)
        target = torch.tensor([word[target_mode(r["difficulty"], split)] for r in batch])
        loss = torch.nn.functional.cross_entropy(model(**enc).logits[:, -1, :], target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "configs" / "benchmark.yaml"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", type=int, default=5, help="`full` from this many operations on, `steps` below")
    parser.add_argument("--bonus", type=float, default=1.0)
    parser.add_argument("--max_steps", type=int, default=120)
    parser.add_argument("--out", help="run directory (default runs/check_allocation/s<seed>)")
    parser.add_argument("--supervised", action="store_true", help="the control: supervised LoRA, no RL")
    parser.add_argument("--learning_rate", type=float, help="the policy's (default: the recipe's)")
    args, extra = parser.parse_known_args()
    if args.supervised:
        supervised(args.config, args.seed, args.split, args.max_steps, args.learning_rate or 3e-4)
        return
    if args.learning_rate is not None:
        extra += ["--learning_rate", str(args.learning_rate)]

    import rewards
    from train.reliability import load_base_model, load_policy, mode_choice, print_mode_choice
    from train import run

    rewards.REGISTRY["target_mode"] = target_mode_reward
    out = args.out or str(REPO / "runs" / "check_allocation" / f"s{args.seed}")
    spec = {"exact_match": {}, "target_mode": {"split": args.split, "bonus": args.bonus}}
    argv = ["--config", args.config, "--seed", str(args.seed), "--max_steps", str(args.max_steps),
            "--output_dir", out, "--constraint", "none", "--rewards", json.dumps(spec), "--report_to", "none",
            "--eval_every", "0", *extra]
    summary = run.main(argv)

    tokenizer, base, rows, _, modes = load_base_model(args.config, ["--seed", str(args.seed)])
    before = mode_choice(base, tokenizer, rows, modes)
    # --use_peft false leaves no adapter: the whole model is in the last checkpoint
    trained = out if (Path(out) / "adapter").exists() else Path(out) / f"checkpoint-{summary['steps']}"
    after = mode_choice(load_policy(args.config, ["--seed", str(args.seed)], trained), tokenizer, rows, modes)
    print_mode_choice("base model", before)
    print_mode_choice(f"after {args.max_steps} steps with the target-mode reward", after)
    print(f"allocation score (0: the choice ignores the prompt, 1: always the target): "
          f"{allocation_score(before, args.split):+.2f} → {allocation_score(after, args.split):+.2f}")
    print(f"val EM {summary['final']['em']:.3f}, mean tokens {summary['final']['mean_tokens']:.1f}")
    (Path(out) / "allocation_check.json").write_text(json.dumps(
        {"split": args.split, "bonus": args.bonus, "extra": extra, "before": before, "after": after,
         "score_before": allocation_score(before, args.split), "score_after": allocation_score(after, args.split),
         "final": {k: summary["final"][k] for k in ("em", "mean_tokens")}}, indent=1))


if __name__ == "__main__":
    main()
