"""Check Terse's numeric answer check against GSM8K's own gold answers: scoring each reference solution as a
completion must give EM 1.0 on every row, read by the built-in task and by the general loader with the
recipe configs/gsm8k_hub_qwen2.5-0.5b.yaml's columns (the two must also agree on every gold answer).

    python -m launch.research.check_gsm8k_scorer ../shared/datasets/gsm8k        # local copy
    python -m launch.research.check_gsm8k_scorer                                # openai/gsm8k from the hub
"""

import sys
from decimal import Decimal
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

from rewards import answer_check
from train.tasks import gsm8k
from train.tasks.dataset import DataSpec, load_test

data_path = sys.argv[1] if len(sys.argv) > 1 else None
rows = gsm8k.load_test(data_path)
wrong = [i for i, r in enumerate(rows) if not answer_check.is_correct(r["solution"], r["answer"], "numeric")]
print(f"GSM8K test, built-in task: {len(rows)} rows, gold solutions scored EM {1 - len(wrong) / len(rows):.4f}; "
      f"mismatches: {wrong[:10]}")

recipe = yaml.safe_load((REPO / "configs" / "gsm8k_hub_qwen2.5-0.5b.yaml").read_text())
fields = {k: recipe[k] for k in DataSpec.__dataclass_fields__ if k in recipe}
spec = DataSpec(**{**fields, "dataset_name": data_path or recipe["dataset_name"]})
general = load_test(spec)
wrong_general = [i for i, r in enumerate(general) if not answer_check.is_correct(r[spec.answer_column], r["answer"],
                                                                                  spec.answer_check, r)]
differ = [i for i, (a, b) in enumerate(zip(rows, general, strict=True))
          if Decimal(a["answer"]) != Decimal(b["answer"].replace(",", ""))]
print(f"GSM8K test, general loader ({spec.dataset_name}, answer_pattern {spec.answer_pattern!r}): {len(general)} rows, "
      f"EM {1 - len(wrong_general) / len(general):.4f}; gold answers that differ from the built-in task's: {len(differ)}")
sys.exit(1 if wrong or wrong_general or differ else 0)
