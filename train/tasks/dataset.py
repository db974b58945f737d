"""Your own data: a dataset by hub id, file or folder, read into Terse's rows with the columns you name.

    accelerate launch train/run.py --model_name_or_path Qwen/Qwen2.5-0.5B-Instruct \\
        --dataset_name my_questions.csv --prompt_column question --answer_column gold --answer_check text

The arguments are named as TRL and open-r1 name them (`dataset_name`, `dataset_config`,
`dataset_train_split`, `dataset_test_split`, `system_prompt`), plus what a question-answer file needs:

- `dataset_name`: a hub id (`openai/gsm8k`), a `.jsonl` / `.json` / `.csv` / `.parquet` file, a folder
  written by `Dataset.save_to_disk`, or a folder of `<split>.<ext>` files. A single file is the train split.
- `prompt_column` (a string, or a column of chat messages used as the conversation) or `prompt_template`
  (a Python format string over the row's columns: `"{question}\\n{choices}"`); `system_prompt` is put first.
- `answer_column`: a string, a number, or a list of acceptable answers (SQuAD's `{"text": [...]}` too);
  `answer_pattern`, a regex whose first group is the gold answer inside it (GSM8K's `####\\s*(.+)`).
- `dataset_val_split`: when absent, val is `val_size` rows of train chosen by `seed`: the same rows on
  every run with that seed, never trained on.

Every row is checked before training: an empty prompt or answer names its row (`skip_bad_rows` drops
them), and each gold answer written as "The answer is {gold}." must pass the chosen `answer_check`, or
the check does not fit the data (`numeric` on text answers) and the run stops showing five.
Bad input raises `DataError` (a ValueError: `train/run.py` prints it and exits 2).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path

from rewards import answer_check as checks

logger = logging.getLogger(__name__)
FILE_FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
RESERVED = ("source_row", "prompt", "answer", "answer_check", "difficulty", "oracle_tokens", "completion", "completion_ids",
            "prompts", "completions", "trainer_state", "token_budget")
DEFAULT_VAL_SIZE = 200
SELF_CHECK_TOLERANCE = 0.01


class DataError(ValueError):
    """The data do not fit the arguments; the message names the file, split, column or rows to fix."""


@dataclass(frozen=True)
class DataSpec:
    """Where the rows come from and how a row becomes (prompt, gold answers); see the module docstring."""

    dataset_name: str
    dataset_config: str | None = None
    dataset_train_split: str = "train"
    dataset_val_split: str | None = None
    dataset_test_split: str | None = None
    prompt_column: str = "prompt"
    answer_column: str = "answer"
    prompt_template: str | None = None
    system_prompt: str | None = None
    answer_pattern: str | None = None
    answer_check: str = "numeric"
    skip_bad_rows: bool = False

    @classmethod
    def from_args(cls, args) -> DataSpec:
        """The spec from `ScriptArguments` (or any object with the same attributes)."""
        names = cls.__dataclass_fields__
        return cls(**{k: getattr(args, k) for k in names if getattr(args, k, None) is not None})


# -- reading a split ----------------------------------------------------------------------------------------
def read_split(spec: DataSpec, split: str) -> list[dict]:
    """The raw rows of one split, from a file, a folder or the hub."""
    name = spec.dataset_name
    path = Path(name).expanduser()
    if path.suffix.lower() in FILE_FORMATS or name.startswith((".", "/", "~")):
        if not path.exists():
            raise DataError(f"dataset_name: no such file {name!r}")
    if path.is_file():
        if split != spec.dataset_train_split:
            raise DataError(f"dataset_name {name!r} is one file, the train split; split {split!r} needs a folder "
                            f"of <split>.jsonl/.csv/... files or a hub dataset (or leave dataset_{split}_split unset)")
        return read_file(path)
    if path.is_dir():
        return _read_folder(path, split)
    return _read_hub(spec, split)


def read_file(path: Path) -> list[dict]:
    """Rows of one .jsonl / .json / .csv / .parquet file; text files must be UTF-8 (the error names the byte)."""
    suffix = path.suffix.lower()
    if suffix not in FILE_FORMATS:
        raise DataError(f"{path}: unknown file type {suffix!r}; use one of {', '.join(FILE_FORMATS)}")
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except Exception as err:  # noqa: BLE001 - pyarrow raises several kinds
            raise DataError(f"{path}: not a readable parquet file ({err})") from None
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 at byte offset {err.start} "
                        f"(bytes {raw[err.start:err.start + 4]!r}); re-save the file as UTF-8") from None
    if suffix == ".csv":
        return list(csv.DictReader(io.StringIO(text, newline="")))
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: not valid JSON at line {err.lineno} column {err.colno} ({err.msg})") from None
        if isinstance(data, dict):  # {"data": [...]} or {"rows": [...]} or a dict of columns
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) == 1 and all(isinstance(r, dict) for r in lists[0]):
                data = lists[0]
            elif lists and all(isinstance(v, list) and len(v) == len(lists[0]) for v in data.values()):
                data = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise DataError(f"{path}: expected a JSON list of objects (one per row)")
        return data
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path} line {number}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path} line {number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def _read_folder(path: Path, split: str) -> list[dict]:
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        from datasets import DatasetDict, load_from_disk

        data = load_from_disk(str(path))
        if isinstance(data, DatasetDict):
            if split not in data:
                raise DataError(f"dataset_name {str(path)!r}: no split {split!r}; splits: {sorted(data)}")
            return data[split].to_list()
        return data.to_list()
    for suffix in FILE_FORMATS:
        if (path / f"{split}{suffix}").exists():
            return read_file(path / f"{split}{suffix}")
    present = sorted(p.name for p in path.iterdir() if p.suffix.lower() in FILE_FORMATS)
    raise DataError(f"dataset_name {str(path)!r}: no file for split {split!r} (looked for {split}.jsonl/.json/"
                    f".csv/.parquet; found {present or 'none'})")


def _read_hub(spec: DataSpec, split: str) -> list[dict]:
    """A split from the Hugging Face hub (huggingface_hub's own timeouts apply: no call hangs)."""
    from datasets import load_dataset

    try:
        return load_dataset(spec.dataset_name, spec.dataset_config, split=split).to_list()
    except ValueError as err:
        if "split" in str(err).lower():
            raise DataError(f"dataset {spec.dataset_name!r}: no split {split!r} ({err})") from None
        raise DataError(f"dataset {spec.dataset_name!r} (config {spec.dataset_config!r}): {err}") from None
    except Exception as err:  # noqa: BLE001 - offline, unknown id, gated repo ...
        raise DataError(f"dataset {spec.dataset_name!r}: cannot load it from the hub ({type(err).__name__}: "
                        f"{str(err)[:300]}); give a local file or folder instead") from None


# -- raw row -> Terse row -----------------------------------------------------------------------------------
def _prompt(spec: DataSpec, raw: dict, columns: list[str]):
    if spec.prompt_template:
        try:
            text = spec.prompt_template.format(**raw)
        except KeyError as err:
            raise DataError(f"prompt_template names column {err.args[0]!r}, which the data do not have; "
                            f"columns: {columns}") from None
        except (IndexError, ValueError) as err:
            raise DataError(f"prompt_template {spec.prompt_template!r} is not a valid format string ({err})") from None
    else:
        text = raw.get(spec.prompt_column)
    if isinstance(text, list) and text and all(isinstance(m, dict) and "role" in m and "content" in m for m in text):
        messages = [dict(m) for m in text]
        if spec.system_prompt and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": spec.system_prompt}, *messages]
        return messages if any(str(m["content"]).strip() for m in messages if m["role"] == "user") else None
    if text is None or (isinstance(text, float) and text != text) or not str(text).strip():
        return None
    messages = [{"role": "user", "content": str(text)}]
    if spec.system_prompt:
        messages = [{"role": "system", "content": spec.system_prompt}, *messages]
    return messages


def _golds(spec: DataSpec, value, pattern: re.Pattern | None) -> list[str] | None:
    if isinstance(value, dict) and "text" in value:  # SQuAD's {"text": [...], "answer_start": [...]}
        value = value["text"]
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    golds = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v) or isinstance(v, (dict, list)):
            continue
        v = str(v).strip() if not isinstance(v, bool) else str(v)
        if pattern is not None:
            matches = list(pattern.finditer(v))
            if not matches:
                continue
            v = (matches[-1].group(1) if pattern.groups else matches[-1].group(0)) or ""
            v = v.strip()
        if v:
            golds.append(v)
    return golds or None


