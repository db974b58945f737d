"""Evaluation: exact match and completion tokens on a split, overall and per difficulty level.

Tokens are counted the way the trainer counts them (generated ids up to and including end-of-sequence),
so the budget the controller holds during training and the figure reported here are the same quantity.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
from collections import defaultdict

import torch
from tqdm.auto import tqdm

from rewards import answer_check
from rewards.exact_match import extract_answer, normalize_number
from train.callback import Callback
from train.selection import SelectionRule, adaptive_patience, select, settled, settled_adaptive
from train.tasks.dataset import DataSpec

logger = logging.getLogger(__name__)


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 128, desc="eval",
             temperature: float | None = None, seed: int = 0, num_beams: int = 1):
    """Completions (greedy, beam search with `num_beams` > 1, or sampled at `temperature` with a fixed seed):
    (texts, token counts, truncated flags), in prompt order."""
    was_training = model.training
    model.eval()
    tokenizer.padding_side = "left"
    texts, lengths, truncated = [], [], []
    device = next(model.parameters()).device
    if temperature is None:
        sampling = {"do_sample": False, "num_beams": num_beams}
    else:
        sampling = {"do_sample": True, "temperature": temperature, "top_k": 0}
    if temperature is not None:
        torch.manual_seed(seed)
    if prompts and not isinstance(prompts[0], str):  # chat messages: the model's own template
        prompts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
        encode = {"add_special_tokens": False}
    else:
        encode = {}
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, leave=False):
        batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True, **encode).to(device)
        out = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            **sampling,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        for ids in out[:, batch["input_ids"].shape[1] :].tolist():
            if tokenizer.eos_token_id in ids:
                ids = ids[: ids.index(tokenizer.eos_token_id) + 1]
                truncated.append(False)
            else:
                ids = [i for i in ids if i != tokenizer.pad_token_id]
                truncated.append(True)
            lengths.append(len(ids))
            texts.append(tokenizer.decode(ids, skip_special_tokens=True))
    model.train(was_training)
    return texts, lengths, truncated


def evaluate(model, tokenizer, rows: list[dict], max_new_tokens: int, desc="eval", temperature=None,
             num_beams: int = 1, samples: int = 1, batch_size: int = 128) -> dict:
    """EM, mean tokens, tokens ÷ oracle and truncation rate, overall and per difficulty: greedy, beam search
    (`num_beams` > 1), one sample at `temperature`, or with `samples` > 1 a majority vote over that many
    samples per prompt (its tokens are all the samples' tokens together: what the vote costs to serve)."""
    prompts = [r["prompt"] for r in rows]
    if samples > 1:
        if temperature is None:
            raise ValueError("a majority vote over samples needs a sampling temperature")
        drawn = [generate(model, tokenizer, prompts, max_new_tokens, desc=f"{desc} sample {k + 1}/{samples}",
                          temperature=temperature, seed=k) for k in range(samples)]
        texts = [majority_answer([d[0][i] for d in drawn], rows[i].get("answer_check")) for i in range(len(rows))]
        lengths = [sum(d[1][i] for d in drawn) for i in range(len(rows))]
        truncated = [any(d[2][i] for d in drawn) for i in range(len(rows))]
    else:
        texts, lengths, truncated = generate(model, tokenizer, prompts, max_new_tokens, desc=desc,
                                             temperature=temperature, num_beams=num_beams, batch_size=batch_size)
    correct = [is_right(t, r) for t, r in zip(texts, rows, strict=True)]
    result = _summarise(rows, correct, lengths, truncated)
    result.update(text_figures(texts, rows))
    groups = defaultdict(list)
    for i, row in enumerate(rows):
        groups[row.get("difficulty")].append(i)
    if len(groups) > 1:
        result["by_difficulty"] = {
            str(d): _summarise([rows[i] for i in idx], [correct[i] for i in idx], [lengths[i] for i in idx],
                               [truncated[i] for i in idx])
            for d, idx in sorted(groups.items())
        }
    result["completions"] = texts
    result["per_example"] = {"correct": correct, "tokens": lengths}  # for paired comparisons (train/ab_test.py)
    return result


def text_figures(texts: list[str], rows: list[dict]) -> dict:
    """SQuAD's figures beside EM for text answers: token F1 for `text` rows; for `contains` rows strict EM
    (the `text` check) and the whole reply's token F1 too, so a policy that games `contains` by listing
    candidates or padding shows it (its F1 falls while its EM holds)."""
    checks = {r.get("answer_check") for r in rows}
    if "contains" in checks:
        pairs = list(zip(texts, rows, strict=True))
        return {"strict_em": statistics.fmean(answer_check.text(t, r["answer"]) for t, r in pairs),
                "f1": statistics.fmean(answer_check.contains_f1(t, r["answer"]) for t, r in pairs)}
    if "text" in checks:
        return {"f1": statistics.fmean(answer_check.text_f1(t, r["answer"]) for t, r in zip(texts, rows, strict=True))}
    return {}


def is_right(text: str, row: dict) -> bool:
    """The row's own answer check on one completion (the row reaches a `module:function` check too)."""
    return answer_check.score(row.get("answer_check"), text, row["answer"], row) >= 0.5


def evaluate_allocated(model, tokenizer, rows: list[dict], allocator, max_new_tokens: int, stream: bool = False,
                       chunk: int = 10, desc: str = "served eval") -> dict:
    """EM and tokens as served through a budget `allocator` (train/allocator.py): each prompt gets its
    budget stated, greedy answers. Beside `evaluate`'s figures: adherence (share of answers within their
    budget), EM and count per budget, the mean predicted confidence. `stream`: rows arrive in the given
    order, `chunk` at a time, and every answer is `observe`d before the next chunk is allocated — the
    allocator's online control at work (per-window figures under `windows`). Otherwise the rows are one batch
    known in advance, served by a copy of the allocator solved for their own mix (`Allocator.for_batch`); its μ and
    predicted figures are returned under `plan`."""
    if not stream:
        allocator = allocator.for_batch([r["prompt"] for r in rows], rows)
    budgets, confidence, texts, lengths, truncated, correct = [], [], [], [], [], []
    step = chunk if stream else len(rows)
    for start in range(0, len(rows), max(1, step)):
        part = rows[start:start + step]
        decisions = [allocator.decide(r["prompt"], r) for r in part]
        prompts = [allocator.prompt_with_budget(r["prompt"], d["budget"]) for r, d in zip(part, decisions)]
        out = generate(model, tokenizer, prompts, max_new_tokens, desc=desc)
        right = [float(is_right(text, r)) for r, text in zip(part, out[0], strict=True)]
        if stream:
            for r, n, c in zip(part, out[1], right, strict=True):
                allocator.observe(n, c, prompt=r["prompt"], row=r)
        budgets += [d["budget"] for d in decisions]
        confidence += [d["confidence"] for d in decisions]
        texts += out[0]
        lengths += out[1]
        truncated += out[2]
        correct += right
    result = _summarise(rows, correct, lengths, truncated)
    result["adherence"] = statistics.fmean(n <= b for n, b in zip(lengths, budgets, strict=True))
    result["mean_budget"] = statistics.fmean(budgets)
    result["mean_confidence"] = statistics.fmean(confidence)
    by_budget: dict = {}
    for b, c in zip(budgets, correct, strict=True):
        by_budget.setdefault(b, []).append(c)
    result["by_budget"] = {str(b): {"n": len(v), "em": statistics.fmean(v)} for b, v in sorted(by_budget.items())}
    if all("difficulty" in r for r in rows):
        result["by_difficulty"] = {}
        for d in sorted({r["difficulty"] for r in rows}):
            at = [i for i, r in enumerate(rows) if r["difficulty"] == d]
            result["by_difficulty"][str(d)] = {
                "n": len(at), "em": statistics.fmean(correct[i] for i in at),
                "mean_tokens": statistics.fmean(lengths[i] for i in at),
                "mean_budget": statistics.fmean(budgets[i] for i in at)}
    if stream:
        w = allocator.online.window
        result["windows"] = [{"start": i, "mean_tokens": statistics.fmean(lengths[i:i + w]),
                              "em": statistics.fmean(correct[i:i + w])} for i in range(0, max(1, len(rows) - w + 1))]
    result["plan"] = allocator.predicted()
    result["completions"] = texts
    result["per_example"] = {"correct": correct, "tokens": lengths, "budget": budgets, "confidence": confidence}
    return result


def budget_records(model, tokenizer, rows: list[dict], grid: list[int], tag_prompt, max_new_tokens: int,
                   desc: str = "budget sweep") -> list[dict]:
    """The policy's greedy answer to every row at every budget of `grid`: {prompt, budget, correct, tokens}.
    `tag_prompt(prompt, budget)` states the budget as the policy learned it."""
    records = []
    for b in grid:
        texts, lengths, _ = generate(model, tokenizer, [tag_prompt(r["prompt"], b) for r in rows], max_new_tokens,
                                     desc=f"{desc} b={b}")
        for row, text, n in zip(rows, texts, lengths, strict=True):
            records.append({"prompt": row["prompt"], "budget": b, "tokens": n, "difficulty": row.get("difficulty"),
                            "correct": is_right(text, row)})
    return records


def majority_answer(completions: list[str], check: str | None = None) -> str:
    """The completion whose answer most of `completions` agree on, the answer read by the row's own `check`
    (numeric: the number; text, choice, regex: what the check extracts, normalised; contains and your own
    checks: the whole normalised reply). Ties: the answer seen first; completions without an answer do not
    vote. Returned as a completion, so the shared check scores it."""
    from rewards.answer_check import extract, normalize_text

    counts: dict = {}
    first: dict = {}
    for text in completions:
        if (check or "numeric") == "numeric":
            value = extract_answer(text)
            key = normalize_number(value) if value is not None else None
        else:
            value = extract(check, text)
            key = normalize_text(value if value is not None else text) or None
        if key is None:
            continue
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, text)
    if not counts:
        return completions[0] if completions else ""
    best = max(counts, key=lambda k: (counts[k], -list(first).index(k)))
    return first[best]


