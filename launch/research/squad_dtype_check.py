"""Does SmolLM2 in bfloat16 answer SQuAD as in float32? The untrained model on the first 60 val rows, both dtypes.

    python -m launch.research.squad_dtype_check > docs/results/smollm2_squad_bf16_check.json

Why: the long CPU runs use `--dtype bfloat16 --bf16 true` (about twice the speed on a CPU with avx512_bf16);
the figures they report should not depend on it. Prints contains-EM, strict EM, F1, mean tokens and cut share
per dtype and on how many rows the two verdicts agree (greedy paths can part after a near-tie).
"""
import json, statistics, torch
torch.set_num_threads(1)
from transformers import AutoModelForCausalLM, AutoTokenizer
from train.generation import evaluate
from train.tasks.dataset import DataSpec, prompts_for, read_split, to_rows
spec = DataSpec(dataset_name=".cache/terse/squad", prompt_template="{context}\n\nQuestion: {question}", answer_column="answers", answer_check="contains")
tok = AutoTokenizer.from_pretrained(".cache/terse/smollm2-135m-instruct")
rows = prompts_for(tok, to_rows(read_split(spec, "val"), spec, "val"))[:60]
out = {}
for dtype in ("float32", "bfloat16"):
    model = AutoModelForCausalLM.from_pretrained(".cache/terse/smollm2-135m-instruct", dtype=getattr(torch, dtype))
    r = evaluate(model, tok, rows, 128, batch_size=20)
    out[dtype] = {k: r[k] for k in ("em", "strict_em", "f1", "mean_tokens", "truncated")}
    out[dtype]["correct"] = r["per_example"]["correct"]
same = sum(a == b for a, b in zip(out["float32"]["correct"], out["bfloat16"]["correct"]))
for d in out: out[d].pop("correct")
print(json.dumps({"n": len(rows), "same_verdict": same, **out}))
