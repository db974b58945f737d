"""Published models' MMLU-Pro completions, drawn for hand labels (the `choice` check's held-out sets).

    python -m launch.research.mmlu_pro_choice_sample --results MMLU-Pro/eval_results --seed 4 \\
        --models Llama-2-7b-hf,gemma-7b,Mistral-7B-Instruct-v0.1,Phi-3-mini-4k-instruct,Qwen1.5-7B-Chat,Yi-6b-Chat,Meta-Llama-3_1-8B-Instruct,gemini-1.5-flash-002 \\
        --out mmlu_pro_sample.jsonl

Why these: the RACE sets (choice_completions.py) are one 135M-parameter model's text; a user brings larger
instruct and base models, whose completions differ in kind (few-shot continuations, TeX, "none of the
options", boxed letters). TIGER-AI-Lab/MMLU-Pro publishes every model's raw completion to its 12,032
questions (`eval_results/model_outputs_<model>_5shots.zip`, one JSON list per model; fetch the repository,
it is not shipped; unzip each). Per model, `--per_model` completions: half drawn at random, half from those
that do not contain MMLU-Pro's own pattern "answer is (X)" — the styles a simple regex misses, which a
uniform draw would leave at ~15% of the set. Each line: source model, stratum, question id, gold letter,
completion; the label (the letter the completion states as its answer to the question asked, or null) is
added by hand, without looking at what the check reads.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

PLAIN = re.compile(r"answer is \(?([A-J])\)?")  # MMLU-Pro's first extraction pattern


def completion_text(row: dict) -> str | None:
    """The model's completion: `generated_text` (local models) or `model_outputs` (API models)."""
    text = row.get("generated_text") if row.get("generated_text") is not None else row.get("model_outputs")
    return text if isinstance(text, str) and text.strip() else None


def draw(rows: list[dict], rng: random.Random, count: int) -> list[tuple[str, dict]]:
    """`count // 2` rows at random, then as many without "answer is (X)" among the rest."""
    rows = [r for r in rows if isinstance(r, dict) and completion_text(r)]
    picks = [("random", r) for r in rng.sample(rows, count // 2)]
    chosen = {r["question_id"] for _, r in picks}
    plain_missing = [r for r in rows if not PLAIN.search(completion_text(r)) and r["question_id"] not in chosen]
    picks += [("no 'answer is (X)'", r) for r in rng.sample(plain_missing, count - count // 2)]
    return picks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", required=True, help="a folder with one unzipped <model>/ folder per model")
    parser.add_argument("--models", required=True, help="comma-separated model folder names, in draw order")
    parser.add_argument("--per_model", type=int, default=26)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = []
    for model in args.models.split(","):
        files = sorted(Path(args.results, model).rglob("*.json"))
        if not files:
            parser.error(f"no JSON file under {Path(args.results, model)} (unzip model_outputs_{model}_5shots.zip there)")
        rows = json.loads(files[0].read_text(encoding="utf-8"))
        for stratum, row in draw(rows, rng, args.per_model):
            out.append({"style": stratum, "source": model, "id": f"mmlu-pro-{row['question_id']}",
                        "gold": row["answer"], "completion": completion_text(row)})
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
    print(f"{len(out)} completions from {len(args.models.split(','))} models -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