def fold_report(rows: list[dict], per_example: dict, folds: int, seed: int = 0) -> dict:
    """EM and mean tokens on each of `folds` disjoint subsets of the rows (a stable hash of the prompt
    picks a row's fold), with their spread: is a figure robust across subsets of the data, or carried by
    a few rows? Pure: from an evaluation's per-example results, no generation.

    >>> rows = [{"prompt": f"q{i}"} for i in range(40)]
    >>> r = fold_report(rows, {"correct": [i % 2 == 0 for i in range(40)], "tokens": [10] * 40}, folds=4)
    >>> len(r["per_fold"]), sum(f["n"] for f in r["per_fold"]), r["tokens_range"]
    (4, 40, 0.0)
    """
    from train.allocator import fold_of

    if folds < 2:
        raise ValueError(f"--folds needs at least 2 folds, got {folds}")
    cells = [{"n": 0, "right": 0.0, "tokens": 0.0} for _ in range(folds)]
    for row, ok, n in zip(rows, per_example["correct"], per_example["tokens"], strict=True):
        cell = cells[fold_of(row["prompt"], folds, seed)]
        cell["n"] += 1
        cell["right"] += float(ok)
        cell["tokens"] += n
    if any(c["n"] == 0 for c in cells):
        raise ValueError(f"{len(rows)} rows are too few for {folds} folds (a fold is empty)")
    per_fold = [{"n": c["n"], "em": c["right"] / c["n"], "mean_tokens": c["tokens"] / c["n"]} for c in cells]
    ems, toks = [f["em"] for f in per_fold], [f["mean_tokens"] for f in per_fold]
    return {"folds": folds, "per_fold": per_fold,
            "em_mean": statistics.fmean(ems), "em_std": statistics.stdev(ems), "em_range": max(ems) - min(ems),
            "tokens_mean": statistics.fmean(toks), "tokens_std": statistics.stdev(toks),
            "tokens_range": max(toks) - min(toks)}


