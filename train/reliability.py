"""Reliability curves of a recipe's base model, and the references every length method is judged against.

    python launch/reliability.py --config configs/benchmark.yaml --out runs/reliability/chain-s0.json
    python launch/reliability.py --config configs/benchmark.yaml --seed 1 --out runs/reliability/chain-s1.json
    python launch/reliability.py --config configs/benchmark.yaml --mode_choice runs/benchmark   # P(mode | d)
    python launch/reliability.py --config configs/benchmark.yaml --budgets runs/benchmark/checkpoint-80   # b(x) | d

For every answer mode of the task (`train/tasks/chain.py`: full, steps, pairs, direct) the base
model is made to answer every val prompt in that mode — its first completion word, the mode word, is
forced and the rest is its own greedy generation, exactly as it would continue had it chosen that word
itself — and EM and mean tokens (the forced word included) are measured per difficulty. From those
curves (`rewards/budgets/allocation.py`):

- `frontier`: EM*(T), the best val EM that any per-prompt choice of modes reaches at mean tokens ≤ T;
- `uniform`: the best EM of one common length cap at mean tokens ≤ T;

for T = 0.2, 0.3, …, 1.0 × the base model's mean tokens. Written as JSON (keys
`base`, `curves`, `frontier`, `uniform`, plus `shares` of prompts per difficulty and `modes`) and
printed as tables. `launch/compare.py` reads the file to draw the frontier and to report each method's
gap to it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

RATIOS = tuple(round(0.1 * i, 1) for i in range(2, 11))


def forced_mode_results(model, tokenizer, rows: list[dict], mode: str, max_new_tokens: int) -> tuple[list, list]:
    """(correct, tokens) per row when the completion's first word is `mode` (counted as one token)."""
    from rewards.exact_match import is_correct
    from train.generation import generate

    texts, lengths, _ = generate(model, tokenizer, [f"{r['prompt']} {mode}" for r in rows], max_new_tokens - 1,
                                 desc=f"mode {mode}")
    correct = [is_correct(f"{mode} {t}", r["answer"]) for t, r in zip(texts, rows, strict=True)]
    return correct, [n + 1 for n in lengths]


def curves_from(rows: list[dict], per_mode: dict[str, tuple[list, list]]) -> dict:
    """{difficulty: [{"mode", "mean_tokens", "em"}, ...]} from per-row results of every mode."""
    cells = defaultdict(list)
    for i, row in enumerate(rows):
        cells[str(row["difficulty"])].append(i)
    return {
        d: [{"mode": mode, "mean_tokens": sum(tok[i] for i in idx) / len(idx), "em": sum(ok[i] for i in idx) / len(idx)}
            for mode, (ok, tok) in per_mode.items()]
        for d, idx in sorted(cells.items(), key=lambda kv: int(kv[0]))
    }


def references(curves: dict, shares: dict, base_tokens: float, ratios=RATIOS) -> dict:
    """The `frontier`, `pure_frontier` (one mode per difficulty: what a greedy policy can follow without
    splitting a kind of prompt), `monotone_frontier` (one mode per difficulty, never shorter for a harder
    one: what a policy thresholding on the prompt's size can follow) and `uniform` lists at each ratio of
    base tokens."""
    from rewards.budgets.allocation import frontier, monotone_frontier, pure_frontier, uniform

    out = {"frontier": [], "pure_frontier": [], "monotone_frontier": [], "uniform": []}
    solvers = (("frontier", frontier), ("pure_frontier", pure_frontier), ("monotone_frontier", monotone_frontier),
               ("uniform", uniform))
    for ratio in ratios:
        budget = ratio * base_tokens
        for name, solve in solvers:
            point = solve(curves, shares, budget)
            out[name].append({"ratio": ratio, "target": budget, "tokens": point["tokens"], "em": point["em"],
                              "feasible": point["feasible"]})
    return out


def measure(model, tokenizer, rows: list[dict], modes: tuple[str, ...], max_new_tokens: int) -> dict:
    """The whole report for a model on rows: base (free greedy), curves, shares, frontier, uniform."""
    from train.generation import evaluate

    base = evaluate(model, tokenizer, rows, max_new_tokens, desc="base (free)")
    per_mode = {mode: forced_mode_results(model, tokenizer, rows, mode, max_new_tokens) for mode in modes}
    curves = curves_from(rows, per_mode)
    shares = {d: sum(1 for r in rows if str(r["difficulty"]) == d) / len(rows) for d in curves}
    report = {"base": {"em": base["em"], "mean_tokens": base["mean_tokens"],
                       "by_difficulty": {d: {k: v[k] for k in ("em", "mean_tokens")}
                                         for d, v in base.get("by_difficulty", {}).items()}},
              "modes": list(modes), "shares": shares, "curves": curves}
    report.update(references(curves, shares, base["mean_tokens"]))
    return report


