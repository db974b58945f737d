#!/usr/bin/env bash
# Multi-node Terse run under Slurm: one `accelerate launch` per node, 8 GPUs each.
#   sbatch --nodes 2 launch/slurm.sh --config configs/arith.yaml --output_dir runs/multinode
#SBATCH --job-name=terse
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --exclusive
set -euo pipefail
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
MAIN_IP=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
srun bash -c "accelerate launch --config_file launch/accelerate/multi_node.yaml \
  --num_machines $SLURM_NNODES --num_processes $((SLURM_NNODES * GPUS_PER_NODE)) \
  --machine_rank \$SLURM_NODEID --main_process_ip $MAIN_IP --main_process_port 29500 \
  train/run.py $*"
