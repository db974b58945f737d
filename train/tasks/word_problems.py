"""Small-number word problems for small instruct models ("Tom has 7 books and gives away 3 ...").

Why: the embedded `arith` task needs the embedded model; GSM8K is beyond a 135M-parameter model. These
problems are ones SmolLM2-135M-Instruct solves about a third of the time, wordily (val greedy: EM 0.37,
34 tokens) — the regime where Terse has something to teach a real pretrained model on a CPU: answer in
fewer tokens without losing accuracy.

Each problem is one event on a single-digit count — a gain (difficulty 1) or a loss (difficulty 2) —
generated from templates with a seed; the prompt asks for the final line "Answer: N", which the shared
`exact_match` reads. Splits are disjoint by problem text: val and test are drawn first and train never
repeats them.
"""

from __future__ import annotations

import random

NAMES = ["Tom", "Anna", "Ben", "Mia", "Sam", "Lily", "Max", "Emma", "Leo", "Zoe"]
OBJECTS = ["books", "apples", "pencils", "stickers", "marbles", "cookies", "toy cars", "shells"]
GAIN = ["buys {n} more", "finds {n} more", "gets {n} more from a friend", "is given {n} more"]
LOSS = ["gives away {n}", "loses {n}", "gives {n} to a friend", "sells {n}"]
# "Solve the problem" makes the untrained model work the problem out in prose (~34 tokens, EM ~0.37 on val);
# without it, it answers in ~16 tokens and RL has less to teach.
INSTRUCTION = "Solve the problem and end your reply with a last line 'Answer: N'."
SIZES = {"train": 2000, "val": 100, "test": 300}
SEED_OFFSET = {"val": 1_000_003, "test": 2_000_003}  # each split its own stream, disjoint texts


def make_problem(rng: random.Random, difficulty: int) -> tuple[str, int]:
    """(problem text, answer): one event on a single-digit count — something gained (difficulty 1, an
    addition) or given away (difficulty 2, a subtraction, which small models get wrong more often)."""
    name, thing = rng.choice(NAMES), rng.choice(OBJECTS)
    count = rng.randint(2, 9)
    if difficulty == 1:
        n = rng.randint(1, 9)
        event, answer = rng.choice(GAIN).format(n=n), count + n
    else:
        n = rng.randint(1, count - 1)
        event, answer = rng.choice(LOSS).format(n=n), count - n
    return f"{name} has {count} {thing}. {name} {event}. How many {thing} does {name} have now?", answer


def build_split(split: str, seed: int, size: int | None = None) -> list[dict]:
    """Rows {prompt (chat messages), answer, difficulty, problem} of a split, fixed by `seed`."""
    if split not in SIZES:
        raise ValueError(f"unknown split {split!r}; available: {sorted(SIZES)}")
    held_out: set[str] = set()
    if split == "train":
        for other in ("val", "test"):
            held_out |= {r["problem"] for r in build_split(other, seed)}
    rng = random.Random(seed + SEED_OFFSET.get(split, 0))
    rows, seen = [], set(held_out)
    want = size or SIZES[split]
    while len(rows) < want:
        difficulty = rng.choice((1, 2))
        problem, answer = make_problem(rng, difficulty)
        if problem in seen:
            continue
        seen.add(problem)
        rows.append({
            "prompt": [{"role": "user", "content": f"{problem} {INSTRUCTION}"}],
            "answer": str(answer),
            "difficulty": difficulty,
            "problem": problem,
        })
    return rows