def print_report(report: dict) -> None:
    modes, curves = report["modes"], report["curves"]
    base = report["base"]
    print(f"\nbase model (free greedy): val EM {base['em']:.3f}, mean tokens {base['mean_tokens']:.1f}\n")
    print("reliability curves, EM (mean tokens) per forced mode, most detailed → most compressed:\n")
    print("| difficulty | share | " + " | ".join(modes) + " | loss longest→shortest |")
    print("|---|---|" + "---|" * len(modes) + "---|")
    for d, curve in curves.items():
        by_mode = {p["mode"]: p for p in curve}
        cells = [f"{by_mode[m]['em']:.2f} ({by_mode[m]['mean_tokens']:.1f})" for m in modes]
        longest, shortest = max(curve, key=lambda p: p["mean_tokens"]), min(curve, key=lambda p: p["mean_tokens"])
        print(f"| {d} | {report['shares'][d]:.2f} | " + " | ".join(cells) + f" | {longest['em'] - shortest['em']:+.2f} |")
    print("\nreferences at T = ratio × base tokens:\n")
    pure = report.get("pure_frontier") or [None] * len(report["frontier"])
    mono = report.get("monotone_frontier") or [None] * len(report["frontier"])
    print("| ratio | T | frontier EM*(T) | tokens | one mode per difficulty | tokens | monotone in difficulty | tokens "
          "| uniform cap EM | tokens | EM* − uniform |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for f, p, m, u in zip(report["frontier"], pure, mono, report["uniform"], strict=True):
        mark = "" if f["feasible"] else " (infeasible)"
        pc, mc = (f"{x['em']:.3f} | {x['tokens']:.1f}" if x else "– | –" for x in (p, m))
        print(f"| {f['ratio']:.1f} | {f['target']:.1f} | {f['em']:.3f}{mark} | {f['tokens']:.1f} | {pc} | {mc} | "
              f"{u['em']:.3f} | {u['tokens']:.1f} | {f['em'] - u['em']:+.3f} |")


def mode_choice(model, tokenizer, rows: list[dict], modes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """{difficulty: {mode: mean P(first completion word = mode | prompt)}}: does the policy pick its answer
    style by prompt? (Per-prompt allocation needs it to; on the benchmark no trained policy does.)"""
    import torch

    ids = [tokenizer(m, add_special_tokens=False)["input_ids"] for m in modes]
    if any(len(i) != 1 for i in ids):
        raise ValueError(f"every mode word must be one token to read its probability, got {dict(zip(modes, ids))}")
    tokenizer.padding_side = "left"
    cells = defaultdict(list)
    weight = next(model.parameters(), None)
    where = weight.device if weight is not None else "cpu"  # the model's device (the GPU after load_base_model)
    with torch.no_grad():
        for start in range(0, len(rows), 128):
            batch = rows[start : start + 128]
            enc = tokenizer([r["prompt"] for r in batch], return_tensors="pt", padding=True).to(where)
            probs = torch.softmax(model(**enc).logits[:, -1, :], dim=-1)[:, [i[0] for i in ids]]
            for row, p in zip(batch, probs.tolist(), strict=True):
                cells[str(row["difficulty"])].append(p)
    return {d: {m: sum(p[k] for p in ps) / len(ps) for k, m in enumerate(modes)}
            for d, ps in sorted(cells.items(), key=lambda kv: int(kv[0]))}


def print_mode_choice(name: str, choice: dict) -> None:
    modes = list(next(iter(choice.values())))
    print(f"\n{name}: P(first word = mode) per difficulty\n")
    print("| difficulty | " + " | ".join(modes) + " |")
    print("|---|" + "---|" * len(modes))
    for d, row in choice.items():
        print(f"| {d} | " + " | ".join(f"{row[m]:.2f}" for m in modes) + " |")


def budgets_by_difficulty(directory, rows: list[dict]) -> dict[str, dict[str, float]]:
    """{difficulty: {mean, min, max}} of the learned budgets a checkpoint's budget model hands the val
    prompts: its allocation of the checkpoint's token target (from `dual_state.json`), or, for an exported
    adapter without one, its serving-time prediction."""
    from rewards.budgets import load_budget_model

    model = load_budget_model(directory)
    prompts = [r["prompt"] for r in rows]
    state = Path(directory) / "dual_state.json"
    if state.exists():
        budgets = model.allocate(prompts, json.loads(state.read_text())["settings"]["target"])
    else:
        budgets = model.predict(prompts)
    cells = defaultdict(list)
    for row, b in zip(rows, budgets, strict=True):
        cells[str(row["difficulty"])].append(b)
    return {d: {"mean": sum(bs) / len(bs), "min": min(bs), "max": max(bs)}
            for d, bs in sorted(cells.items(), key=lambda kv: int(kv[0]))}


def load_recipe(config: str, extra: list[str]):
    """(script, training and model arguments, task, train rows, val rows) of a recipe."""
    from train import tasks
    from train.run import parse_args

    script_args, training_args, model_args = parse_args(["--config", config, *extra])
    task = tasks.get(script_args.task)
    train_rows, val_rows = task.load(training_args.seed, script_args.val_size, script_args.data_path)
    return script_args, training_args, model_args, task, train_rows, val_rows


def load_base_model(config: str, extra: list[str]):
    """(tokenizer, model, val rows, max new tokens, modes) for a recipe, training its warm start if uncached."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train import tasks
    from train.base_model import BUILTIN_PREFIX, cached_base_model
    from train.run import warm_start_settings

    script_args, training_args, model_args, task, train_rows, val_rows = load_recipe(config, extra)
    modes = getattr(task.module(), "MODES", None) if isinstance(task, tasks.Generated) else None
    if not modes:
        raise ValueError(f"task {script_args.task!r} has no answer modes to force (the benchmark task `chain` has)")
    path = model_args.model_name_or_path
    builtin = path.startswith(BUILTIN_PREFIX)
    if builtin or script_args.warm_start_pretrained:  # the same warm start (and cache entry) as train/run.py's
        settings = warm_start_settings(script_args, training_args, None if builtin else path)
        path = cached_base_model(script_args.cache_dir, settings, task.sft_rows(train_rows))
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    model = model.to(device())  # SmolLM2's forced-mode decoding is minutes on a CPU, seconds on a GPU
    return tokenizer, model.eval(), val_rows, training_args.max_completion_length, tuple(modes)


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_policy(config: str, extra: list[str], run) -> object:
    """A trained policy, in eval mode: a run directory (its `adapter/`), a LoRA adapter or checkpoint
    directory (on a fresh copy of the recipe's base model), or a whole model (a `--use_peft false`
    checkpoint)."""
    path = Path(run) / "adapter" if (Path(run) / "adapter").exists() else Path(run)
    if (path / "adapter_config.json").exists():
        from peft import PeftModel

        _, fresh, _, _, _ = load_base_model(config, extra)
        return PeftModel.from_pretrained(fresh, str(path)).eval()
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path)).to(device()).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "configs" / "benchmark.yaml"))
    parser.add_argument("--out", help="JSON file to write (default: runs/reliability/<task>-s<seed>.json)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--extra", default="", help="train/run.py arguments of the runs the curves are for, e.g. "
                        "'--warm_start_steps 300' (launch/compare.py passes its own --extra, so curves and runs "
                        "share one base model)")
    parser.add_argument("--budgets", nargs="+", metavar="CHECKPOINT",
                        help="only print the learned budgets per difficulty of these checkpoints' budget models")
    parser.add_argument("--mode_choice", nargs="*", metavar="RUN_DIR",
                        help="only print P(mode | difficulty) of the base model and of these runs' adapters")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    extra = (["--seed", str(args.seed)] if args.seed is not None else []) + shlex.split(args.extra)
    if args.budgets:
        val_rows = load_recipe(args.config, extra)[-1]
        for directory in args.budgets:
            print(f"\n{directory}: learned budgets (tokens) per difficulty\n\n| difficulty | mean | min | max |\n|---|---|---|---|")
            for d, b in budgets_by_difficulty(directory, val_rows).items():
                print(f"| {d} | {b['mean']:.1f} | {b['min']:.1f} | {b['max']:.1f} |")
        return
    tokenizer, model, rows, max_new, modes = load_base_model(args.config, extra)
    if args.mode_choice is not None:
        print_mode_choice("base model", mode_choice(model, tokenizer, rows, modes))
        for run in args.mode_choice:
            print_mode_choice(str(run), mode_choice(load_policy(args.config, extra, run), tokenizer, rows, modes))
        return
    report = measure(model, tokenizer, rows, modes, max_new)
    from train.base_model import provenance

    # The curves belong to this base model, and a warm start made elsewhere is another model (see built_with).
    report["base_model"] = {"path": str(model.name_or_path), "built_with": provenance(model.name_or_path)}
    print_report(report)
    out = Path(args.out) if args.out else default_path(args.config, args.seed or 0, args.extra)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out}")


def default_path(config: str, seed: int, extra: str = "") -> Path:
    """runs/reliability/<recipe>-s<seed>.json, with a hash of the extra arguments where there are any (they
    may change the base model, so curves measured without them are another model's)."""
    tag = f"-{hashlib.sha256(' '.join(shlex.split(extra)).encode()).hexdigest()[:8]}" if extra.strip() else ""
    return REPO / "runs" / "reliability" / f"{Path(config).stem}-s{seed}{tag}.json"


if __name__ == "__main__":
    main()
