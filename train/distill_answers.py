"""The warm start's candidate answers, wherever they come from: the base model's own samples (plainly and under
length-eliciting instructions), each row's gold, quotes of the row's passage that hold the gold, and answers cut
to fit the budgets under a prompt's shortest right answer. `train/conditioning.py` tags them with budgets and
fine-tunes on them.

Why several sources: the warm start can teach a budget only through right answers of that length on the same
prompt. A small model's own right answers may all be of one length — SmolLM2-135M-Instruct on SQuAD: its right
samples and the golds were 4–27 tokens, so the warm start answered 9–10 tokens whatever budget it was told
(docs/log.md). An extractive task's passage holds longer right answers by construction (the sentence that
holds the gold, and its neighbours); a budget under every right answer asks for a short answer, not an
overshoot, so the shortest right answer cut to fit is what it should buy.
"""

from __future__ import annotations

import json
import re

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def instructed(prompt, instruction: str | None):
    """`prompt` with a length-eliciting instruction (None: as it is) — appended to text, or to the last user
    message of a chat prompt (the system message is the budget statement's)."""
    if not instruction:
        return prompt
    if isinstance(prompt, str):
        return f"{prompt}\n\n{instruction}"
    messages = [dict(m) for m in prompt]
    for m in reversed(messages):
        if m.get("role") == "user":
            m["content"] = f"{m.get('content', '')}\n\n{instruction}"
            return messages
    return messages + [{"role": "user", "content": instruction}]


def parse_instructions(text: str | None) -> list[str | None]:
    """`"Answer in a few words.|Explain step by step."` → [None, ...] (None: the plain prompt, always first)."""
    return [None] + [s.strip() for s in (text or "").split("|") if s.strip()]


def first_gold(row: dict) -> str:
    """The row's gold answer as text (the first, where it has several)."""
    return row["answer"] if isinstance(row["answer"], str) else str((row["answer"] or [""])[0])


def _candidate(tokenizer, row: dict, answer: str, instruction: str) -> dict | None:
    """`answer` as a right candidate answer to `row` (after a space where the prompt is text), or None where the
    row's own check rejects it. Counted as the model would spend it: its tokens plus the end of sequence."""
    from train.generation import is_right

    text = answer if not isinstance(row["prompt"], str) else " " + answer
    if not is_right(text, row):
        return None
    n = len(tokenizer(text, add_special_tokens=False)["input_ids"]) + 1
    return {"prompt": row["prompt"], "completion": text, "tokens": n, "correct": True, "instruction": instruction}


def gold_answers(tokenizer, rows: list[dict]) -> list[dict]:
    """Each row's gold answer as a candidate answer (`_candidate`), kept where the row's own check accepts it (a
    SQuAD span: yes; a GSM8K number without its `####`: no). Why: the gold is the shortest right answer a row has,
    the one a small budget should teach; sampling alone rarely finds it."""
    golds = ((row, first_gold(row)) for row in rows)
    out = [_candidate(tokenizer, row, gold, "(gold answer)") for row, gold in golds if gold.strip()]
    return [c for c in out if c]


def sample_answers(ctx, rows: list[dict]) -> list[dict]:
    """The base model's sampled answers: every row × instruction (`distill_instructions`, the plain prompt first) ×
    sample (`distill_samples`, at `distill_temperature`, seeded by the run's seed), scored by the row's check."""
    from train.generation import Decoding, generate, is_right

    a, seed = ctx.script_args, ctx.training_args.seed
    out = []
    for i, instruction in enumerate(parse_instructions(a.distill_instructions)):
        prompts = [instructed(r["prompt"], instruction) for r in rows]
        for k in range(a.distill_samples):
            decoding = Decoding(ctx.max_new, temperature=a.distill_temperature, seed=seed * 1000 + i * 100 + k)
            texts, lengths, truncated = generate(ctx.model, ctx.tokenizer, prompts, decoding, desc=f"distill {i}.{k}")
            for row, text, n, cut in zip(rows, texts, lengths, truncated, strict=True):
                out.append({"prompt": row["prompt"], "completion": text, "tokens": n,
                            "correct": (not cut) and is_right(text, row), "instruction": instruction})
    return out


