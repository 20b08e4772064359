#!/usr/bin/env bash
# gpu-check.sh: builds with CUDA and runs, on a machine with an NVIDIA GPU, the whole test suite,
# compute-sanitizer (memcheck, racecheck) over the CUDA tests, and the benchmarks. Logs go to
# $OUT (default ./gpu-check-out). PM_SANITIZE=0 skips the sanitizers (PM_SANITIZE_TOOLS picks them), PM_BENCH=0 the benchmarks,
# PM_BENCH_ONLY=a,b runs only those bench sections. Header-only dependencies may come from a prefix given as
# PM_PREFIX (e.g. a folder holding usr/include/{nlohmann,CLI,stb} and usr/share/cmake/...).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check-out}
mkdir -p "$out"
build=${BUILD_DIR:-build-gpu}
prefix_args=()
[ -n "${PM_PREFIX:-}" ] && prefix_args=(-DCMAKE_PREFIX_PATH="$PM_PREFIX/usr" -DCMAKE_CXX_FLAGS="-isystem $PM_PREFIX/usr/include")

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1
# Keep going past a failing target so the rest still gets tested; the log says what failed.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPM_USE_CUDA=ON "${prefix_args[@]}" > "$out/build.log" 2>&1 ||
  { tail -30 "$out/build.log"; exit 1; }
if cmake --build "$build" -j"$(nproc)" -- -k >> "$out/build.log" 2>&1; then
  echo "build ok"
else
  echo "build FAILED for some targets:"; grep -E "error|\*\*\*" "$out/build.log" | head -20
fi

(cd "$build" && ctest -j8 --output-on-failure --timeout 300) > "$out/ctest.log" 2>&1
grep -E "tests passed|tests failed|Failed|\*\*\*" "$out/ctest.log" | tail -40

sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ "${PM_SANITIZE:-1}" = 1 ] && [ -x "$sanitizer" ]; then
  for tool in ${PM_SANITIZE_TOOLS:-memcheck racecheck}; do
    "$sanitizer" --tool "$tool" --error-exitcode 9 "$build/tests/test_cuda" --gtest_brief=1 \
      > "$out/sanitizer-$tool.log" 2>&1
    echo "compute-sanitizer $tool: exit $? ($(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer-$tool.log" | tail -1))"
  done
fi

if [ "${PM_BENCH:-1}" = 1 ]; then
  bench_args=()
  [ -n "${PM_BENCH_ONLY:-}" ] && bench_args=(--only "$PM_BENCH_ONLY")
  "$build/apps/bench/bench" "${bench_args[@]}" > "$out/bench.log" 2>&1
  echo "bench exit $?"; tail -3 "$out/bench.log"
fi
