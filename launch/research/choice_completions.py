"""Real multiple-choice completions to hold the `choice` check to hand labels (launch/research/check_answer_checks.py).

    python -m launch.research.choice_completions --race expmrc-race-dev.json --model .cache/terse/smollm2-135m-instruct \\
        --out choice_completions.jsonl

RACE dev questions (from ymcui/expmrc's `data/race/expmrc-race-dev.json`; fetch it, it is not shipped) put
to a small instruct model in four prompt styles, greedy and sampled, so the completions state their option
in many ways (or in none). Each line: style, question id, gold letter, completion; the label (the letter
the completion states as its answer, or null) is added by hand.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path


STYLES = {
    "letter only": "Reply with the letter of the correct option only.",
    "the answer is": "Explain in one sentence, then finish with 'The answer is <letter>.'",
    "free": "",
    "step by step": "Think step by step, then give your answer.",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--race", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--per_style", type=int, default=52)
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.generation import Decoding, generate

    data = json.loads(Path(args.race).read_text(encoding="utf-8"))["data"]
    questions = [(p["id"], i, p["article"], q, p["options"][i], p["answers"][i])
                 for p in data for i, q in enumerate(p["questions"])]
    random.Random(args.seed).shuffle(questions)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    records = []
    for k, (style, instruction) in enumerate(STYLES.items()):
        chosen = questions[k * args.per_style:(k + 1) * args.per_style]
        prompts = []
        for _, _, article, question, options, _ in chosen:
            text = " ".join(article.split()[:120])
            listed = "\n".join(f"{chr(65 + j)}. {o}" for j, o in enumerate(options))
            prompts.append([{"role": "user", "content": f"{text}\n\nQuestion: {question}\n{listed}\n{instruction}".strip()}])
        temperature = None if k % 2 == 0 else 0.8
        texts = generate(model, tokenizer, prompts, Decoding(args.max_new_tokens, temperature=temperature,
                                                                 seed=args.seed))[0]
        for (pid, i, _, _, _, gold), text in zip(chosen, texts, strict=True):
            records.append({"style": style, "id": f"{pid}-{i}", "gold": gold, "completion": text, "label": None})
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    print(f"wrote {len(records)} completions to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