def passage_quotes(passage: str, gold: str, around: int = 1) -> list[str]:
    """Quotes of `passage` that hold `gold`, shortest first: the first sentence that holds it, then that sentence
    with `around` sentences on each side. Empty where no one sentence holds it (a gold across a break).

    >>> p = "Rome is old. The Broncos won in Denver in 2016. It rained. Fans cheered."
    >>> passage_quotes(p, "denver")
    ['The Broncos won in Denver in 2016.', 'Rome is old. The Broncos won in Denver in 2016. It rained.']
    >>> passage_quotes("One sentence about Denver.", "Denver")
    ['One sentence about Denver.']
    >>> passage_quotes(p, "Paris")
    []
    """
    sentences = [s.strip() for s in _SENTENCE_BREAK.split(passage.strip()) if s.strip()]
    at = next((i for i, s in enumerate(sentences) if gold.lower() in s.lower()), None)
    if at is None:
        return []
    quotes = [sentences[at]]
    wide = " ".join(sentences[max(0, at - around): at + around + 1])
    return quotes + [wide] if wide != quotes[0] else quotes


def passage_answers(tokenizer, rows: list[dict], column: str) -> list[dict]:
    """Each row's passage quotes that hold its first gold (`passage_quotes`), as candidate answers (`_candidate`),
    kept where the row's own check accepts them.

    Raises ValueError naming the column when no row has it as text (the option names a column the data lack)."""
    if not any(isinstance(r.get(column), str) for r in rows):
        raise ValueError(f"distill_passage_column {column!r}: no train row has a text column of that name (the "
                         f"general loader keeps every text column of the data; columns here: "
                         f"{sorted(rows[0]) if rows else []})")
    out = []
    for row in rows:
        gold = first_gold(row)
        if not isinstance(row.get(column), str) or not gold.strip():
            continue
        for rung, quote in zip(("sentence", "sentence and neighbours"), passage_quotes(row[column], gold)):
            out.append(_candidate(tokenizer, row, quote, f"(passage: {rung})"))
    return [c for c in out if c]


def cut_to_fit(tokenizer, samples: list[dict], grid: list[int]) -> list[dict]:
    """Tagged examples for the grid budgets under each prompt's shortest right answer: that answer's first
    b − 1 tokens (the end of sequence is the b-th) at budget b. Not right (`correct` False): they teach that a
    budget too small to be right in still buys a short answer. Budgets under 2 get none (nothing but the end).

    >>> class Chars:  # one token per character
    ...     def __call__(self, text, add_special_tokens=False): return {"input_ids": [ord(c) for c in text]}
    ...     def decode(self, ids): return "".join(map(chr, ids))
    >>> s = [{"prompt": "q", "completion": " Denver", "tokens": 8, "correct": True},
    ...      {"prompt": "q", "completion": "x", "tokens": 2, "correct": False}]
    >>> [(t["completion"], t["budget"]) for t in cut_to_fit(Chars(), s, [1, 3, 5, 8, 16])]
    [(' D', 3), (' Den', 5)]
    """
    shortest: dict[str, dict] = {}
    for s in samples:
        if s["correct"] and s["tokens"] <= max(grid):
            key = json.dumps(s["prompt"], sort_keys=True)  # one prompt, as `tag_answers` groups them
            if key not in shortest or s["tokens"] < shortest[key]["tokens"]:
                shortest[key] = s
    out = []
    for s in shortest.values():
        ids = tokenizer(s["completion"], add_special_tokens=False)["input_ids"]
        for b in sorted(grid):
            if 2 <= b < s["tokens"]:
                text = tokenizer.decode(ids[: b - 1])
                n = len(tokenizer(text, add_special_tokens=False)["input_ids"]) + 1
                if text.strip() and n <= b:
                    out.append({**s, "completion": text, "tokens": n, "correct": False, "budget": b,
                                "instruction": "(cut to fit)"})
    return out
