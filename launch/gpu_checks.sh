#!/usr/bin/env bash
# The GPU-machine checks, one part per call (a lent machine gives ~15 minutes in all, at most 10 a command).
#
# Here, once:   bash ../shared/gpu/prepare.sh && mkdir -p .gpu/gsm8k && cp ../shared/datasets/gsm8k/*.jsonl .gpu/gsm8k/
# There:        call 1 carries .gpu/whl .gpu/model-a .gpu/install.sh and runs `bash .gpu/install.sh`; every later
#               call carries .gpu/model-b .gpu/install.sh .gpu/gsm8k and runs
#               bash .gpu/install.sh && export PYTHONPATH=$(bash .gpu/install.sh --site) && bash launch/gpu_checks.sh PART
#
# Parts, in the order to spend the time on (each writes under $OUT, or runs/gpu_checks without it):
#   profile  where a SmolLM2-recipe step goes, and TRL's / transformers' speed options side by side (~6 min)
#   memory   Qwen2.5-0.5B's recipe with random weights: peak GPU memory and s/step, vLLM off (~3 min)
#   memory15 the same for Qwen2.5-1.5B (~5 min)
#   tests    the whole test suite on the GPU machine (~2 min)
set -euo pipefail
part=${1:?"which part: profile, memory, memory15 or tests"}
out=${OUT:-runs/gpu_checks}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1 || true
case "$part" in
  profile)
    python launch/bench_step.py --config configs/smollm2_words.yaml --steps 8 \
      --variants baseline,gen4,static,gen4_static --out "$out/bench_step" -- --dtype bfloat16 --bf16 true
    cp "$out/bench_step/table.md" "$out/profile_table.md" ;;
  memory)
    python launch/random_weights_step.py --recipe configs/gsm8k_qwen2.5-0.5b_budget.yaml --arch qwen2.5-0.5b \
      --data_path .gpu/gsm8k --steps 3 --out "$out/random_weights" ;;
  memory15)
    python launch/random_weights_step.py --recipe configs/gsm8k_qwen2.5-1.5b_budget.yaml --arch qwen2.5-1.5b \
      --data_path .gpu/gsm8k --steps 3 --out "$out/random_weights" ;;
  tests)
    python -m pytest -q tests 2>&1 | tail -30 | tee "$out/tests.txt" ;;
  *)
    echo "unknown part '$part': use profile, memory, memory15 or tests" >&2; exit 2 ;;
esac
# Only small files come back: drop the model copies and checkpoints, keep JSON, tables and logs.
find "$out" \( -name '*.safetensors' -o -name '*.bin' -o -name 'optimizer.pt' \) -delete 2>/dev/null || true