def _summarise(rows, correct, lengths, truncated) -> dict:
    out = {
        "n": len(rows),
        "em": statistics.fmean(correct),
        "mean_tokens": statistics.fmean(lengths),
        "median_tokens": float(statistics.median(lengths)),
        "p90_tokens": percentile(sorted(lengths), 0.9),
        "truncated": statistics.fmean(truncated),
    }
    if all("oracle_tokens" in r for r in rows):
        out["oracle_mean_tokens"] = statistics.fmean(r["oracle_tokens"] for r in rows)
        out["tokens_over_oracle"] = out["mean_tokens"] / out["oracle_mean_tokens"]
    return out


# -- the preflight: look at the untrained model before training -----------------------------------------
def percentile(ordered: list, q: float) -> float:
    """The nearest-rank `q` quantile of an already sorted, non-empty list."""
    return float(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))])


def preflight_report(result: dict, rows: list[dict], examples: list[dict], max_new_tokens: int, shown: int = 5) -> dict:
    """EM (F1 for `text`), token percentiles, the share cut at the cap, and `shown` right and `shown` wrong
    example rows (`preview_rows`: prompt, completion, extracted answer, gold, verdict) of one `evaluate` result."""
    lengths = sorted(result["per_example"]["tokens"])
    return {
        "n": result["n"], "answer_check": rows[0].get("answer_check", "numeric") if rows else "numeric",
        "em": result["em"], **{k: result[k] for k in ("strict_em", "f1") if k in result},
        "mean_tokens": result["mean_tokens"], "p50_tokens": percentile(lengths, 0.5),
        "p90_tokens": percentile(lengths, 0.9), "p99_tokens": percentile(lengths, 0.99),
        "max_tokens": float(lengths[-1]), "truncated": result["truncated"], "max_new_tokens": max_new_tokens,
        "correct_examples": [e for e in examples if e["verdict"]][:shown],
        "wrong_examples": [e for e in examples if not e["verdict"]][:shown],
    }


