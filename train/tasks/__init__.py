"""Tasks: where prompts, gold answers and (where known) oracle lengths come from.

A task gives fixed train/val splits of rows with at least `prompt` and `answer` (the gold final answer as
a string); rows may carry `difficulty` and `oracle_tokens`. Its reward is the shared `exact_match`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@runtime_checkable
class Task(Protocol):
    """What train/run.py and train.evaluate need from a task: the interface the built-in tasks below and
    your own data (`train.tasks.dataset.DatasetTask`) share.

    A row is a dict with at least `prompt` (text or chat messages) and `answer` (the gold answer); a row
    may carry `difficulty`, `oracle_tokens`, `answer_check` and any other column, all of which reach the
    rewards. Splits are fixed by the seed: the same seed always gives the same rows."""

    name: str

    def load(self, seed: int, val_size: int | None = None, data_path: str | None = None) -> tuple[list, list]:
        """(train rows, val rows); val is never trained on."""

    def test_rows(self, seed: int, data_path: str | None = None) -> list[dict]:
        """The held-out test rows (`train.evaluate --split test`)."""

    def sft_rows(self, train_rows: list[dict]) -> list[dict]:
        """The built-in base model's warm-start rows (prompt + completion); raise where there is none."""

    def rl_dataset(self, train_rows: list[dict]):
        """The `datasets.Dataset` TRL trains on (its columns reach the rewards)."""


# Capabilities some tasks have beyond `Task`, checked with isinstance (never by probing attribute names).
@runtime_checkable
class BudgetConditioned(Protocol):
    """A task whose prompts state a token budget (chain_budget, or any task under `--budget_conditioned true`):
    its policy is served through an allocator fitted on its calibration rows."""

    def budget_prompt(self, prompt, budget: float):
        """The prompt with `budget` stated as the policy learns to read it."""

    def budget_grid(self) -> list[int]:
        """The budgets the policy is trained on and the allocator chooses among."""

    def budget_tag(self) -> dict:
        """How a budget is stated (the allocator's `tag` and `tag_unit`), saved with the allocator."""

    def calibration_rows(self, train_rows: list[dict]) -> list[dict]:
        """Train rows neither the warm start nor RL sees: the allocator is fitted on them."""


@runtime_checkable
class HasBudgetAnswers(Protocol):
    """A task with its own right answers of several lengths (chain_easy's traces), used by the budget warm start
    instead of sampling the base model."""

    def budget_answers(self, rows: list[dict]) -> list[dict]:
        """Right completions of several lengths per row: {prompt, completion, tokens}."""


@runtime_checkable
class Generated(Protocol):
    """A built-in task generated from its seed by a module (its answer modes, vocabulary, builder)."""

    def module(self):
        """The generator module."""


@dataclass(frozen=True)
class Arith:
    """The embedded task (`train/tasks/arith.py`): needs no download."""

    name: str = "arith"

    def module(self):
        """The generator module (`build_split`, `vocabulary`), which is also the built-in base model's data."""
        import importlib

        return importlib.import_module(f"train.tasks.{self.name}")

    def vocabulary(self) -> list[str]:
        return self.module().vocabulary()

    def load(self, seed: int, val_size: int | None = None, data_path: str | None = None):
        if data_path:
            raise ValueError(f"task {self.name} is generated from its seed: data_path must be unset")
        build = self.module().build_split
        count = word_count  # the built-in tokenizer is word-level over the task's vocabulary
        return build("train", seed, count), build("val", seed, count, size=val_size)

    def test_rows(self, seed: int, data_path: str | None = None) -> list[dict]:
        return self.module().build_split("test", seed, word_count)

    def sft_rows(self, train_rows: list[dict]) -> list[dict]:
        """The warm start's rows: train prompts that RL never sees (`rl_rows` holds those)."""
        return [r for r in train_rows if not _for_rl(r["prompt"])]

    def rl_rows(self, train_rows: list[dict]) -> list[dict]:
        """RL's prompts: a fifth of the train prompts, chosen by a hash of the text, never in the warm start.

        Why disjoint: one-operation problems are few (a few hundred), so a warm start on every train prompt
        memorises their answers. RL on those prompts then sees a directly guessed answer be right 100% of
        the time and learns to guess — which on unseen (val) prompts is right only ~70%: the length
        penalty looked like it broke accuracy when the task was rewarding memorisation. Like val, RL
        prompts are unseen by the base model, as they are for a real pretrained model."""
        return [r for r in train_rows if _for_rl(r["prompt"])]

    def rl_dataset(self, train_rows: list[dict]):
        return _dataset(self.rl_rows(train_rows), ("prompt", "answer", "difficulty"))


