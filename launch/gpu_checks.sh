#!/usr/bin/env bash
# The GPU-machine checks, one part per call (a lent machine gives ~15 minutes in all, at most 10 a command).
#
# Here, once:   bash ../shared/gpu/prepare.sh && mkdir -p .gpu/gsm8k && cp ../shared/datasets/gsm8k/*.jsonl .gpu/gsm8k/
# There:        call 1 carries .gpu/whl .gpu/model-a .gpu/install.sh and runs `bash .gpu/install.sh`; every later
#               call carries .gpu/model-b .gpu/install.sh .gpu/gsm8k and runs
#               bash .gpu/install.sh && export PYTHONPATH=$(bash .gpu/install.sh --site) && bash launch/gpu_checks.sh PART
#
# Parts, in the order to spend the time on (each works under runs/gpu_checks/PART, then puts at most three
# files into $OUT — the device tool returns at most 8 a call: the part's table or record, the GPU's name, and
# a tarball of every JSON, table and log it wrote, weights left out):
#   profile  where a SmolLM2-recipe step goes, and TRL's / transformers' speed options side by side (~6 min)
#   memory   Qwen2.5-0.5B's recipe with random weights: peak GPU memory and s/step, vLLM off (~3 min)
#   memory15 the same for Qwen2.5-1.5B (~5 min)
#   tests    the whole test suite on the GPU machine (~2 min)
set -euo pipefail
part=${1:?"which part: profile, memory, memory15 or tests"}
work=runs/gpu_checks/$part
out=${OUT:-runs/gpu_checks/out}
case "$part" in profile|memory|memory15|tests) ;; *)
  echo "unknown part '$part': use profile, memory, memory15 or tests" >&2; exit 2 ;;
esac
mkdir -p "$work" "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1 || true
status=0
case "$part" in
  profile)
    python launch/bench_step.py --config configs/smollm2_words.yaml --steps 8 \
      --variants baseline,gen4,static,gen4_static --out "$work" -- --dtype bfloat16 --bf16 true || status=$?
    cp "$work/table.md" "$out/profile_table.md" 2>/dev/null || true ;;
  memory|memory15)
    arch=qwen2.5-0.5b; [ "$part" = memory15 ] && arch=qwen2.5-1.5b
    python launch/random_weights_step.py --recipe "configs/gsm8k_${arch}_budget.yaml" --arch "$arch" \
      --data_path .gpu/gsm8k --steps 3 --out "$work" > "$work/log.txt" 2>&1 || status=$?
    cp "$work/random_weights_step-$arch.json" "$out/" 2>/dev/null || tail -50 "$work/log.txt" ;;
  tests)
    python -m pytest -q tests > "$work/tests.txt" 2>&1 || status=$?
    tail -30 "$work/tests.txt" | tee "$out/tests_tail.txt" ;;
esac
tar czf "$out/$part.tgz" --exclude='*.safetensors' --exclude='*.bin' --exclude='*.pt' --exclude='*.pth' \
  --exclude='model-*' -C runs/gpu_checks "$part"
exit $status