def preview_rows(result: dict, rows: list[dict]) -> list[dict]:
    """One record per row: prompt, completion, the answer the check read, gold, verdict, tokens."""
    out = []
    for row, text, ok, n in zip(rows, result["completions"], result["per_example"]["correct"],
                                result["per_example"]["tokens"], strict=True):
        prompt = row["prompt"] if isinstance(row["prompt"], str) else row["prompt"][-1]["content"]
        out.append({"prompt": prompt, "completion": text, "extracted": answer_check.extract(row.get("answer_check"), text),
                    "gold": row["answer"], "verdict": bool(ok), "tokens": n})
    return out


def write_preflight_rows(path, examples: list[dict]) -> None:
    """`preview_rows` as JSONL, written whole or not at all."""
    import json

    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for record in examples:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def print_preflight(report: dict) -> None:
    f1 = f", F1 {report['f1']:.3f}" if "f1" in report else ""
    if "strict_em" in report:
        f1 = f", strict EM {report['strict_em']:.3f}" + f1
    lines = ["", f"=== Preflight: the untrained model on {report['n']} val rows (answer_check {report['answer_check']}) ===",
             f"EM {report['em']:.3f}{f1}",
             f"tokens mean {report['mean_tokens']:.1f}, p50 {report['p50_tokens']:.0f}, p90 {report['p90_tokens']:.0f}, "
             f"p99 {report['p99_tokens']:.0f}, max {report['max_tokens']:.0f}; "
             f"{report['truncated']:.1%} cut at the cap of {report['max_new_tokens']}"]
    for title, key in (("right", "correct_examples"), ("wrong", "wrong_examples")):
        for e in report[key]:
            lines.append(f"  [{title}] prompt {_short(e['prompt'], tail=True)} | completion {_short(e['completion'])} | "
                         f"extracted {e['extracted']!r} | gold {e['gold']!r}")
    print("\n".join(lines), flush=True)


def _short(text, n: int = 70, tail: bool = False) -> str:
    """One line of at most `n` characters: the start, or with `tail` the end (where a prompt's question is)."""
    text = " ".join(str(text).split())
    if len(text) <= n:
        return repr(text)
    return repr("..." + text[3 - n:] if tail else text[: n - 3] + "...")


def flat_metrics(result: dict, prefix: str = "eval") -> dict[str, float]:
    """W&B/trainer-log friendly scalars: eval/em, eval/mean_tokens, eval/d3/em, ..."""
    out = {f"{prefix}/{k}": v for k, v in result.items() if isinstance(v, (int, float)) and k != "n"}
    for level, sub in result.get("by_difficulty", {}).items():
        out[f"{prefix}/d{level}/em"] = sub["em"]
        out[f"{prefix}/d{level}/mean_tokens"] = sub["mean_tokens"]
    return out


def val_evaluation(trainer, tokenizer, rows: list[dict], max_new_tokens: int, step: int, desc="val eval") -> dict:
    """Greedy val evaluation of the trainer's model at `step`, computed once per step: the periodic
    evaluation and a budget-schedule stage end that fall on the same step share one result (the model has
    not changed between them)."""
    memo = getattr(trainer, "_terse_val_eval", None)
    if memo is not None and memo[0] == step:
        return memo[1]
    result = evaluate(trainer.model, tokenizer, rows, max_new_tokens, desc=desc)
    trainer._terse_val_eval = (step, result)
    return result