@dataclass(frozen=True)
class Chain(Arith):
    """The benchmark task (`train/tasks/chain.py`): answer modes from worked to direct, whose accuracy
    falls with compression by an amount that depends on the prompt. Built-in base model, no download."""

    name: str = "chain"


@dataclass(frozen=True)
class ChainGraded(Arith):
    """The benchmark task with a base model whose answer style leans with the chain's length
    (`train/tasks/chain_graded.py`): what a pretrained model is like, and what RL can steer per prompt."""

    name: str = "chain_graded"


@dataclass(frozen=True)
class ChainEasy(Arith):
    """`chain_graded` with chains that start anywhere in 0–20 (`train/tasks/chain_easy.py`): enough distinct
    one-operation prompts that the warm start learns to answer unseen ones directly (lossless on seed 0's
    base model, 0.03 and 0.09 below worked on seeds 1 and 2)."""

    name: str = "chain_easy"

    def budget_answers(self, rows: list[dict]) -> list[dict]:
        """Right answers of several lengths for each row: its trace in every distinct mode, with its exact
        token count — what a budget-conditioned warm start (train/conditioning.py) uses instead of
        sampling the base model, as `chain_budget`'s tagged traces did."""
        from train.tasks import chain, chain_budget

        out = []
        for row in rows:
            problem = chain_budget._problem(row)
            for mode in chain_budget.distinct_modes(row["difficulty"]):
                out.append({"prompt": row["prompt"], "completion": " " + chain.trace_text(problem, mode),
                            "tokens": chain.mode_tokens(row["difficulty"], mode), "correct": True,
                            "instruction": f"(trace: {mode})"})
        return out


@dataclass(frozen=True)
class ChainBudget(Arith):
    """`chain_easy` with a token budget stated in the prompt (`train/tasks/chain_budget.py`): the warm start
    learns to follow the budget, RL trains on budgets sampled per prompt, and an allocator
    (`train/allocator.py`) picks each prompt's budget at serving time."""

    name: str = "chain_budget"
    base_task: str = "chain_easy"  # its base model is chain_easy's, continued on the tagged traces
    continue_share: float = 1 / 3  # its SFT steps: this share of warm_start_steps (900 → 300)
    continue_learning_rate: float = 3e-3  # the built-in warm start's own: 1e-3 left budgets ≥ 21 unread

    def sft_rows(self, train_rows: list[dict]) -> list[dict]:
        from train.tasks import chain_budget

        return chain_budget.tagged_sft_rows(super().sft_rows(train_rows), seed=_rows_seed(train_rows))

    def calibration_rows(self, train_rows: list[dict]) -> list[dict]:
        """A fifth of RL's prompts, kept out of RL and of the warm start: the allocator is fitted on the
        policy's answers to these. Why held out: fitted on prompts RL trained on, the allocator predicted EM
        0.907 at T = 0.4 × base and val gave 0.850 at 14% fewer tokens (seed 0) — the fit read memorised
        answers as what a budget buys."""
        return [r for r in self.rl_rows(train_rows) if _for_rl(r["prompt"] + "\x00calibration")]

    def rl_dataset(self, train_rows: list[dict]):
        from train.tasks import chain_budget

        held = {r["prompt"] for r in self.calibration_rows(train_rows)}
        rows = chain_budget.rl_rows([r for r in self.rl_rows(train_rows) if r["prompt"] not in held],
                                    seed=_rows_seed(train_rows))
        return _dataset(rows, ("prompt", "answer", "difficulty", "token_budget"))

    def budget_prompt(self, prompt: str, budget: float) -> str:
        """`prompt` with `budget` stated the way the warm start learned it."""
        from train.tasks import chain_budget

        return chain_budget.tag_prompt(prompt, budget)

    def budget_tag(self) -> dict:
        """How the prompt states a budget, as the allocator's `tag` (a format string over `budget` and
        `prompt`) and `tag_unit` (the tag counts units of this many tokens)."""
        from train.tasks import chain_budget

        return {"tag": chain_budget.TAG_FORMAT, "tag_unit": chain_budget.UNIT}

    def budget_grid(self) -> list[int]:
        """The budgets (tokens) a tag can state: the allocator chooses among these."""
        from train.tasks import chain_budget

        return chain_budget.budget_grid()


