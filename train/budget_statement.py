"""How a prompt states its token budget, and which budgets a run offers.

Why one owner: the warm start tags its answers with a budget, RL states a sampled budget in every rollout's
prompt, the allocator states the budget it chose at serving time, and the serving client (`train.export`'s
users, vLLM, `transformers serve`) must state it the same way again. If any of them words it differently,
the adapter is served a sentence it never learned to read. So the statement is data (`BudgetStatement`,
saved in allocator.json) and every one of them calls `BudgetStatement.state`.

Where the statement goes: chat prompts (a list of messages) get it as the system message, joining one that
is already there, because a chat model reads instructions about the answer's form there; text prompts (base
models, the built-in tasks) get it appended after a blank line. A template that names `{prompt}` places it
itself (the built-in `chain_budget` tag, `"budget {budget} : {prompt}"`, puts it in front).

What a budget counts: every completion token the model generates, end-of-sequence included — what
`usage.completion_tokens` bills and what `max_tokens` caps — not words, not the answer span.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

DEFAULT_TEMPLATE = "Answer in at most {budget} tokens."


@dataclass(frozen=True)
class BudgetStatement:
    """A budget, stated in a prompt.

    >>> BudgetStatement().state("What is 7 + 5?", 12)
    'What is 7 + 5?\\n\\nAnswer in at most 12 tokens.'
    >>> BudgetStatement().state([{"role": "user", "content": "Hi"}], 12)
    [{'role': 'system', 'content': 'Answer in at most 12 tokens.'}, {'role': 'user', 'content': 'Hi'}]
    >>> BudgetStatement("budget {budget} : {prompt}", unit=5).state("7 + 5 ?", 43)
    'budget 8 : 7 + 5 ?'
    """

    template: str = DEFAULT_TEMPLATE  # `{budget}`: the budget in units; `{prompt}` (optional): the prompt itself
    unit: int = 1  # the statement counts units of this many tokens, rounded down (the tag `budget 8` is 40 tokens)

    def __post_init__(self):
        if "{budget}" not in self.template:
            raise ValueError(f"budget_prompt_template must contain '{{budget}}', got {self.template!r}")
        if int(self.unit) < 1:
            raise ValueError(f"budget_unit (the tokens one unit of the statement counts) must be >= 1, got {self.unit}")
        try:
            self.template.format(budget=1, prompt="")
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(f"budget_prompt_template {self.template!r} may name only {{budget}} and {{prompt}} "
                             f"({err})") from None

    def units(self, budget: float) -> int:
        units = int(budget) // int(self.unit)
        if units < 1:
            raise ValueError(f"budget {budget} is below one unit ({self.unit} tokens) of the statement")
        return units

    def sentence(self, budget: float) -> str:
        """The statement alone (a template that names `{prompt}` gets an empty prompt)."""
        return self.template.format(budget=self.units(budget), prompt="").strip()

    def state(self, prompt, budget: float):
        """`prompt` (text, or chat messages) with `budget` stated; the input is never modified."""
        units = self.units(budget)
        if isinstance(prompt, str):
            if "{prompt}" in self.template:
                return self.template.format(budget=units, prompt=prompt)
            return f"{prompt}\n\n{self.template.format(budget=units)}"
        messages = [dict(m) for m in prompt]
        if "{prompt}" in self.template:  # the template wraps the last user message's text
            for m in reversed(messages):
                if m.get("role") == "user":
                    m["content"] = self.template.format(budget=units, prompt=m.get("content", ""))
                    return messages
            raise ValueError("a chat prompt with no user message cannot state its budget through {prompt}")
        sentence = self.template.format(budget=units)
        if messages and messages[0].get("role") == "system":
            messages[0]["content"] = f"{messages[0]['content']} {sentence}".strip()
        else:
            messages.insert(0, {"role": "system", "content": sentence})
        return messages

    def to_dict(self) -> dict:
        return asdict(self)


def derive_grid(right_lengths: list[int], cap: int, points: int = 8, unit: int = 1, quantile: float = 0.05) -> list[int]:
    """A budget grid from the base model's own right answers: geometric from their `quantile` length (the
    shortest right answers, less the odd outlier) up to the completion cap, rounded to whole units.

    Why geometric: a budget's effect is relative (2 tokens more matter at 4, not at 100), so equal ratios
    give each step of the grid about the same effect on length.

    >>> derive_grid([3, 5, 8, 20, 40], cap=128, points=6)
    [3, 6, 13, 29, 60, 128]
    """
    if cap < 1 or points < 2:
        raise ValueError(f"a budget grid needs cap >= 1 and points >= 2, got cap {cap}, points {points}")
    if not right_lengths:
        raise ValueError("no right answers to derive a budget grid from: set budget_grid yourself, or check that "
                         "the base model answers some train prompts right (preflight)")
    ordered = sorted(right_lengths)
    low = max(unit, ordered[min(len(ordered) - 1, int(quantile * len(ordered)))])
    low = min(low, cap)
    ratio = (cap / low) ** (1 / (points - 1))
    grid = sorted({max(unit, int(round(low * ratio ** i / unit)) * unit) for i in range(points)} | {cap // unit * unit})
    return [b for b in grid if b <= cap]


def parse_grid(text: str) -> list[int]:
    """`"8,16,32"` → [8, 16, 32] (sorted, distinct); a clear error for anything else."""
    try:
        grid = sorted({int(x) for x in str(text).split(",") if x.strip()})
    except ValueError:
        raise ValueError(f"budget_grid must be comma-separated whole token counts, e.g. '8,16,32,64', got {text!r}") \
            from None
    if not grid or grid[0] < 1:
        raise ValueError(f"budget_grid needs budgets >= 1 token, got {text!r}")
    return grid


def sampling_weights(grid: list[int]) -> list[float]:
    """Log-uniform weights over a grid (each budget weighted by the log-width of its cell), so that RL
    draws as many budgets between 4 and 8 tokens as between 32 and 64.

    >>> [round(w, 3) for w in sampling_weights([4, 8, 16])]
    [0.333, 0.333, 0.333]
    """
    if len(grid) == 1:
        return [1.0]
    logs = [math.log(b) for b in grid]
    edges = [logs[0] - (logs[1] - logs[0]) / 2] + [(a + b) / 2 for a, b in zip(logs, logs[1:])] + \
        [logs[-1] + (logs[-1] - logs[-2]) / 2]
    widths = [hi - lo for lo, hi in zip(edges, edges[1:])]
    return [w / sum(widths) for w in widths]