class PeriodicEval(Callback):
    """A TrainerCallback (duck-typed, added with `trainer.add_callback`) that evaluates greedily on val every
    `every` optimizer steps, logs EM and tokens overall and per difficulty level, and — given a selection
    rule — asks for a checkpoint whenever an evaluation is the best so far (protected from rotation as the
    trainer's best checkpoint) and stops training once λ and the val metrics have settled for `patience`
    evaluations (`train/selection.py`)."""

    def __init__(self, trainer, tokenizer, rows: list[dict], max_new_tokens: int, every: int,
                 rule: SelectionRule | None = None, patience: int = 0, adaptive: bool = False, max_patience: int = 0):
        self.trainer, self.tokenizer, self.rows = trainer, tokenizer, rows
        self.max_new_tokens, self.every = max_new_tokens, every
        self.rule, self.patience = rule, patience
        self.adaptive, self.max_patience = adaptive, max_patience
        self.records: list[dict] = []  # {step, em, mean_tokens, lambda}, one per evaluation
        self.stopped_early_at: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        """On resume, the evaluations before the checkpoint come back from the trainer's log history."""
        self.records = [
            {"step": h["step"], "em": h["eval/em"], "mean_tokens": h["eval/mean_tokens"], "lambda": h.get("eval/lambda", 0.0)}
            for h in state.log_history if "eval/em" in h
        ]

    def on_step_end(self, args, state, control, **kwargs):
        if self.every <= 0 or state.global_step % self.every or state.global_step == state.max_steps:
            return
        result = val_evaluation(self.trainer, self.tokenizer, self.rows, self.max_new_tokens, state.global_step)
        record = {"step": state.global_step, "em": result["em"], "mean_tokens": result["mean_tokens"],
                  "lambda": float(self.trainer.controller.lam)}
        self.records.append(record)
        metrics = {**flat_metrics(result), "eval/lambda": record["lambda"]}
        if self.rule is not None:
            metrics["eval/feasible"] = float(self.rule.feasible(record))
            if select(self.records, self.rule) is record:  # the best so far: keep this checkpoint
                control.should_save = True
                state.best_global_step = state.global_step
                state.best_metric = record["em"] if self.rule.mode != "em_floor" else -record["mean_tokens"]
                state.best_model_checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if self.adaptive:
            metrics["eval/patience"] = float(adaptive_patience(self.records, self.patience, self.max_patience)[0])
        self.trainer.log(metrics)
        if (settled_adaptive(self.records, self.patience, self.max_patience) if self.adaptive
                else settled(self.records, self.patience)):
            self.stopped_early_at = state.global_step
            control.should_training_stop = True
            control.should_save = True


# -- command line: evaluate a base model or adapters, and A/B-test two of them ---------------------------
CLI_DOC = """Evaluate the base model and/or adapters on a split; with two models, a paired bootstrap A/B test.

    python -m train.evaluate runs/arith                       # a run: its base model and its adapter
    python -m train.evaluate base runs/arith --split test      # A = the base model, B = the run's adapter
    python -m train.evaluate runs/a runs/b --temperature 1.0   # two runs, greedy and sampled, A/B on both
    python -m train.evaluate base runs/a --num_beams 4 --temperature 1.0 --samples 5   # decoding side by side
    python -m train.evaluate --model M --dataset_name my.csv --prompt_column q --answer_column gold \\
        --answer_check text                                    # the preflight: look before you train

A model is `base`, a run directory (its `export/` or `adapter/` and `summary.json`), or an adapter
directory. Writes JSON (`--out`, default `<first run>/eval_<split>.json`) and, with `--report_to wandb`,
logs the figures as a W&B eval run (offline unless a server is reachable).
"""


# The data flags are DataSpec's fields (one source of names); skip_bad_rows is a switch of its own.
DATA_FLAGS = tuple(name for name in DataSpec.__dataclass_fields__ if name != "skip_bad_rows")