@dataclass(frozen=True)
class GSM8K:
    """Grade-school math word problems (`train/tasks/gsm8k.py`): the hub, or local JSONL via `data_path`."""

    name: str = "gsm8k"

    def load(self, seed: int, val_size: int | None = None, data_path: str | None = None):
        from train.tasks import gsm8k

        return gsm8k.load(seed, val_size, data_path)

    def test_rows(self, seed: int, data_path: str | None = None) -> list[dict]:
        from train.tasks import gsm8k

        return gsm8k.load_test(data_path)

    def sft_rows(self, train_rows: list[dict]) -> list[dict]:
        raise ValueError("task gsm8k has no built-in warm start: set model_name_or_path to an instruct model")

    def rl_dataset(self, train_rows: list[dict]):
        return _dataset(train_rows, ("prompt", "answer"))


@dataclass(frozen=True)
class WordProblems:
    """Small-number word problems for small instruct models (`train/tasks/word_problems.py`)."""

    name: str = "word_problems"

    def load(self, seed: int, val_size: int | None = None, data_path: str | None = None):
        from train.tasks import word_problems

        if data_path:
            raise ValueError("task word_problems is generated from its seed: data_path must be unset")
        return word_problems.build_split("train", seed), word_problems.build_split("val", seed, size=val_size)

    def test_rows(self, seed: int, data_path: str | None = None) -> list[dict]:
        from train.tasks import word_problems

        return word_problems.build_split("test", seed)

    def sft_rows(self, train_rows: list[dict]) -> list[dict]:
        raise ValueError("task word_problems has no built-in warm start: set model_name_or_path to an instruct "
                         "model (e.g. the one `python launch/fetch_smollm2.py` writes)")

    def rl_dataset(self, train_rows: list[dict]):
        return _dataset(train_rows, ("prompt", "answer", "difficulty"))


def prompt_text(prompt) -> str:
    """A prompt as one text: a string as it is, chat messages as their contents, one per line. The one
    flattener (the allocator's features, the learned budgets' keys and the trainer read prompts through it).

    >>> prompt_text([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "7 + 5 ?"}])
    'Be brief.\n7 + 5 ?'
    """
    if isinstance(prompt, str):
        return prompt
    return "\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))


def _dataset(rows: list[dict], columns: tuple[str, ...]):
    """The RL dataset TRL trains on: the given columns of each row (every column reaches the rewards)."""
    from datasets import Dataset

    return Dataset.from_list([{k: r[k] for k in columns} for r in rows])


def _for_rl(prompt: str, share: int = 5) -> bool:
    return int.from_bytes(hashlib.blake2b(prompt.encode(), digest_size=4).digest(), "little") % share == 0


def _rows_seed(rows: list[dict]) -> int:
    """A seed from the rows themselves (the task's split seed is not passed to `sft_rows` / `rl_dataset`):
    the same split always gives the same tags, another seed's split other ones."""
    digest = hashlib.blake2b("\x00".join(r["prompt"] for r in rows[:64]).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def word_count(text: str) -> int:
    return len(text.split())


TASKS = {"arith": Arith(), "chain": Chain(), "chain_graded": ChainGraded(), "chain_easy": ChainEasy(),
         "chain_budget": ChainBudget(),
         "gsm8k": GSM8K(), "word_problems": WordProblems()}


def get(name: str):
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available: {sorted(TASKS)}")
    return TASKS[name]
