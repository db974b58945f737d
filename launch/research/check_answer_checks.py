"""Hold the answer checks to the official scorers on real data (rewards/answer_check.py).

    # text vs the official SQuAD v1.1 evaluation, on real SQuAD dev questions
    python -m launch.research.check_answer_checks squad --data expmrc-squad-dev.json --official evaluate-v1.1.py \\
        [--predictions squad_predictions.json]
    # contains vs a direct reading of its definition, on real model completions of SQuAD questions
    python -m launch.research.check_answer_checks contains --completions RUN/eval_test_rows.jsonl ... \
        [--official evaluate-v1.1.py]
    # choice vs hand labels on real multiple-choice completions
    python -m launch.research.check_answer_checks choice --labels tests/fixtures/choice_labels.jsonl

`squad`: for each question, completions whose answer differs from a gold answer in case, punctuation and
articles, wrapped in a sentence ("The answer is …", "I think it's …", "**…**", "Answer: …" after a
reasoning line), and wrong ones (another question's answer, a clipped answer, a real system's
prediction where one is given). The reference verdict is the official script's
`metric_max_over_ground_truths(exact_match_score, span, golds)` on the span the completion states (the
official scorer takes spans, not sentences); ours is `answer_check.get("text")(completion, golds)`.
The official script and the data are read from the paths given (fetch them; they are not shipped).
Prints the agreement and every disagreement; exits 1 below `--min_agreement`.

`contains`: on JSONL rows with `completion` and `gold` (what `train.evaluate` writes per row), our verdict
against the definition read directly: the official script's `normalize_answer` (or a re-implementation from its
text when not given) on both sides, the normalised words of the completion searched for the gold's words as a
contiguous run by a sliding window. Reports agreement and the check's rate of right answers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from pathlib import Path


from rewards import answer_check as ac

WRAPS = [
    ("bare", "{p}"),
    ("upper", "{P}"),
    ("punctuated", "{p}!"),
    ("article", "the {p}"),
    ("the answer is", "The answer is {p}."),
    ("hedge", "I think it's {p}."),
    ("bold", "Based on the passage, it is **{p}**."),
    ("answer line", "The passage discusses this in its second sentence.\nAnswer: {p}"),
]


def load_official(path: str):
    spec = importlib.util.spec_from_file_location("squad_official", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def squad_questions(path: str) -> list[dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    return [{"id": qa["id"], "golds": [a["text"] for a in qa["answers"]]}
            for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"]]


def squad_pairs(questions: list[dict], predictions: dict, seed: int = 0) -> list[dict]:
    """(kind, span, completion, golds) pairs: each gold-derived and wrong span in every wrapping."""
    rng = random.Random(seed)
    pairs = []
    for i, q in enumerate(questions):
        gold = rng.choice(q["golds"])
        other = questions[(i + 1 + rng.randrange(len(questions) - 1)) % len(questions)]["golds"][0]
        spans = [("gold", gold), ("wrong: other question", other)]
        words = gold.split()
        if len(words) > 1:
            spans.append(("wrong: clipped", " ".join(words[: len(words) // 2])))
        if q["id"] in predictions:
            answer = predictions[q["id"]]
            spans.append(("system prediction", answer["answer"] if isinstance(answer, dict) else answer))
        for kind, span in spans:
            for wrap, template in WRAPS:
                shown = template.format(p=span, P=span.upper())
                pairs.append({"kind": kind, "wrap": wrap, "span": template.format(p=span, P=span.upper())
                              if wrap in ("bare", "upper", "punctuated", "article") else span,
                              "completion": shown, "golds": q["golds"]})
    return pairs


def check_squad(args) -> int:
    official = load_official(args.official)
    questions = squad_questions(args.data)
    predictions = json.loads(Path(args.predictions).read_text()) if args.predictions else {}
    pairs = squad_pairs(questions, predictions, args.seed)
    check = ac.get("text")
    disagree, by_wrap = [], {}
    for pair in pairs:
        reference = bool(official.metric_max_over_ground_truths(official.exact_match_score, pair["span"], pair["golds"]))
        ours = check(pair["completion"], pair["golds"])
        f1_ref = official.metric_max_over_ground_truths(official.f1_score, pair["span"], pair["golds"])
        f1_ours = ac.text_f1(pair["completion"], pair["golds"])
        stats = by_wrap.setdefault(pair["wrap"], [0, 0, 0, 0])
        stats[0] += 1
        stats[1] += reference == ours
        stats[2] += reference
        stats[3] += abs(f1_ref - f1_ours) < 1e-9
        if reference != ours:
            disagree.append({**pair, "official": reference, "ours": ours})
    agree = 1 - len(disagree) / len(pairs)
    print(f"SQuAD v1.1 dev ({len(questions)} questions, {args.data}): {len(pairs)} pairs, "
          f"text check agrees with the official EM on {agree:.2%}\n")
    print("| wrapping | pairs | agree | official EM | F1 equal |\n|---|---|---|---|---|")
    for wrap, (n, same, correct, f1_same) in by_wrap.items():
        print(f"| {wrap} | {n} | {same / n:.2%} | {correct / n:.3f} | {f1_same / n:.2%} |")
    for d in disagree[:20]:
        print(f"  disagree ({d['kind']}, {d['wrap']}): {d['completion']!r} golds {d['golds']} "
              f"official {d['official']} ours {d['ours']}")
    return 0 if agree >= args.min_agreement else 1


def _sliding_contains(normalize, completion: str, golds) -> bool:
    words = normalize(completion).split()
    for gold in golds if isinstance(golds, list) else [golds]:
        want = normalize(str(gold)).split()
        if want and any(words[i:i + len(want)] == want for i in range(len(words) - len(want) + 1)):
            return True
    return False


def check_contains(args) -> int:
    normalize = load_official(args.official).normalize_answer if args.official else ac.normalize_text
    rows = []
    for path in args.completions:
        rows += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    ours = [ac.contains(r["completion"], r["gold"]) for r in rows]
    direct = [_sliding_contains(normalize, r["completion"], r["gold"]) for r in rows]
    agree = sum(a == b for a, b in zip(ours, direct)) / len(rows)
    print(f"contains: {len(rows)} completions from {len(args.completions)} files; agrees with the direct reading "
          f"({'official normalize_answer' if args.official else 'normalize_text'}, sliding window) on {agree:.2%}; "
          f"right by ours {sum(ours) / len(rows):.3f}, by the direct reading {sum(direct) / len(rows):.3f}")
    for r, a, b in zip(rows, ours, direct):
        if a != b:
            print(f"  disagree: {r['completion'][:160]!r} gold {r['gold']} ours {a} direct {b}")
    return 0 if agree >= args.min_agreement else 1


def check_choice(args) -> int:
    rows = [json.loads(line) for line in Path(args.labels).read_text(encoding="utf-8").splitlines() if line.strip()]
    disagree = [r for r in rows if ac.extract_choice(r["completion"]) != r["label"]]
    verdicts = sum(ac.get("choice")(r["completion"], r["gold"]) == (r["label"] == ac.gold_letter(r["gold"]))
                   for r in rows)
    agree = 1 - len(disagree) / len(rows)
    styles = sorted({r.get("style", "?") for r in rows})
    print(f"choice: {len(rows)} hand-labelled completions ({len(styles)} prompt styles, {args.labels}): "
          f"the extracted letter agrees with the hand label on {agree:.2%}; the verdict on {verdicts / len(rows):.2%}")
    for r in disagree[:20]:
        print(f"  disagree: {r['completion'][:160]!r} label {r['label']} ours {ac.extract_choice(r['completion'])}")
    return 0 if agree >= args.min_agreement else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    squad = sub.add_parser("squad")
    squad.add_argument("--data", required=True, help="a SQuAD v1.1-format dev file (real questions)")
    squad.add_argument("--official", required=True, help="the official evaluate-v1.1.py")
    squad.add_argument("--predictions", help="a system's predictions {id: answer} on the same questions")
    squad.add_argument("--seed", type=int, default=0)
    squad.add_argument("--min_agreement", type=float, default=0.995)
    contains = sub.add_parser("contains")
    contains.add_argument("--completions", nargs="+", required=True, help="JSONL rows with completion and gold")
    contains.add_argument("--official", help="the official evaluate-v1.1.py (its normalize_answer)")
    contains.add_argument("--min_agreement", type=float, default=0.995)
    choice = sub.add_parser("choice")
    choice.add_argument("--labels", required=True)
    choice.add_argument("--min_agreement", type=float, default=0.99)
    args = parser.parse_args(argv)
    return {"squad": check_squad, "contains": check_contains, "choice": check_choice}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
