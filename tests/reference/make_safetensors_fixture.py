#!/usr/bin/env python3
# make_safetensors_fixture.py: writes tests/data/python_written.safetensors, a small file in the
# reference library's layout (see safetensors_py.py) holding one tensor of every dtype our reader
# loads, plus special values, a 0-d and an empty tensor, and metadata. tests/nn/safetensors_test.cpp
# checks every value below, so keep the two in step.
#
# The Python `safetensors` package is not installable on the build machines, so the bytes are made
# here with numpy + struct, independently of our C++ writer. bfloat16 values are chosen to be exact
# (their float32 bits end in 16 zero bits), so bf16 = float32 bits >> 16.
#
# Regenerate:  /usr/bin/python3 tests/reference/make_safetensors_fixture.py
#
# Keys (dtype, shape: values):
#   weight.f32  F32  [2, 3]  -1, -0.5, 0, 0.5, 1, 1.5
#   weight.f64  F64  [3]     pi, -e, 1e-300
#   half.f16    F16  [8]     1, -2, 65504, 2^-24 (smallest subnormal), 2^-14 (smallest normal), inf, -0.0, nan
#   brain.bf16  BF16 [2, 2]  1.5, -2.25, 2^100, 0.15625
#   ids.i64     I64  [4]     0, -1, 2^40 + 3, -2^62
#   ids.i32     I32  [2, 2]  1, -2, 2^31 - 1, -2^31
#   bytes.u8    U8   [3]     0, 7, 255
#   mask.bool   BOOL [3]     true, false, true
#   small.i8    I8   [2]     -5, 100
#   small.i16   I16  [2]     -300, 300
#   small.u16   U16  [1]     65535
#   small.u32   U32  [1]     4294967295
#   big.u64     U64  [1]     2^64 - 1 (our reader lists it but refuses to load it)
#   scalar      F32  []      3.25
#   empty       F32  [0, 3]  (no bytes)
#   metadata: {"format": "pt", "source": "make_safetensors_fixture.py"}
import math
import os

import numpy as np

import safetensors_py as st

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "python_written.safetensors")


def arr(dtype_str, np_dtype, shape, values):
    a = np.asarray(values, dtype=np_dtype).reshape(shape)
    return dtype_str, list(shape), a.astype(np.dtype(np_dtype).newbyteorder("<")).tobytes()


def bf16(shape, values):
    bits = np.asarray(values, dtype="<f4").view("<u4")
    assert np.all(bits & 0xFFFF == 0), "bf16 fixture values must be exact"
    return "BF16", list(shape), (bits >> 16).astype("<u2").tobytes()


def main():
    tensors = {
        "weight.f32": arr("F32", np.float32, [2, 3], [-1, -0.5, 0, 0.5, 1, 1.5]),
        "weight.f64": arr("F64", np.float64, [3], [math.pi, -math.e, 1e-300]),
        "half.f16": arr("F16", np.float16, [8], [1, -2, 65504, 2.0**-24, 2.0**-14, np.inf, -0.0, np.nan]),
        "brain.bf16": bf16([2, 2], [1.5, -2.25, 2.0**100, 0.15625]),
        "ids.i64": arr("I64", np.int64, [4], [0, -1, 2**40 + 3, -(2**62)]),
        "ids.i32": arr("I32", np.int32, [2, 2], [1, -2, 2**31 - 1, -(2**31)]),
        "bytes.u8": arr("U8", np.uint8, [3], [0, 7, 255]),
        "mask.bool": arr("BOOL", np.bool_, [3], [True, False, True]),
        "small.i8": arr("I8", np.int8, [2], [-5, 100]),
        "small.i16": arr("I16", np.int16, [2], [-300, 300]),
        "small.u16": arr("U16", np.uint16, [1], [65535]),
        "small.u32": arr("U32", np.uint32, [1], [4294967295]),
        "big.u64": arr("U64", np.uint64, [1], [2**64 - 1]),
        "scalar": arr("F32", np.float32, [], 3.25),
        "empty": ("F32", [0, 3], b""),
    }
    st.write(OUT, tensors, {"format": "pt", "source": "make_safetensors_fixture.py"})
    back, meta = st.read(OUT)
    assert set(back) == set(tensors) and meta["format"] == "pt"
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