def to_rows(raw_rows: list[dict], spec: DataSpec, source: str) -> list[dict]:
    """Terse rows `{prompt: messages, answer: str | list[str], answer_check, <the row's other columns>}`."""
    if not raw_rows:
        raise DataError(f"{source}: the dataset is empty")
    columns = sorted({k for r in raw_rows[:1000] for k in r})
    if not spec.prompt_template and spec.prompt_column not in columns:
        raise DataError(f"{source}: no prompt column {spec.prompt_column!r} (set prompt_column or "
                        f"prompt_template); columns: {columns}")
    if spec.answer_column not in columns:
        raise DataError(f"{source}: no answer column {spec.answer_column!r} (set answer_column); columns: {columns}")
    pattern = None
    if spec.answer_pattern:
        try:
            pattern = re.compile(spec.answer_pattern)
        except re.error as err:
            raise DataError(f"answer_pattern {spec.answer_pattern!r} is not a valid regular expression ({err})") from None
    rows, bad = [], []
    for i, raw in enumerate(raw_rows):
        prompt = _prompt(spec, raw, columns)
        golds = _golds(spec, raw.get(spec.answer_column), pattern)
        if prompt is None or golds is None:
            bad.append((i, "prompt" if prompt is None else "answer"))
            continue
        extra = {k: v for k, v in raw.items() if k not in RESERVED and isinstance(v, (str, int, float, bool))}
        rows.append({**extra, "prompt": prompt, "answer": golds, "answer_check": spec.answer_check, "source_row": i})
    if bad:
        shown = ", ".join(f"{i} (no {what}{' matching answer_pattern' if what == 'answer' and pattern else ''})"
                          for i, what in bad[:5])
        if not spec.skip_bad_rows:
            raise DataError(f"{source}: {len(bad)} of {len(raw_rows)} rows have an empty or missing prompt or answer: "
                            f"rows {shown}{' ...' if len(bad) > 5 else ''} (0-based; --skip_bad_rows true drops them)")
        logger.warning("%s: skipped %d bad rows (skip_bad_rows): %s", source, len(bad), shown)
    if not rows:
        raise DataError(f"{source}: no usable rows")
    if all(len(r["answer"]) == 1 for r in rows):  # one gold each: a plain string, as the built-in tasks have
        for r in rows:
            r["answer"] = r["answer"][0]
    return rows


