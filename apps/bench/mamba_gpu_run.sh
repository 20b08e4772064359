#!/usr/bin/env bash
# mamba_gpu_run.sh: one GPU-machine pass for the mamba CUDA kernels: build (test_cuda, bench), the
# CUDA tests for mamba and the op parity suite, compute-sanitizer memcheck / racecheck on the new
# tests, and the mamba benchmarks (scan kernel section, lm-train). Logs under $OUT (default
# ./mamba-gpu-out); every step is time-limited so the logs come back.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-mamba-gpu-out}
mkdir -p "$out"
build=${BUILD_DIR:-build-gpu}
P=$PWD/third_party_carry
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv > "$out/gpu.txt" 2>&1
cat "$out/gpu.txt"
t0=$(date +%s)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPM_USE_CUDA=ON -DCMAKE_PREFIX_PATH="$P/usr" \
  -DCMAKE_CXX_FLAGS="-isystem $P/usr/include" > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
timeout 300 cmake --build "$build" -j16 --target test_cuda bench -- -k >> "$out/build.log" 2>&1
echo "build rc $? in $(( $(date +%s) - t0 )) s"; grep -E "error" "$out/build.log" | head -20
T=$build/tests/test_cuda
timeout 120 "$T" --gtest_filter="${PM_FILTER:-*Mamba*:*Parity*:*Scan*:*Conv1d*}" > "$out/test_cuda.log" 2>&1
echo "test_cuda rc $?"; grep -E "^\[  (PASSED|FAILED) |FAILED TEST|tests ran" "$out/test_cuda.log" | head -30
grep -B2 -A6 "Failure" "$out/test_cuda.log" | head -60
S=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
timeout 100 "$S" --tool memcheck --error-exitcode 9 "$T" --gtest_brief=1 \
  --gtest_filter='MambaScanCuda.MatchesCpuAcrossStateSizes:MambaConv1dCuda.*:MambaScanCuda.StateUpdate*:AllOps/CudaParity.MatchesCpu/selective_scan*:AllOps/CudaParity.MatchesCpu/causal_conv1d*' \
  > "$out/memcheck.log" 2>&1
echo "memcheck rc $? $(grep -E 'ERROR SUMMARY' "$out/memcheck.log" | tail -1)"
timeout 60 "$S" --tool racecheck --error-exitcode 9 "$T" --gtest_brief=1 \
  --gtest_filter='AllOps/CudaParity.MatchesCpu/selective_scan*:AllOps/CudaParity.MatchesCpu/causal_conv1d*' \
  > "$out/racecheck.log" 2>&1
echo "racecheck rc $? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$out/racecheck.log" | tail -1)"
B=$build/apps/bench/bench
timeout 60 "$B" --only mamba_scan --repeats 20 --warmup 3 > "$out/bench_scan.log" 2>&1; echo "bench scan rc $?"
cat "$out/bench_scan.log" | head -12
timeout 90 "$B" lm-train --device cuda --preset mamba-130m --batch 4 --seq-len 512 --steps 5 --warmup 2 > "$out/lm_train.log" 2>&1
echo "lm-train 130m rc $?"; cat "$out/lm_train.log" | tail -3
timeout 40 "$B" lm-train --device cuda --d-model 256 --layers 4 --vocab 256 --batch 8 --seq-len 256 --steps 5 >> "$out/lm_train.log" 2>&1
echo "lm-train small rc $?"; tail -1 "$out/lm_train.log"
if [ "${PM_NCU:-1}" = 1 ] && command -v ncu > /dev/null; then
  timeout 90 ncu --clock-control none -k regex:scan_ -c 2 --section SpeedOfLight --section Occupancy \
    --section WarpStateStats "$B" --only mamba_scan --repeats 1 --warmup 0 > "$out/ncu.log" 2>&1
  echo "ncu rc $?"; grep -E "scan_|Duration|Throughput|Achieved Occupancy|Theoretical Occupancy|Stall" "$out/ncu.log" | head -40
fi
echo "total $(( $(date +%s) - t0 )) s"
