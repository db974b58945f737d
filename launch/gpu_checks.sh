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
#   chain    SmolLM2 on the benchmark task (configs/smollm2_chain_easy.yaml): its warm start, reliability
#            curves and frontier, then EM-only, Terse global, Terse learned and Terse monotone side by side,
#            bf16; SEEDS (default 0) and STEPS (default 40) set the contest's size. Unmeasured: sized from the
#            H100 figures (~1 min warm start, ~1 min curves, 4 runs at once); a 10-minute call may cut it
#            short (timeout 540 s), and then the runs' logs and the curves still come back
#   profile  where a SmolLM2-recipe step goes, and TRL's / transformers' speed options side by side (~6 min)
#   memory   Qwen2.5-0.5B's recipe with random weights: peak GPU memory and s/step, vLLM off (~3 min)
#   memory15 the same for Qwen2.5-1.5B (~5 min)
#   tests    the whole test suite on the GPU machine (~2 min)
set -euo pipefail
part=${1:?"which part: chain, profile, memory, memory15 or tests"}
work=runs/gpu_checks/$part
out=${OUT:-runs/gpu_checks/out}
case "$part" in chain|profile|memory|memory15|tests) ;; *)
  echo "unknown part '$part': use chain, profile, memory, memory15 or tests" >&2; exit 2 ;;
esac
mkdir -p "$work" "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1 || true
status=0
keep=()  # what else the tarball carries (run logs and summaries; weights are left out)
case "$part" in
  chain)
    timeout 540 python launch/compare.py --config configs/smollm2_chain_easy.yaml --defaults \
      --seeds "${SEEDS:-0}" --max_steps "${STEPS:-40}" --budget_ratio 0.4 --only em_only,terse_global,terse,terse_monotone \
      --workers 4 --threads 4 --out "$work" --extra '--dtype bfloat16 --bf16 true --report_to none' \
      > "$work/log.txt" 2>&1 || status=$?
    cp "$work/table.md" "$out/chain_table.md" 2>/dev/null || tail -40 "$work/log.txt"
    keep=(cache reliability) ;;
  profile)
    python -m launch.research.bench_step --config configs/smollm2_words.yaml --steps 8 \
      --variants baseline,gen4,static,gen4_static --out "$work" -- --dtype bfloat16 --bf16 true || status=$?
    cp "$work/table.md" "$out/profile_table.md" 2>/dev/null || true ;;
  memory|memory15)
    arch=qwen2.5-0.5b; [ "$part" = memory15 ] && arch=qwen2.5-1.5b
    python -m launch.research.random_weights_step --recipe "configs/gsm8k_${arch}_budget.yaml" --arch "$arch" \
      --data_path .gpu/gsm8k --steps 3 --out "$work" > "$work/log.txt" 2>&1 || status=$?
    cp "$work/random_weights_step-$arch.json" "$out/" 2>/dev/null || tail -50 "$work/log.txt" ;;
  tests)
    python -m pytest -q tests > "$work/tests.txt" 2>&1 || status=$?
    tail -30 "$work/tests.txt" | tee "$out/tests_tail.txt" ;;
esac
dirs=("gpu_checks/$part"); for d in "${keep[@]}"; do [ -d "runs/$d" ] && dirs+=("$d"); done
tar czf "$out/$part.tgz" --exclude='*.safetensors' --exclude='*.bin' --exclude='*.pt' --exclude='*.pth' \
  --exclude='model-*' --exclude='*.lock' -C runs "${dirs[@]}"
exit $status