def self_check(rows: list[dict], check: str, source: str, tolerance: float = SELF_CHECK_TOLERANCE) -> float:
    """Each gold answer, written as "The answer is {gold}.", must pass `check`: if more than `tolerance`
    of the rows fail, the check does not fit the data and this raises `DataError` showing five of them.
    Returns the share that failed. For `regex:` and user checks (which may expect another format) a
    failure is logged, not raised."""
    failed = []
    for r in rows:
        golds = r["answer"] if isinstance(r["answer"], list) else [r["answer"]]
        for gold in golds:
            written = checks.gold_letter(gold) if check == "choice" and checks.gold_letter(gold) else gold
            if not checks.is_correct(f"The answer is {written}.", r["answer"], check, r):
                failed.append((r.get("source_row"), gold))
                break
    share = len(failed) / len(rows) if rows else 0.0
    if share > tolerance:
        shown = "; ".join(f"row {i}: {g!r}" for i, g in failed[:5])
        message = (f"{source}: answer_check {check!r} does not fit the data: {len(failed)} of {len(rows)} gold answers "
                   f"({share:.1%}) fail it even written as 'The answer is <gold>.', e.g. {shown}. Choose another "
                   f"answer_check ({', '.join(checks.BUILTIN + checks.FORMS)}) or fix answer_column / answer_pattern")
        if check in checks.BUILTIN:
            raise DataError(message)
        logger.warning("%s (a custom check may expect another format: not stopping)", message)
    return share


