#!/usr/bin/env bash
# main-job.sh: the main job. finetune_vim with its defaults, ProDiaL on models/vim-fmnist-small
# (a Vim pretrained on Fashion-MNIST; pretrained here first, and kept, when absent) fine-tuned on
# MNIST, then LoRA, head-only and full fine-tuning on the same budget (same data, batches and
# steps), ending with the comparison table (accuracy, trainable %, time). Under 10 minutes on a
# 2-core CPU. Extra arguments go to finetune_vim (e.g. --steps 1000 --train-size 0 --device cuda).
# Needs a build (BUILD_DIR, default build/) and the vision data (scripts/get-data.sh vision).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
model=models/vim-fmnist-small
out=runs/main-job-$(date -u +%Y%m%d-%H%M%S)

if [ ! -f "$model/model.safetensors" ]; then
  echo "main-job: $model is missing; pretraining it on Fashion-MNIST (models/README.md's command)" >&2
  "$build/apps/pretrain_vim/pretrain_vim" --preset fmnist-small --data fashion-mnist --steps 1500 \
    --batch-size 64 --lr 2e-3 --warmup 50 --eval-every 500 --eval-size 2000 --seed 0 --threads 2 \
    --out "runs/pretrain-vim-fmnist-small-$(date -u +%Y%m%d-%H%M%S)" --save "$model" >/dev/null
fi

echo "main-job: fine-tuning $model on MNIST with ProDiaL, then LoRA, head-only and full fine-tuning; runs in $out" >&2
"$build/apps/finetune_vim/finetune_vim" --model "$model" --compare lora,head,full --out "$out" "$@"
