#!/usr/bin/env bash
# quickstart.sh: sets everything up (packages, build) and runs the main job. Until the fine-tuning
# apps land, the main job is examples/mlp_fit: a two-layer MLP fitted by gradient descent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
"${BUILD_DIR:-build}/examples/mlp_fit" "$@"