def load(spec: DataSpec, seed: int, val_size: int | None = None) -> tuple[list[dict], list[dict]]:
    """(train, val). val: `dataset_val_split`, else `val_size` train rows drawn by `seed` (default
    min(200, a tenth of train)); the rest is train."""
    checks.validate(spec.answer_check)
    source = f"{spec.dataset_name} [{spec.dataset_train_split}]"
    train = to_rows(read_split(spec, spec.dataset_train_split), spec, source)
    if spec.dataset_val_split:
        val = to_rows(read_split(spec, spec.dataset_val_split), spec, f"{spec.dataset_name} [{spec.dataset_val_split}]")
        val = val[:val_size] if val_size else val
    else:
        n_val = val_size or min(DEFAULT_VAL_SIZE, max(1, len(train) // 10))
        if n_val >= len(train):
            raise DataError(f"{source}: {len(train)} rows cannot give {n_val} val rows and leave any to train on; "
                            "lower val_size or give dataset_val_split")
        order = list(range(len(train)))
        random.Random(seed).shuffle(order)
        chosen = set(order[:n_val])
        val = [train[i] for i in order[:n_val]]
        train = [r for i, r in enumerate(train) if i not in chosen]
    self_check(train + val, spec.answer_check, spec.dataset_name)
    return train, val


def load_test(spec: DataSpec) -> list[dict]:
    if not spec.dataset_test_split:
        raise DataError(f"dataset {spec.dataset_name!r}: no test split named (set dataset_test_split)")
    return to_rows(read_split(spec, spec.dataset_test_split), spec, f"{spec.dataset_name} [{spec.dataset_test_split}]")


def prompts_for(tokenizer, rows: list[dict]) -> list[dict]:
    """Rows as `tokenizer` can take them: chat messages stay messages for a model with a chat template (TRL
    and the evaluator apply it); for a model without one they become plain text."""
    if getattr(tokenizer, "chat_template", None) or not rows or isinstance(rows[0]["prompt"], str):
        return rows
    return plain_prompts(rows)


def plain_prompts(rows: list[dict]) -> list[dict]:
    """Rows with chat-message prompts flattened to text, for a tokenizer without a chat template."""
    def flat(prompt):
        if isinstance(prompt, str):
            return prompt
        return "\n\n".join(str(m["content"]) for m in prompt) + "\n"

    return [{**r, "prompt": flat(r["prompt"])} for r in rows]


@dataclass(frozen=True)
class DatasetTask:
    """The general task: rows from `DataSpec`, scored by its `answer_check`; a `train.tasks.Task`, like the
    built-in tasks (`train/tasks/__init__.py`)."""

    spec: DataSpec
    name: str = "dataset"

    def load(self, seed: int, val_size: int | None = None, data_path: str | None = None):
        if data_path:
            raise DataError("data_path is for the built-in gsm8k task; with dataset_name, name the file or folder there")
        return load(self.spec, seed, val_size)

    def test_rows(self, seed: int, data_path: str | None = None) -> list[dict]:
        return load_test(self.spec)

    def sft_rows(self, train_rows: list[dict]) -> list[dict]:
        raise DataError("your own data have no built-in warm start: set model_name_or_path to an instruct model "
                        "(e.g. the one `python launch/fetch_smollm2.py` writes)")

    def rl_dataset(self, train_rows: list[dict]):
        """Every column reaches the rewards (TRL passes them as keywords): a user check sees the row."""
        from datasets import Dataset

        keys = [k for k in train_rows[0] if all(k in r for r in train_rows)]
        mixed = {k for k in keys if k not in ("prompt", "answer") and len({type(r[k]) for r in train_rows}) > 1}
        return Dataset.from_list([{k: str(r[k]) if k in mixed else r[k] for k in keys} for r in train_rows])
