"""Feed Terse bad input on purpose and print what the user sees: the message and the exit code.

    python -m launch.research.bad_inputs            # a markdown table, one row per case (~2 minutes)

Every case must exit non-zero with a message that names the culprit, before anything is trained or
written over.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN = [sys.executable, str(REPO / "train" / "run.py")]
EXPORT = [sys.executable, "-m", "train.export"]


def cases(tmp: Path) -> list[tuple[str, list[str]]]:
    recipe = (REPO / "configs" / "arith.yaml").read_text()
    (tmp / "typo.yaml").write_text(recipe + "\nbudget_rato: 0.3\n")
    (tmp / "no_ratio.yaml").write_text(recipe.replace("budget_ratio: 0.5", ""))
    data = {
        "missing_column": [{"q": "What is 1+1?", "answer": "#### 2"}],
        "empty": [],
        "bad_gold": [{"question": "q1", "answer": "#### 3"}, {"question": "q2", "answer": "it is three"}],
    }
    for name, rows in data.items():
        (tmp / name).mkdir()
        (tmp / name / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp / "existing_export").mkdir()
    own = REPO / "tests" / "fixtures" / "own_data" / "capitals.csv"
    (tmp / "latin1.csv").write_bytes("q,a\nWhere is Zürich?,Switzerland\n".encode("latin-1"))
    (tmp / "empty_answers.csv").write_text("q,a\n" + "".join(f"q{i},{'' if i % 3 == 0 else 'x'}\n" for i in range(12)))
    cols = ["--dataset_name", str(own), "--prompt_column", "Quiz item", "--answer_column", "Expected reply"]
    gsm = ["--task", "gsm8k", "--model_name_or_path", "Qwen/Qwen2.5-0.5B-Instruct", "--data_path"]
    return [
        ("unknown key in the YAML recipe", RUN + ["--config", str(tmp / "typo.yaml")]),
        ("misspelt command-line flag", RUN + ["--budget_rato", "0.3"]),
        ("negative budget_tokens", RUN + ["--config", str(tmp / "no_ratio.yaml"), "--budget_tokens", "-5"]),
        ("budget_ratio above 1", RUN + ["--budget_ratio", "1.5"]),
        ("budget_ratio of 0", RUN + ["--budget_ratio", "0"]),
        ("both budget_tokens and budget_ratio", RUN + ["--budget_tokens", "30"]),
        ("neither budget_tokens nor budget_ratio", RUN + ["--config", str(tmp / "no_ratio.yaml")]),
        ("em_floor outside [0, 1]", RUN + ["--constraint", "em_floor", "--em_floor", "1.2"]),
        ("em_floor mode without a floor", RUN + ["--constraint", "em_floor"]),
        ("both em_floor and em_tolerance", RUN + ["--constraint", "em_floor", "--em_floor", "0.9", "--em_tolerance", "0.02"]),
        ("unknown constraint", RUN + ["--constraint", "tokens"]),
        ("unknown algorithm", RUN + ["--algorithm", "ppo"]),
        ("unknown reward", RUN + ["--rewards", '{"exact_matsh": {}}']),
        ("unknown reward parameter", RUN + ["--rewards", '{"exact_match": {}, "budget_penalty": {"weight": "dual", "cpa": 2}}']),
        ("rewards not valid JSON", RUN + ["--rewards", "{exact_match"]),
        ("lambda_max × cap ≥ 1", RUN + ["--lambda_max", "0.8"]),
        ("model path that does not exist", RUN + ["--model_name_or_path", "./no/such/model"]),
        ("dataset directory without the split file", RUN + gsm + [str(tmp / "nowhere")]),
        ("dataset missing the prompt column", RUN + gsm + [str(tmp / "missing_column")]),
        ("empty dataset", RUN + gsm + [str(tmp / "empty")]),
        ("gold answer that cannot be parsed", RUN + gsm + [str(tmp / "bad_gold")]),
        ("your data: no such file", RUN + ["--dataset_name", str(tmp / "nope.csv")]),
        ("your data: no such split", RUN + cols + ["--answer_check", "text", "--dataset_val_split", "dev"]),
        ("your data: no such column", RUN + ["--dataset_name", str(own), "--prompt_column", "question"]),
        ("your data: empty answers", RUN + ["--dataset_name", str(tmp / "empty_answers.csv"), "--prompt_column", "q",
                                            "--answer_column", "a", "--answer_check", "text"]),
        ("your data: not UTF-8", RUN + ["--dataset_name", str(tmp / "latin1.csv"), "--prompt_column", "q",
                                        "--answer_column", "a", "--answer_check", "text"]),
        ("unknown answer_check", RUN + cols + ["--answer_check", "exact"]),
        ("answer_check module that cannot be imported", RUN + cols + ["--answer_check", "no_such_module:check"]),
        ("answer_check that does not fit the data", RUN + cols + ["--answer_check", "numeric"]),
        ("export of a directory that is no run", EXPORT + [str(tmp), "--out", str(tmp / "x")]),
        ("export over an existing export", EXPORT + [str(tmp), "--out", str(tmp / "existing_export")]),
    ]


def main() -> int:
    failures = 0
    print("| # | bad input | message shown (last line) | exit code |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, cmd) in enumerate(cases(Path(tmp)), 1):
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                                  env={**__import__("os").environ, "WANDB_MODE": "disabled"})
            lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip() and "warn" not in ln.lower()]
            message = next((ln for ln in reversed(lines) if "error" in ln.lower() or "failed" in ln.lower()),
                           lines[-1] if lines else "")
            message = message.replace(tmp, "$TMP").replace("|", "\\|")[:160]
            failures += proc.returncode == 0
            print(f"| {i} | {name} | `{message}` | {proc.returncode} |", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
