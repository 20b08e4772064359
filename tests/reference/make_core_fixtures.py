#!/usr/bin/env python3
# make_core_fixtures.py: PyTorch reference values for the engine's core differentiable ops, written
# to tests/data/core_ops.safetensors and checked by tests/tensor/reference_test.cpp.
#
# Regenerate (Debian's python3-torch 1.13 lives under /usr/bin/python3, not a pyenv python):
#     /usr/bin/python3 tests/reference/make_core_fixtures.py
# The output is deterministic (fixed seed, float64 on the CPU); rerunning rewrites the same file.
#
# Layout. Each case is a prefix "<op>.<case>." followed by:
#   <input name>       the inputs, float64 (class targets: int64), e.g. "a", "b", "x", "w", "bias"
#   out                the op's forward output, float64
#   grad_out           a fixed random upstream gradient with out's shape (0-d for a scalar loss)
#   grad_<input>       d(sum(out * grad_out)) / d<input>, i.e. the vector-Jacobian product that
#                      backward(grad_out) gives, for every differentiable input
# The options of each case (stride, eps, dim, ignore_index, ...) are in the file's __metadata__
# under the key "<op>.<case>", as a JSON object in a string.
#
# Cases:
#   matmul.bcast            a [2,1,3,4] @ b [5,4,2] -> [2,5,3,2] (batch dims broadcast)
#   matmul.mat              a [3,4] @ b [4,5]
#   matmul.vec              a [4] @ b [2,4,3] -> [2,3] (1-d operand promoted, then dropped)
#   cross_entropy.smooth    logits x [6,5], target [6] with two entries = ignore_index -100,
#                           label_smoothing 0.1, mean over non-ignored rows
#   cross_entropy.ignore    logits x [5,4], ignore_index 2 (a real class id), no smoothing
#   conv2d.bias             x [2,3,7,6], w [4,3,3,2], bias [4], stride (2,1), padding (1,2)
#   conv2d.nobias           x [1,2,5,5], w [3,2,2,3], no bias, stride (2,3), padding (1,0)
#   rms_norm.weight         x [2,3,8], weight [8], eps 1e-5: y = x / sqrt(mean(x^2, -1) + eps) * weight
#   rms_norm.noweight       x [4,5], no weight, eps 1e-6
#   layer_norm.affine       x [4,6], weight [6], bias [6], eps 1e-5
#   layer_norm.3d           x [2,3,5], weight [5], bias [5], eps 1e-6
#   softmax.dim1            x [3,4,5], dim 1
#   softmax.last            x [4,7], dim -1
#   log_softmax.last        x [3,4,5], dim -1
#   log_softmax.dim0        x [5,3], dim 0
import json
import os

import torch
import torch.nn.functional as F

import safetensors_py as st

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "core_ops.safetensors")

gen = torch.Generator().manual_seed(20240611)
tensors = {}
metadata = {"format": "pt", "source": "tests/reference/make_core_fixtures.py", "torch": torch.__version__}


def randn(*shape, scale=1.0):
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).requires_grad_(True)


def record(prefix, options, inputs, fn, extra=None):
    """Runs fn(**inputs), back-propagates a random grad_out and stores everything under prefix."""
    out = fn(**inputs)
    grad_out = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    diff = {k: v for k, v in inputs.items() if v.requires_grad}
    grads = torch.autograd.grad(out, list(diff.values()), grad_out)
    for k, v in inputs.items():
        tensors[f"{prefix}.{k}"] = st.from_torch(v)
    for k, v in (extra or {}).items():
        tensors[f"{prefix}.{k}"] = st.from_torch(v)
    tensors[f"{prefix}.out"] = st.from_torch(out)
    tensors[f"{prefix}.grad_out"] = st.from_torch(grad_out)
    for k, g in zip(diff, grads):
        tensors[f"{prefix}.grad_{k}"] = st.from_torch(g)
    metadata[prefix] = json.dumps(options, sort_keys=True)


