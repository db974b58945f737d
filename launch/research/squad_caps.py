"""Which completion cap for SmolLM2 on SQuAD? The untrained model's answers at caps 64, 128 and 256, from one run.

    python -m launch.research.squad_caps --model .cache/terse/smollm2-135m-instruct \\
        --data ~/.cache/terse/squad/data --split val --out docs/results/smollm2_squad_caps.json

Greedy decoding is deterministic, so the answer at cap c is the first c tokens of the answer at the largest
cap: one generation at 256 gives every smaller cap's figures (contains-EM, strict EM, F1, mean / p90 tokens,
share cut). Replies cut at the largest cap are the ones that loop; a few are shown. `--sample_temperature`
adds one sampled answer per question (for the `contains` agreement check, `--completions_out`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from rewards import answer_check
from train.generation import completion_ids, percentile
from train.tasks.dataset import DataSpec, load, prompts_for, read_split, to_rows

TEMPLATE = "{context}\n\nQuestion: {question}"


@torch.no_grad()
def generate_ids(model, tokenizer, prompts, max_new: int, batch_size: int, temperature=None, seed=0):
    """Per prompt the generated ids up to and including EOS (all `max_new` when cut) and whether it was cut."""
    tokenizer.padding_side = "left"
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    out = []
    sampling = {"do_sample": False} if temperature is None else {"do_sample": True, "temperature": temperature, "top_k": 0}
    torch.manual_seed(seed)
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        gen = model.generate(**batch, max_new_tokens=max_new, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id, **sampling)
        for ids in gen[:, batch["input_ids"].shape[1]:].tolist():
            out.append(completion_ids(ids, tokenizer.eos_token_id, tokenizer.pad_token_id))
    return out


def figures_at(tokenizer, rows, generated, cap: int) -> dict:
    texts, lengths, cut = [], [], []
    for ids, was_cut in generated:
        texts.append(tokenizer.decode(ids[:cap], skip_special_tokens=True))
        lengths.append(min(len(ids), cap))
        cut.append(was_cut or len(ids) > cap)
    golds = [r["answer"] for r in rows]
    right = [answer_check.contains(t, g) for t, g in zip(texts, golds)]
    return {"cap": cap, "n": len(rows), "contains_em": statistics.fmean(right),
            "strict_em": statistics.fmean(answer_check.text(t, g) for t, g in zip(texts, golds)),
            "f1": statistics.fmean(answer_check.contains_f1(t, g) for t, g in zip(texts, golds)),
            "mean_tokens": statistics.fmean(lengths), "p90_tokens": percentile(sorted(lengths), 0.9),
            "mean_tokens_right": statistics.fmean([n for n, r in zip(lengths, right) if r]) if any(right) else None,
            "cut": statistics.fmean(cut)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="a folder of train/val/test.jsonl (launch/prepare_squad.py)")
    parser.add_argument("--split", nargs="+", default=["val"])
    parser.add_argument("--caps", default="64,128,256")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--sample_temperature", type=float)
    parser.add_argument("--out")
    parser.add_argument("--completions_out", help="JSONL of every completion (question id, gold, text, kind)")
    args = parser.parse_args(argv)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    caps = sorted(int(c) for c in args.caps.split(","))
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=getattr(torch, args.dtype)).eval()
    spec = DataSpec(dataset_name=args.data, prompt_template=TEMPLATE, answer_column="answers", answer_check="contains")
    report, records = {"model": args.model, "dtype": args.dtype, "template": TEMPLATE, "splits": {}}, []
    for split in args.split:
        rows = prompts_for(tokenizer, to_rows(read_split(spec, split), spec, f"{args.data} [{split}]"))
        started = time.time()
        generated = generate_ids(model, tokenizer, [r["prompt"] for r in rows], caps[-1], args.batch_size)
        seconds = time.time() - started
        per_cap = [figures_at(tokenizer, rows, generated, c) for c in caps]
        looping = [tokenizer.decode(ids, skip_special_tokens=True) for ids, cut in generated if cut][:3]
        report["splits"][split] = {"per_cap": per_cap, "seconds": round(seconds, 1), "looping_examples": looping}
        for r, (ids, cut) in zip(rows, generated):
            records.append({"split": split, "kind": "greedy", "gold": r["answer"], "tokens": len(ids), "cut": cut,
                            "completion": tokenizer.decode(ids, skip_special_tokens=True)})
        if args.sample_temperature is not None:
            sampled = generate_ids(model, tokenizer, [r["prompt"] for r in rows], caps[-1], args.batch_size,
                                   temperature=args.sample_temperature)
            for r, (ids, cut) in zip(rows, sampled):
                records.append({"split": split, "kind": f"T{args.sample_temperature}", "gold": r["answer"],
                                "tokens": len(ids), "cut": cut, "completion": tokenizer.decode(ids, skip_special_tokens=True)})
        for f in per_cap:
            print(f"{split} cap {f['cap']}: contains-EM {f['contains_em']:.3f}, strict EM {f['strict_em']:.3f}, "
                  f"F1 {f['f1']:.3f}, tokens {f['mean_tokens']:.1f} (p90 {f['p90_tokens']:.0f}), cut {f['cut']:.1%}",
                  flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    if args.completions_out:
        with open(args.completions_out, "w") as f:
            for rec in records:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