def _resolve(spec: str, base_model: str | None) -> tuple[str, str | None, dict]:
    """(base model path, adapter path or None, the run's summary or {}) for one model spec."""
    import json
    from pathlib import Path

    if spec == "base":
        if not base_model:
            raise ValueError("'base' needs --model, or a run/adapter beside it to take the base model from")
        return base_model, None, {}
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"no such run or adapter directory: {spec}")
    summary = json.loads((path / "summary.json").read_text()) if (path / "summary.json").exists() else {}
    for adapter in (path / "export", path / "adapter", path):
        if (adapter / "adapter_config.json").exists():
            config = json.loads((adapter / "adapter_config.json").read_text())
            return base_model or summary.get("base_model") or config["base_model_name_or_path"], str(adapter), summary
    raise FileNotFoundError(f"{spec}: no adapter_config.json in it, its export/ or its adapter/")


def cli(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=CLI_DOC,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="one or two of: base, a run directory, an adapter directory "
                        "(default with --model: base)")
    parser.add_argument("--model", help="base model path (default: the run's or the adapter's own)")
    parser.add_argument("--task", help="task name (default: the run's task, else arith)")
    parser.add_argument("--data_path", help="the task's local files (gsm8k)")
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--size", type=int, help="only the first N rows")
    parser.add_argument("--val_size", type=int, help="val rows as the run draws them (default: the run's, else the task's)")
    parser.add_argument("--seed", type=int, default=None, help="the split's seed (default: the run's, else 0)")
    parser.add_argument("--max_new_tokens", type=int, default=None, help="default: the run's, else 128")
    parser.add_argument("--temperature", type=float, help="also evaluate sampled completions at this temperature")
    parser.add_argument("--num_beams", type=int, default=1, help="also evaluate beam search with this many beams")
    parser.add_argument("--samples", type=int, default=1,
                        help="with --temperature: also a majority vote over this many samples per prompt")
    parser.add_argument("--budget", type=float, help="a budget-conditioned run: also serve it through its allocator "
                        "at this mean-token target T (any T, same adapter)")
    parser.add_argument("--budget_ratio", type=float, help="as --budget, T = this × the run's base tokens")
    parser.add_argument("--front", action="store_true", help="a budget-conditioned run: EM, tokens and adherence at "
                        "every budget of its grid, and served through its allocator at T = 0.3 … 0.7 × base beside "
                        "the best single budget (a table and a PNG beside --out; train/front.py)")
    parser.add_argument("--stream", action="store_true", help="with --budget: the allocator's online control on, "
                        "rows in order, observe() after every 10 (reports per-100-request windows)")
    parser.add_argument("--folds", type=int, default=0, help="also report EM and tokens on K disjoint folds of "
                        "the rows (K >= 2), with their spread")
    parser.add_argument("--n_boot", type=int, default=5000)
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--report_to", default="none", choices=["none", "wandb"])
    parser.add_argument("--rows_out", help="JSONL of every row (prompt, completion, extracted, gold, verdict); "
                        "default: beside --out")
    data = parser.add_argument_group("your own data (as train/run.py takes them; train/tasks/dataset.py)")
    for name in DATA_FLAGS:
        data.add_argument(f"--{name}", help="numeric, text, choice, regex:<pattern>, module:function"
                          if name == "answer_check" else None)
    data.add_argument("--skip_bad_rows", action="store_true")
    args = parser.parse_args(argv)
    if not args.models:
        if not args.model:
            parser.error("give a model: --model M, or a run / adapter directory")
        args.models = ["base"]
    if len(args.models) > 2:
        parser.error("give one or two models")
    if args.samples > 1 and args.temperature is None:
        parser.error("--samples needs --temperature (the vote is over sampled completions)")
    if args.num_beams < 1 or args.samples < 1:
        parser.error("--num_beams and --samples must be at least 1")
    if args.folds == 1 or args.folds < 0:
        parser.error("--folds must be 0 (off) or at least 2")
    try:
        return _run_cli(args)
    except (ValueError, KeyError, OSError) as err:
        print(f"train.evaluate: error: {err}", file=sys.stderr)
        return 2


