#!/usr/bin/env bash
# main-job-lm.sh: the language-model main job. finetune_lm with its defaults, ProDiaL on
# models/lm-byte-small (a byte-level MambaLM pretrained on Moby-Dick, the State of the Union
# addresses and the English fortunes; pretrained here first, and kept, when absent) fine-tuned on the
# SpamAssassin ham/spam task (the first 600 bytes of each message body), then LoRA, head-only and full fine-tuning on the same budget (same
# examples, batches and steps), ending with the comparison table (acc, acc_norm, eval loss,
# trainable %, time). A few minutes on a 2-core CPU. Extra arguments go to finetune_lm (e.g.
# --steps 500 --eval-limit 0 --device cuda).
# Needs a build (BUILD_DIR, default build/) and the text data (scripts/get-data.sh text).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
model=models/lm-byte-small
out=runs/main-job-lm-$(date -u +%Y%m%d-%H%M%S)

if [ ! -f "$model/model.safetensors" ]; then
  echo "main-job-lm: $model is missing; pretraining it (models/lm-byte-small/README.md's command, about an hour on 2 cores)" >&2
  "$build/apps/pretrain_lm/pretrain_lm" --d-model 128 --n-layer 3 --seq-len 256 --batch-size 8 --steps 1000 --lr 3e-3 \
    --warmup 30 --eval-every 200 --eval-tokens 16384 --seed 0 --threads 2 \
    --out "runs/pretrain-lm-byte-small-$(date -u +%Y%m%d-%H%M%S)" --save "$model" >/dev/null
fi

echo "main-job-lm: fine-tuning $model on SpamAssassin with ProDiaL, then LoRA, head-only and full fine-tuning; runs in $out" >&2
"$build/apps/finetune_lm/finetune_lm" --model "$model" --data spam-body --compare lora,head,full --out "$out" "$@"
