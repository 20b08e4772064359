#!/usr/bin/env bash
# run-tests.sh: sets everything up (packages, build) and runs the whole test suite with ctest.
# CUDA tests skip with a reason when no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" "$@"
