#!/usr/bin/env python3
# make_safetensors_lib_fixture.py: writes tests/data/safetensors_lib_written.safetensors through the
# Python `safetensors` library itself (safetensors.torch.save_file), with the same tensors and values
# as make_safetensors_fixture.py (see the table there), so tests/nn/safetensors_test.cpp checks our
# reader against the reference implementation's own bytes.
#
# Needs torch >= 2.3 (uint16/32/64 dtypes) and safetensors: run it where they are installed (the GPU
# machine has both; this script does no GPU work):
#   python3 tests/reference/make_safetensors_lib_fixture.py [OUT_DIR]
import math
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data")
    out = os.path.join(out_dir, "safetensors_lib_written.safetensors")
    t = torch.tensor
    tensors = {
        "weight.f32": t([-1, -0.5, 0, 0.5, 1, 1.5], dtype=torch.float32).reshape(2, 3),
        "weight.f64": t([math.pi, -math.e, 1e-300], dtype=torch.float64),
        "half.f16": t([1, -2, 65504, 2.0**-24, 2.0**-14, math.inf, -0.0, math.nan], dtype=torch.float16),
        "brain.bf16": t([1.5, -2.25, 2.0**100, 0.15625], dtype=torch.bfloat16).reshape(2, 2),
        "ids.i64": t([0, -1, 2**40 + 3, -(2**62)], dtype=torch.int64),
        "ids.i32": t([1, -2, 2**31 - 1, -(2**31)], dtype=torch.int32).reshape(2, 2),
        "bytes.u8": t([0, 7, 255], dtype=torch.uint8),
        "mask.bool": t([True, False, True], dtype=torch.bool),
        "small.i8": t([-5, 100], dtype=torch.int8),
        "small.i16": t([-300, 300], dtype=torch.int16),
        # torch has no literal path for the unsigned types above 8 bits: build them from their bits
        "small.u16": t([-1], dtype=torch.int16).view(torch.uint16),
        "small.u32": t([-1], dtype=torch.int32).view(torch.uint32),
        "big.u64": t([-1], dtype=torch.int64).view(torch.uint64),
        "scalar": t(3.25, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    save_file(tensors, out, metadata={"format": "pt", "source": "make_safetensors_lib_fixture.py"})
    with safe_open(out, framework="pt") as f:
        assert set(f.keys()) == set(tensors)
        assert f.metadata()["source"] == "make_safetensors_lib_fixture.py"
    print("wrote", os.path.normpath(out), os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
