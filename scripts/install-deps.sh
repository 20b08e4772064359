#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages the build and tests need (as root, apt-get).
# Skips apt entirely when everything is already there. Nothing is downloaded at build time.
set -euo pipefail

packages=(
  g++ cmake make           # compiler and build
  libgtest-dev             # tests
  libbenchmark-dev         # micro-benchmarks
  libopenblas-dev          # CBLAS for CPU matrix products
  libopenblas-openmp-dev   # ... its OpenMP build, sharing our OpenMP threads (see CMakeLists.txt)
  zlib1g-dev               # gzip'd IDX data sets
  nlohmann-json3-dev       # JSON: safetensors headers, configs
  libcli11-dev             # command-line parsing in apps
  libstb-dev               # image decoding (stb_image)
)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root (or install them with sudo apt-get install)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
