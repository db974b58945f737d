"""Check Terse's answer scorer against GSM8K's own gold answers: scoring each reference solution as a
completion must give EM 1.0 on every row.

    python launch/check_gsm8k_scorer.py ../shared/datasets/gsm8k        # local copy
    python launch/check_gsm8k_scorer.py                                # openai/gsm8k from the hub
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rewards.exact_match import is_correct  # noqa: E402
from train.tasks import gsm8k  # noqa: E402

data_path = sys.argv[1] if len(sys.argv) > 1 else None
rows = gsm8k.load_test(data_path)
wrong = [i for i, r in enumerate(rows) if not is_correct(r["solution"], r["answer"])]
print(f"GSM8K test: {len(rows)} rows, gold solutions scored EM {1 - len(wrong) / len(rows):.4f}; mismatches: {wrong[:10]}")
sys.exit(1 if wrong else 0)
