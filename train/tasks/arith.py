"""The embedded task `arith`: chained integer arithmetic with traces from terse to verbose.

Why this task: it needs no download, a model of a few million parameters learns it on a CPU in minutes,
and it has an *oracle* — for every problem we know exactly how short a sufficient answer can be — so we
can tell how close length training gets to the limit instead of guessing.

A problem is a chain of 1–5 operations (`+`/`-`) on small integers, evaluated left to right, e.g.
`7 + 5 - 9 + 3`. Its difficulty is the number of operations. Every intermediate value stays in
[0, MAX_VALUE], so the whole task is a few hundred arithmetic facts plus the skill of stepping through
the chain.

Traces (completions) are a **continuum** of verbosity, all ending in `#### N`:

    direct   (only difficulty 1)   #### 12
    concise  (one fact per step)   7 + 5 = 12 ; 12 - 9 = 3 ; 3 + 3 = 6 ; #### 6
    verbose                         7 + 5 = 12 ; so we have 12 ; check 12 - 5 = 7 ok ; 12 - 9 = 3 ; ...

A verbose step carries 0–2 extras in a fixed order (restate, then re-check). The number of extras is
drawn per step from a beta-binomial whose mean rises with a per-trace verbosity v ~ U(0, 1), so every
length between the oracle and the wordiest trace is represented in the warm-start data, and a policy can
reach any token target in between by dropping extras one at a time.

*Sufficient* means every operation is computed with both of its operands written next to it. For one
operation the prompt already shows them, so the direct answer suffices; for more, each running value
has to be written down before the next operation, i.e. the concise trace. `oracle_tokens` is the token
length of that shortest sufficient trace (its end-of-sequence token included), measured with the tokenizer
that the model uses.
"""

from __future__ import annotations

import random
from collections.abc import Callable

MAX_VALUE = 20  # every operand, intermediate and answer lies in [0, MAX_VALUE]
MAX_OPERAND = 9
MAX_OPS = 5
MAX_EXTRAS = 2  # extras per step: restate, then re-check
SPLIT_SIZES = {"train": 20000, "val": 300, "test": 500}
SPLIT_SEED_OFFSETS = {"train": 0, "val": 1, "test": 2}
DIRECT_ANSWER_RATE = 0.3  # share of difficulty-1 warm-start traces that answer directly
CONCISE_TRACE_RATE = 0.15  # share of warm-start traces that are the concise trace (no extras at all)


def vocabulary() -> list[str]:
    """Every word a prompt or trace can contain (the tokenizer is word-level over exactly these)."""
    numbers = [str(i) for i in range(MAX_VALUE + 1)]
    return numbers + ["+", "-", "=", ";", "?", "so", "we", "have", "check", "ok", "####"]


def _apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b


def make_problem(rng: random.Random, n_ops: int) -> dict:
    """One chain of `n_ops` operations whose running value never leaves [0, MAX_VALUE]."""
    value = rng.randint(0, MAX_OPERAND)
    start, ops = value, []
    for _ in range(n_ops):
        choices = [("+", b) for b in range(MAX_OPERAND + 1) if value + b <= MAX_VALUE]
        choices += [("-", b) for b in range(MAX_OPERAND + 1) if value - b >= 0]
        op, b = rng.choice(choices)
        ops.append((op, b))
        value = _apply(value, op, b)
    expr = " ".join([str(start)] + [f"{op} {b}" for op, b in ops])
    return {"start": start, "ops": ops, "answer": value, "difficulty": n_ops, "expression": expr}


def prompt_text(problem: dict) -> str:
    return f"{problem['expression']} ?"


def steps(problem: dict) -> list[tuple[int, str, int, int]]:
    """(left, op, right, result) for every operation, left to right."""
    out, value = [], problem["start"]
    for op, b in problem["ops"]:
        result = _apply(value, op, b)
        out.append((value, op, b, result))
        value = result
    return out


def trace_text(problem: dict, extras: list[int] | None) -> str:
    """A trace: `extras=None` is the direct answer, else one count of extras (0..MAX_EXTRAS) per step."""
    parts = []
    if extras is not None:
        for (a, op, b, c), n_extra in zip(steps(problem), extras, strict=True):
            parts.append(f"{a} {op} {b} = {c} ;")
            inverse = "-" if op == "+" else "+"
            extra_texts = [f"so we have {c} ;", f"check {c} {inverse} {b} = {a} ok ;"]
            parts.extend(extra_texts[:n_extra])
    parts.append(f"#### {problem['answer']}")
    return " ".join(parts)


def oracle_trace(problem: dict) -> str:
    """The shortest sufficient trace (see the module docstring)."""
    if problem["difficulty"] == 1:
        return trace_text(problem, None)
    return trace_text(problem, [0] * problem["difficulty"])


def sample_trace(problem: dict, rng: random.Random) -> str:
    """A warm-start trace of random verbosity: v ~ U(0,1), extras per step ~ Binomial(MAX_EXTRAS, p_step),
    p_step ~ Beta(1 + 3v, 1) so steps vary within a trace and traces vary in their overall wordiness.
    The mix leans verbose (mean p ≈ 0.7), so the warm-started model's greedy answers are the wordy ones
    while its samples still cover every length down to the concise trace.

    A share `CONCISE_TRACE_RATE` of traces is the concise trace itself. Why: from the beta-binomial alone a
    five-step trace with no extra at all is rare (≈ 0.04%), and a base model warm-started without them
    computed concise five-operation traces right only 57% of the time (teacher-forced, val) against 100%
    for the wordy ones — the oracle length was then out of reach for reasons of the base model, not of
    length training. With them it can write every difficulty's concise trace, and greedy still leans wordy
    (a step has no extra in ≈ 30% of traces)."""
    if problem["difficulty"] == 1 and rng.random() < DIRECT_ANSWER_RATE:
        return trace_text(problem, None)
    if rng.random() < CONCISE_TRACE_RATE:
        return trace_text(problem, [0] * problem["difficulty"])
    v = rng.random()
    extras = []
    for _ in range(problem["difficulty"]):
        p = rng.betavariate(1.0 + 3.0 * v, 1.0)
        extras.append(sum(rng.random() < p for _ in range(MAX_EXTRAS)))
    return trace_text(problem, extras)


def build_split(split: str, seed: int, count_tokens: Callable[[str], int], size: int | None = None) -> list[dict]:
    """A fixed split: the same `seed` and `split` always give the same rows. Difficulties are balanced.

    Each row: prompt, answer (gold, a string), difficulty, oracle_tokens, and `completion` (one warm-start
    trace of random verbosity, used by the SFT warm start only).
    """
    if split not in SPLIT_SIZES:
        raise ValueError(f"unknown arith split {split!r}; expected one of {sorted(SPLIT_SIZES)}")
    rng = random.Random(seed * 1000 + SPLIT_SEED_OFFSETS[split])
    n = SPLIT_SIZES[split] if size is None else size
    held_out = set()
    if split == "train":  # keep val/test prompts out of train
        for other in ("val", "test"):
            held_out |= {row["prompt"] for row in build_split(other, seed, count_tokens)}
    rows = []
    while len(rows) < n:
        problem = make_problem(rng, n_ops=len(rows) % MAX_OPS + 1)
        prompt = prompt_text(problem)
        if prompt in held_out:
            continue
        rows.append(
            {
                "prompt": prompt,
                "answer": str(problem["answer"]),
                "difficulty": problem["difficulty"],
                "oracle_tokens": count_tokens(oracle_trace(problem)) + 1,  # + end of sequence
                "completion": " " + sample_trace(problem, rng),
            }
        )
    return rows