def _run_cli(args) -> int:
    import json
    from pathlib import Path

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.ab_test import paired_bootstrap

    specs = [s for s in args.models if s != "base"]
    resolved = {s: _resolve(s, args.model) for s in specs}  # run/adapter → (base model, adapter, summary)
    base_default = args.model or (resolved[specs[0]][0] if specs else None)
    resolved["base"] = _resolve("base", base_default) if "base" in args.models else None
    summary = next((r[2] for s, r in resolved.items() if s != "base" and r[2]), {})
    seed = args.seed if args.seed is not None else summary.get("seed", 0)
    max_new = args.max_new_tokens or summary.get("max_completion_length") or 128
    task, task_name = _task(args, summary)
    rows = task.load(seed, args.val_size or summary.get("val_size"), args.data_path)[1] if args.split == "val" else task.test_rows(seed, args.data_path)
    rows = rows[: args.size] if args.size else rows

    results = {}
    for spec in args.models:
        base_path, adapter, _ = resolved[spec]
        tokenizer = AutoTokenizer.from_pretrained(adapter or base_path)
        from train.tasks.dataset import prompts_for

        rows = prompts_for(tokenizer, rows)
        model = AutoModelForCausalLM.from_pretrained(base_path)
        if adapter:
            model = PeftModel.from_pretrained(model, adapter)
        entry = {"base_model": base_path, "adapter": adapter, "greedy": evaluate(model, tokenizer, rows, max_new, desc=spec)}
        if adapter and (args.budget or args.budget_ratio):
            entry["served"] = _serve(model, tokenizer, rows, adapter, resolved[spec][2], args, max_new)
        if adapter and args.front:
            from train.front import run_front

            png = Path(args.out).with_suffix(".png") if args.out else Path(spec) / f"front_{args.split}.png"
            entry["front"] = run_front(model, tokenizer, rows, adapter, resolved[spec][2], max_new, png, budget_records)
        if args.num_beams > 1:
            entry[f"beam{args.num_beams}"] = evaluate(model, tokenizer, rows, max_new, desc=spec, num_beams=args.num_beams)
        if args.temperature is not None:
            entry["sampled"] = evaluate(model, tokenizer, rows, max_new, desc=spec, temperature=args.temperature)
        if args.samples > 1:
            entry[f"vote{args.samples}"] = evaluate(model, tokenizer, rows, max_new, desc=spec,
                                                    temperature=args.temperature, samples=args.samples)
        results[spec if spec not in results else f"{spec}#2"] = entry

    report = {"task": task_name, "split": args.split, "n": len(rows), "seed": seed, "max_new_tokens": max_new,
              "models": {}, "ab_test": {}}
    for name, entry in results.items():
        report["models"][name] = {k: {m: v for m, v in r.items() if m not in ("completions", "per_example")}
                                  for k, r in entry.items() if isinstance(r, dict)}
        if args.folds:
            for mode, r in entry.items():
                if isinstance(r, dict) and "per_example" in r and not (mode == "served" and args.stream):
                    report["models"][name][mode]["folds"] = fold_report(rows, r["per_example"], args.folds, seed)
    if len(results) == 2:
        (name_a, a), (name_b, b) = results.items()
        for mode in a:
            if mode in b and isinstance(a[mode], dict) and "per_example" in a[mode]:
                pa, pb = a[mode]["per_example"], b[mode]["per_example"]
                report["ab_test"][mode] = {"a": name_a, "b": name_b, **paired_bootstrap(
                    pa["correct"], pb["correct"], pa["tokens"], pb["tokens"], n_boot=args.n_boot, seed=seed)}
    first = next(iter(results.values()))["greedy"]
    examples = preview_rows(first, rows)
    report["preflight"] = preflight_report(first, rows, examples, max_new)
    out = Path(args.out) if args.out else Path(specs[0] if specs else ".") / f"eval_{args.split}.json"
    out.write_text(json.dumps(report, indent=1))
    rows_out = Path(args.rows_out) if args.rows_out else out.with_name(out.stem + "_rows.jsonl")
    write_preflight_rows(rows_out, examples)
    _print_report(report)
    if args.folds:
        for name, modes in report["models"].items():
            for mode, r in modes.items():
                if isinstance(r, dict) and "folds" in r:
                    f = r["folds"]
                    print(f"{name} {mode}, {f['folds']} folds: EM " + " ".join(f"{x['em']:.3f}" for x in f["per_fold"])
                          + f" (mean {f['em_mean']:.3f} ± {f['em_std']:.3f} sd, range {f['em_range']:.3f}); tokens "
                          + " ".join(f"{x['mean_tokens']:.1f}" for x in f["per_fold"]) + f" (± {f['tokens_std']:.1f})")
    print_preflight(report["preflight"])
    print(f"\nwrote {out} and {rows_out}")
    if args.report_to == "wandb":
        _log_wandb(report, out.parent)
    return 0


