"""The benchmark task `chain`: arithmetic chains answered in modes from fully worked to straight to the answer.

Why this task: on `arith` the shortest *reliable* answer is one discrete format (every step written out),
so every length method finds it and they all tie at EM 1.000. A benchmark must instead make accuracy fall
*gradually* as answers get shorter, by an amount that depends on the prompt, so that spending tokens
where they buy accuracy (long answers on hard prompts, short ones on easy prompts) beats spending them
evenly. Here the trade-off comes from the model's own limits: a tiny model that writes a running value
after each operation gets long chains right; one that does several operations "in its head" between
written values gets them wrong more often the more operations it folds, and a one-operation prompt loses
nothing however it is answered.

A problem is `arith`'s chain of 1–`MAX_OPS` operations on small integers (`7 + 5 - 9 + 3 ?`); its
difficulty is the number of operations, which the prompt shows but never states. A completion starts
with a *mode word* and ends in `#### N`:

    full    a + b = c ; check c - b = a ok ;  per operation       (worked and re-checked: the wordy default)
    steps   a + b = c ;                        per operation       (worked)
    pairs   c ;                                every 2nd operation (two operations folded per written value)
    direct                                     nothing             (all operations folded)

    e.g. `7 + 5 - 9 + 3 ?` →  steps 7 + 5 = 12 ; 12 - 9 = 3 ; 3 + 3 = 6 ; #### 6    pairs 3 ; #### 6    direct #### 6

Every mode is correct and complete: labels are never wrong on purpose. The warm start sees every mode
(`MODE_MIX`), wordy `full` most often, so the base model answers in `full` when left alone and in any
mode when its first word is forced (`launch/reliability.py` measures EM per mode and difficulty). What
it cannot do reliably is fold two or more operations into one written value (a two-operation fold is
right about half the time), and the errors compound along the chain: that limit of a 0.9M-parameter model
is the benchmark's reliability curve.

Why no mode writes a bare running value after every operation (`12 ; 3 ; 6`): the base model learned
that one as reliably as the worked steps (0.96–1.00 at every difficulty, measured) at a third of their
length, so it made every prompt's best answer cheap and length methods tied again — the budget never
bound. The modes kept are the ones whose cost and reliability differ by prompt.

`oracle_tokens` is the length of the shortest trace (direct, with its end-of-sequence token); it is a
lower bound, not a sufficient length: on this task the shortest *sufficient* length depends on the model,
which is the point (the reference is the allocation frontier of `launch/reliability.py` instead).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from train.tasks import arith

MAX_OPS = 6
MODES = ("full", "steps", "pairs", "direct")  # from the most detailed to the most compressed
STRIDES = {"pairs": 2}  # a written running value after every k operations
# Share of each mode in the warm-start traces: `full` leads so greedy answers are wordy; the folded modes
# are common enough that the model learns them as far as its size allows.
MODE_MIX = {"full": 0.40, "steps": 0.20, "pairs": 0.20, "direct": 0.20}
# Share of prompts per difficulty (1..MAX_OPS) in every split. The mix decides what per-prompt allocation is
# worth (the allocation frontier pulls away from a uniform cap where cells differ in what a token buys):
# many short prompts that need no steps and many long ones that need all of them, as in real traffic where
# most requests are easy and a few are long. Chosen from the first base model's curves.
DIFFICULTY_MIX = (2, 2, 1, 1, 1, 2)
SPLIT_SIZES = arith.SPLIT_SIZES
SPLIT_SEED_OFFSETS = {"train": 10, "val": 11, "test": 12}


def vocabulary() -> list[str]:
    return arith.vocabulary() + list(MODES)


def trace_text(problem: dict, mode: str) -> str:
    """The completion of `problem` in `mode` (without the leading space the prompt joins it with)."""
    if mode not in MODES:
        raise ValueError(f"unknown chain mode {mode!r}; expected one of {MODES}")
    parts = [mode]
    steps = arith.steps(problem)
    if mode in ("full", "steps"):
        for a, op, b, c in steps:
            parts.append(f"{a} {op} {b} = {c} ;")
            if mode == "full":
                parts.append(f"check {c} {'-' if op == '+' else '+'} {b} = {a} ok ;")
    elif mode in STRIDES:
        k = STRIDES[mode]
        parts += [f"{c} ;" for i, (_, _, _, c) in enumerate(steps[:-1], start=1) if i % k == 0]
    parts.append(f"#### {problem['answer']}")
    return " ".join(parts)


def mode_tokens(difficulty: int, mode: str) -> int:
    """Token length of a `mode` trace at `difficulty` (word-level tokenizer, end-of-sequence included)."""
    per = {"full": 14 * difficulty, "steps": 6 * difficulty, "direct": 0}
    body = per[mode] if mode in per else 2 * ((difficulty - 1) // STRIDES[mode])
    return 1 + body + 2 + 1


def _difficulty_cycle() -> list[int]:
    """Difficulties in the proportions of `DIFFICULTY_MIX`, cycled through row by row (balanced splits)."""
    return [d for d, w in enumerate(DIFFICULTY_MIX, start=1) for _ in range(w)]


def build_split(split: str, seed: int, count_tokens: Callable[[str], int], size: int | None = None,
                mode_mix: Callable[[int], dict[str, float]] | None = None) -> list[dict]:
    """A fixed split: the same `seed` and `split` always give the same rows (val/test prompts kept out of
    train). Each row: prompt, answer, difficulty, oracle_tokens, and one warm-start `completion` whose mode
    is drawn from `mode_mix(difficulty)` (default: `MODE_MIX` whatever the difficulty; used by the SFT warm
    start only). The mix changes which mode a row's completion is in, never its prompt: one draw per row
    whatever the weights, so every mix gives the same problems."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"unknown chain split {split!r}; expected one of {sorted(SPLIT_SIZES)}")
    rng = random.Random(seed * 1000 + SPLIT_SEED_OFFSETS[split])
    n = SPLIT_SIZES[split] if size is None else size
    held_out = set()
    if split == "train":
        for other in ("val", "test"):
            held_out |= {row["prompt"] for row in build_split(other, seed, count_tokens)}
    rows, seen = [], set()
    mix = mode_mix or (lambda difficulty: MODE_MIX)
    cycle = _difficulty_cycle()
    while len(rows) < n:
        problem = arith.make_problem(rng, n_ops=cycle[len(rows) % len(cycle)])
        prompt = arith.prompt_text(problem)
        modes, weights = zip(*mix(problem["difficulty"]).items(), strict=True)
        mode = rng.choices(modes, weights=weights)[0]
        if prompt in held_out or (split != "train" and prompt in seen):
            continue
        seen.add(prompt)
        rows.append({
            "prompt": prompt,
            "answer": str(problem["answer"]),
            "difficulty": problem["difficulty"],
            "oracle_tokens": count_tokens(trace_text(problem, "direct")) + 1,
            "completion": " " + trace_text(problem, mode),
        })
    return rows