def matmul_cases():
    record("matmul.bcast", {}, {"a": randn(2, 1, 3, 4), "b": randn(5, 4, 2)}, lambda a, b: torch.matmul(a, b))
    record("matmul.mat", {}, {"a": randn(3, 4), "b": randn(4, 5)}, lambda a, b: torch.matmul(a, b))
    record("matmul.vec", {}, {"a": randn(4), "b": randn(2, 4, 3)}, lambda a, b: torch.matmul(a, b))


def cross_entropy_cases():
    target = torch.tensor([3, -100, 0, 4, -100, 1], dtype=torch.int64)
    opt = {"ignore_index": -100, "label_smoothing": 0.1}
    record("cross_entropy.smooth", opt, {"x": randn(6, 5, scale=2.0)},
           lambda x: F.cross_entropy(x, target, ignore_index=-100, label_smoothing=0.1), {"target": target})
    target2 = torch.tensor([2, 0, 3, 2, 1], dtype=torch.int64)
    opt2 = {"ignore_index": 2, "label_smoothing": 0.0}
    record("cross_entropy.ignore", opt2, {"x": randn(5, 4, scale=2.0)},
           lambda x: F.cross_entropy(x, target2, ignore_index=2), {"target": target2})


def conv2d_cases():
    opt = {"stride": [2, 1], "padding": [1, 2]}
    record("conv2d.bias", opt, {"x": randn(2, 3, 7, 6), "w": randn(4, 3, 3, 2, scale=0.5), "bias": randn(4)},
           lambda x, w, bias: F.conv2d(x, w, bias, stride=(2, 1), padding=(1, 2)))
    opt2 = {"stride": [2, 3], "padding": [1, 0]}
    record("conv2d.nobias", opt2, {"x": randn(1, 2, 5, 5), "w": randn(3, 2, 2, 3, scale=0.5)},
           lambda x, w: F.conv2d(x, w, None, stride=(2, 3), padding=(1, 0)))


def rms_norm(x, weight, eps):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * weight if weight is not None else y


def norm_cases():
    record("rms_norm.weight", {"eps": 1e-5}, {"x": randn(2, 3, 8), "weight": randn(8)},
           lambda x, weight: rms_norm(x, weight, 1e-5))
    record("rms_norm.noweight", {"eps": 1e-6}, {"x": randn(4, 5)}, lambda x: rms_norm(x, None, 1e-6))
    record("layer_norm.affine", {"eps": 1e-5}, {"x": randn(4, 6, scale=3.0), "weight": randn(6), "bias": randn(6)},
           lambda x, weight, bias: F.layer_norm(x, (6,), weight, bias, 1e-5))
    record("layer_norm.3d", {"eps": 1e-6}, {"x": randn(2, 3, 5), "weight": randn(5), "bias": randn(5)},
           lambda x, weight, bias: F.layer_norm(x, (5,), weight, bias, 1e-6))


def softmax_cases():
    record("softmax.dim1", {"dim": 1}, {"x": randn(3, 4, 5, scale=2.0)}, lambda x: torch.softmax(x, 1))
    record("softmax.last", {"dim": -1}, {"x": randn(4, 7, scale=2.0)}, lambda x: torch.softmax(x, -1))
    record("log_softmax.last", {"dim": -1}, {"x": randn(3, 4, 5, scale=2.0)}, lambda x: torch.log_softmax(x, -1))
    record("log_softmax.dim0", {"dim": 0}, {"x": randn(5, 3, scale=2.0)}, lambda x: torch.log_softmax(x, 0))


def main():
    matmul_cases()
    cross_entropy_cases()
    conv2d_cases()
    norm_cases()
    softmax_cases()
    st.write(OUT, tensors, metadata)
    back, meta = st.read(OUT)
    assert set(back) == set(tensors) and meta == metadata
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes,", len(tensors), "tensors")


if __name__ == "__main__":
    main()