def _serve(model, tokenizer, rows, adapter: str, summary: dict, args, max_new: int) -> dict:
    """The run as served through its allocator at --budget (or --budget_ratio × its base tokens)."""
    from train.allocator import Allocator

    allocator = Allocator.load(adapter)
    target = args.budget or args.budget_ratio * summary["base"]["mean_tokens"]
    allocator.set_target(target)
    result = evaluate_allocated(model, tokenizer, rows, allocator, max_new, stream=args.stream)
    result["target"], result["mu"] = target, result["plan"]["mu"] if not args.stream else allocator.mu
    print(f"served at T = {target:.1f}: EM {result['em']:.3f}, {result['mean_tokens']:.1f} tokens, adherence "
          f"{result['adherence']:.3f}, μ {result['mu']:.4f}" + (
              f", worst 100-request window {max(w['mean_tokens'] for w in result['windows']) / target:.3f}·T"
              if args.stream else ""))
    return result


def _task(args, summary: dict):
    """(task, name): your own data when --dataset_name is given (or the run was trained on them), else the
    built-in task named by --task or the run."""
    from train import tasks

    given = {k: getattr(args, k) for k in DATA_FLAGS if getattr(args, k) is not None}
    recorded = summary.get("data_spec") or {}
    if given.get("dataset_name") or recorded.get("dataset_name"):
        from train.tasks.dataset import DatasetTask

        fields = {**recorded, **given, "skip_bad_rows": args.skip_bad_rows or recorded.get("skip_bad_rows", False)}
        spec = DataSpec(**{k: v for k, v in fields.items() if k in DataSpec.__dataclass_fields__})
        return DatasetTask(spec), spec.dataset_name
    if args.answer_check not in (None, "numeric"):
        raise ValueError(f"--answer_check {args.answer_check} needs --dataset_name (the built-in tasks are numeric)")
    name = args.task or summary.get("task") or "arith"
    return tasks.get(name), name


def _print_report(report: dict) -> None:
    print(f"\n{report['task']} {report['split']} ({report['n']} prompts, ≤ {report['max_new_tokens']} new tokens)\n")
    print("| model | mode | EM | F1 | mean tokens | median | p90 | tokens/oracle | truncated |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, modes in report["models"].items():
        for mode, r in modes.items():
            if "em" not in r:  # the front has its own tables (printed by train/front.py)
                continue
            ratio = f"{r['tokens_over_oracle']:.2f}" if "tokens_over_oracle" in r else "–"
            f1 = f"{r['f1']:.3f}" if "f1" in r else "–"
            print(f"| {name} | {mode} | {r['em']:.3f} | {f1} | {r['mean_tokens']:.1f} | {r['median_tokens']:.0f} | "
                  f"{r['p90_tokens']:.0f} | {ratio} | {r['truncated']:.3f} |")
    for mode, t in report["ab_test"].items():
        print(f"\nA/B ({mode}, B = {t['b']} vs A = {t['a']}, paired bootstrap {t['level']:.0%}): "
              f"EM {t['em_diff']:+.3f} [{t['em_ci'][0]:+.3f}, {t['em_ci'][1]:+.3f}] (p = {t['p_em']:.3f}), "
              f"tokens {t['tokens_diff']:+.1f} [{t['tokens_ci'][0]:+.1f}, {t['tokens_ci'][1]:+.1f}]")


def _log_wandb(report: dict, where) -> None:
    from train.tracking import configure_wandb

    configure_wandb(["wandb"], str(where))
    try:
        import wandb

        run = wandb.init(project="terse", job_type="eval", config={k: report[k] for k in ("task", "split", "n", "seed")})
        for name, modes in report["models"].items():
            for mode, r in modes.items():
                run.summary.update({f"{name}/{mode}/{k}": v for k, v in r.items() if isinstance(v, (int, float))})
        for mode, t in report["ab_test"].items():
            run.summary.update({f"ab/{mode}/{k}": v for k, v in t.items() if isinstance(v, (int, float))})
        run.finish()
    except Exception as err:  # noqa: BLE001 - logging must never fail the evaluation
        logger.warning("W&B logging failed: %s", err)


if __name__ == "__main__":
    raise SystemExit(cli())
