#!/usr/bin/env bash
# build.sh: configures and builds the project (Release) into build/ (or $BUILD_DIR).
# Extra arguments go to cmake's configure step, e.g. scripts/build.sh -DPM_USE_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" -j"$(nproc)"
