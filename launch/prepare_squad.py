"""SQuAD-format JSON files → a folder of `train.jsonl`, `val.jsonl`, `test.jsonl` that `dataset_name` reads.

    python launch/prepare_squad.py --train train-v1.1.json --dev dev-v1.1.json --out ~/.cache/terse/squad/data
    accelerate launch train/run.py --config configs/smollm2_squad.yaml --dataset_name ~/.cache/terse/squad/data

Why a preparation step: SQuAD's files nest questions under paragraphs under articles, and a 135M model on a
CPU reads at most a few hundred words of context per question. Each question becomes one flat row
(`id`, `title`, `context`, `question`, `answers`: every crowd answer), its context cut to `--context_chars`
characters at a word boundary. Questions none of whose answers lie inside the cut context are dropped
(they would be unanswerable from the prompt) and counted.

Val and test are drawn from the dev files **by article** (seeded), so no test question shares a passage with
a val question used for selection. Articles that appear in the dev files are removed from train, so a
subset of dev can serve as train where the official train file is not at hand (say so with the results).
Several files per split are read in order; a question id seen twice is kept once.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path


def cut_context(context: str, max_chars: int) -> str:
    """The context's first `max_chars` characters, ending at a word boundary (the whole context if shorter).

    >>> cut_context("Super Bowl 50 was an American football game.", 20)
    'Super Bowl 50 was an'
    """
    if len(context) <= max_chars:
        return context
    cut = context[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space > 0 else cut


def flatten(data: dict, max_chars: int) -> tuple[list[dict], int]:
    """(rows, dropped): one row per answerable question whose answer lies inside the cut context."""
    rows, dropped = [], 0
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = cut_context(paragraph["context"], max_chars)
            for qa in paragraph["qas"]:
                if qa.get("is_impossible"):
                    continue
                inside = [a["text"] for a in qa.get("answers", [])
                          if a.get("answer_start", 0) + len(a["text"]) <= len(context) and a["text"].strip()]
                if not inside:
                    dropped += 1
                    continue
                answers = list(dict.fromkeys(a["text"] for a in qa["answers"] if a["text"].strip()))
                rows.append({"id": qa["id"], "title": article.get("title", ""), "context": context,
                             "question": qa["question"].strip(), "answers": answers})
    return rows, dropped


def read(paths: list[str], max_chars: int) -> tuple[list[dict], int]:
    rows, dropped, seen = [], 0, set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            part, lost = flatten(json.load(f), max_chars)
        dropped += lost
        for row in part:
            if row["id"] not in seen:
                seen.add(row["id"])
                rows.append(row)
    return rows, dropped


def split_by_article(rows: list[dict], val_share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(val, test): whole articles to val until it holds `val_share` of the questions, the rest to test."""
    titles = sorted({r["title"] for r in rows})
    random.Random(seed).shuffle(titles)
    val_titles, count = set(), 0
    for title in titles:
        if count >= val_share * len(rows):
            break
        val_titles.add(title)
        count += sum(r["title"] == title for r in rows)
    return [r for r in rows if r["title"] in val_titles], [r for r in rows if r["title"] not in val_titles]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", nargs="+", required=True, help="SQuAD-format JSON file(s) for the train split")
    parser.add_argument("--dev", nargs="+", required=True, help="SQuAD-format JSON file(s) split into val and test by article")
    parser.add_argument("--out", required=True, help="folder to write train/val/test.jsonl into")
    parser.add_argument("--context_chars", type=int, default=600)
    parser.add_argument("--val_share", type=float, default=0.4, help="share of dev questions (whole articles) for val")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in args.train + args.dev:
        if not Path(path).is_file():
            raise SystemExit(f"prepare_squad: no file {path!r}")
    dev, dev_dropped = read(args.dev, args.context_chars)
    train, train_dropped = read(args.train, args.context_chars)
    dev_titles = {r["title"] for r in dev}
    overlap = sum(r["title"] in dev_titles for r in train)
    train = [r for r in train if r["title"] not in dev_titles]
    val, test = split_by_article(dev, args.val_share, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("val", val), ("test", test)):
        write_jsonl(out / f"{name}.jsonl", rows)
    summary = {"train": len(train), "val": len(val), "test": len(test),
               "articles": {"train": len({r["title"] for r in train}), "val": len({r["title"] for r in val}),
                            "test": len({r["title"] for r in test})},
               "dropped_answer_outside_context": {"train": train_dropped, "dev": dev_dropped},
               "train_rows_removed_for_dev_articles": overlap, "context_chars": args.context_chars}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
