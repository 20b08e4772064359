#!/usr/bin/env python3
# make_nn_fixtures.py: PyTorch reference values for the nn/ layer, checked by tests/nn/*_test.cpp:
#   tests/data/nn_optim.safetensors   optimizer trajectories (SGD, AdamW) and gradient clipping
#   tests/data/nn_layers.safetensors  layer and loss forward/backward values
#
# Regenerate (Debian's python3-torch 1.13 lives under /usr/bin/python3):
#     /usr/bin/python3 tests/reference/make_nn_fixtures.py
# Deterministic (fixed seed, float64 on the CPU); rerunning rewrites the same files. The files are
# written by a small safetensors writer in this script (the `safetensors` package is not installed).
#
# nn_optim.safetensors. For each optimizer case "<case>": the initial parameters "<case>.p<j>.0",
# fixed gradients "<case>.p<j>.grad.<t>" for steps t = 0..T-1 (not derived from the parameters), and
# the parameters after each step "<case>.p<j>.<t+1>". Final optimizer buffers: "<case>.p<j>.<buffer>"
# (momentum_buffer; exp_avg, exp_avg_sq). Hyperparameters: __metadata__["<case>"], JSON with a list
# "groups" of {"params": [j...], "lr", "weight_decay", ...} and "steps".
#   sgd.nesterov     one group, lr 0.1, momentum 0.9, nesterov, weight_decay 0.01, 4 steps
#   sgd.momentum     one group, lr 0.05, momentum 0.8, dampening 0.1, no decay, 4 steps
#   sgd.plain        one group, lr 0.2, no momentum, weight_decay 0.05, 3 steps
#   adamw            two groups: p0 [3,4] lr 0.01 wd 0.1; p1 [4] lr 0.02 wd 0; betas (0.9, 0.99),
#                    eps 1e-8, 5 steps
#   adamw.sparse     one group (lr 1e-3, wd 0.05, default betas), p1 has no gradient at step 1, so
#                    its own step count lags (shows the per-parameter bias correction)
# Clipping "clip.<norm>": gradients "clip.<norm>.g<j>", clipped "clip.<norm>.clipped<j>" and the
# returned total "clip.<norm>.total" (1 element) for max_norm in the metadata; norm "2" and "inf".
#
# nn_layers.safetensors. Each case "<case>" holds its inputs, "out", a random "grad_out" and the
# vector-Jacobian products "grad_<input>" (what backward(grad_out) gives); options in metadata.
#   linear           x [2,3,5], weight [4,5], bias [4]
#   linear.nobias    x [6,5], weight [3,5]
#   embedding        weight [10,4], ids [2,5] (int64, with repeats), padding_idx 1
#   rms_norm         x [2,3,8], weight [8], eps 1e-5: x / sqrt(mean(x^2) + eps) * weight
#   layer_norm       x [2,4,6], weight [6], bias [6], eps 1e-5
#   conv1d           x [2,6,9], weight [6,1,4], bias [6]: conv1d(groups=6, padding=3)[..., :9]
#   conv1d.nobias    x [1,4,5], weight [4,1,3], no bias
#   conv2d.patch     x [2,3,8,8], weight [5,3,4,4], bias [5], stride 4 (patchify)
#   conv2d.overlap   x [1,2,7,7], weight [3,2,4,4], no bias, stride 2, padding 1
#   cross_entropy    logits x [2,3,5], target [2,3] (two entries -100), label_smoothing 0.1
#   mse.mean         x [3,4], target [3,4] (both differentiable), mean
#   mse.sum          x [5], target [5], sum
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")

gen = torch.Generator().manual_seed(20240612)


# ---- a tiny safetensors writer ----------------------------------------------------------------------
DTYPES = {torch.float64: ("F64", 8), torch.float32: ("F32", 4), torch.int64: ("I64", 8)}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        dtype, _ = DTYPES[t.dtype]
        raw = t.numpy().tobytes()  # little-endian on the machines we run on
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes,", len(tensors), "tensors")


def randn(*shape, scale=1.0):
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float64) * scale


# ---- optimizers -------------------------------------------------------------------------------------
optim_tensors, optim_meta = {}, {"source": "tests/reference/make_nn_fixtures.py", "torch": torch.__version__}


def run_optimizer(case, shapes, make_opt, steps, options, skip=None):
    """skip: set of (param index, step) pairs where that parameter gets no gradient."""
    params = [torch.nn.Parameter(randn(*s)) for s in shapes]
    for j, p in enumerate(params):
        optim_tensors[f"{case}.p{j}.0"] = p.detach().clone()
    opt = make_opt(params)
    for t in range(steps):
        for j, p in enumerate(params):
            if skip and (j, t) in skip:
                p.grad = None
                continue
            g = randn(*p.shape)
            optim_tensors[f"{case}.p{j}.grad.{t}"] = g
            p.grad = g.clone()
        opt.step()
        for j, p in enumerate(params):
            optim_tensors[f"{case}.p{j}.{t + 1}"] = p.detach().clone()
    for j, p in enumerate(params):
        for k, v in opt.state[p].items():
            if torch.is_tensor(v) and v.dim() > 0:
                optim_tensors[f"{case}.p{j}.{k}"] = v.detach().clone()
    options = dict(options, steps=steps)
    optim_meta[case] = json.dumps(options, sort_keys=True)


def optimizer_cases():
    run_optimizer("sgd.nesterov", [(4, 3)],
                  lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), 4,
                  {"groups": [{"params": [0], "lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": True,
                               "weight_decay": 0.01}]})
    run_optimizer("sgd.momentum", [(5,)],
                  lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.1), 4,
                  {"groups": [{"params": [0], "lr": 0.05, "momentum": 0.8, "dampening": 0.1, "nesterov": False,
                               "weight_decay": 0.0}]})
    run_optimizer("sgd.plain", [(2, 3)], lambda ps: torch.optim.SGD(ps, lr=0.2, weight_decay=0.05), 3,
                  {"groups": [{"params": [0], "lr": 0.2, "momentum": 0.0, "dampening": 0.0, "nesterov": False,
                               "weight_decay": 0.05}]})
    groups = [{"params": [0], "lr": 0.01, "weight_decay": 0.1}, {"params": [1], "lr": 0.02, "weight_decay": 0.0}]
    run_optimizer("adamw", [(3, 4), (4,)],
                  lambda ps: torch.optim.AdamW([{"params": [ps[0]], "lr": 0.01, "weight_decay": 0.1},
                                                {"params": [ps[1]], "lr": 0.02, "weight_decay": 0.0}],
                                               betas=(0.9, 0.99), eps=1e-8), 5,
                  {"groups": [dict(g, beta1=0.9, beta2=0.99, eps=1e-8) for g in groups]})
    run_optimizer("adamw.sparse", [(2, 2), (3,)],
                  lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.05), 3,
                  {"groups": [{"params": [0, 1], "lr": 1e-3, "weight_decay": 0.05, "beta1": 0.9, "beta2": 0.999,
                               "eps": 1e-8}]},
                  skip={(1, 1)})


def clip_cases():
    for norm, max_norm in (("2", 1.5), ("inf", 0.7)):
        ps = [torch.nn.Parameter(torch.zeros(3, 4, dtype=torch.float64)),
              torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))]
        for j, p in enumerate(ps):
            p.grad = randn(*p.shape)
            optim_tensors[f"clip.{norm}.g{j}"] = p.grad.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=float(norm))
        for j, p in enumerate(ps):
            optim_tensors[f"clip.{norm}.clipped{j}"] = p.grad.clone()
        optim_tensors[f"clip.{norm}.total"] = total.reshape(1).to(torch.float64)
        optim_meta[f"clip.{norm}"] = json.dumps({"max_norm": max_norm, "norm_type": norm})


# ---- layers -----------------------------------------------------------------------------------------
layer_tensors, layer_meta = {}, {"source": "tests/reference/make_nn_fixtures.py", "torch": torch.__version__}


def record(case, options, inputs, fn, extra=None):
    """Runs fn(**inputs); stores inputs, out, a random grad_out and grad_<input> under case."""
    out = fn(**inputs)
    grad_out = randn(*out.shape)
    diff = {k: v for k, v in inputs.items() if v.requires_grad}
    grads = torch.autograd.grad(out, list(diff.values()), grad_out)
    for k, v in list(inputs.items()) + list((extra or {}).items()):
        layer_tensors[f"{case}.{k}"] = v.detach().clone()
    layer_tensors[f"{case}.out"] = out.detach().clone()
    layer_tensors[f"{case}.grad_out"] = grad_out
    for k, g in zip(diff, grads):
        layer_tensors[f"{case}.grad_{k}"] = g
    layer_meta[case] = json.dumps(options, sort_keys=True)


def leaf(*shape, scale=1.0):
    return randn(*shape, scale=scale).requires_grad_(True)


def layer_cases():
    record("linear", {}, {"x": leaf(2, 3, 5), "weight": leaf(4, 5), "bias": leaf(4)},
           lambda x, weight, bias: F.linear(x, weight, bias))
    record("linear.nobias", {}, {"x": leaf(6, 5), "weight": leaf(3, 5)}, lambda x, weight: F.linear(x, weight))

    ids = torch.tensor([[1, 3, 3, 0, 9], [1, 2, 7, 3, 1]], dtype=torch.int64)
    record("embedding", {"padding_idx": 1}, {"weight": leaf(10, 4)},
           lambda weight: F.embedding(ids, weight, padding_idx=1), {"ids": ids})

    record("rms_norm", {"eps": 1e-5}, {"x": leaf(2, 3, 8), "weight": leaf(8)},
           lambda x, weight: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * weight)
    record("layer_norm", {"eps": 1e-5}, {"x": leaf(2, 4, 6, scale=2.0), "weight": leaf(6), "bias": leaf(6)},
           lambda x, weight, bias: F.layer_norm(x, (6,), weight, bias, 1e-5))

    def causal(x, weight, bias=None):
        C, K, L = x.shape[1], weight.shape[-1], x.shape[-1]
        return F.conv1d(x, weight, bias, padding=K - 1, groups=C)[..., :L]

    record("conv1d", {"kernel_size": 4}, {"x": leaf(2, 6, 9), "weight": leaf(6, 1, 4, scale=0.5), "bias": leaf(6)},
           causal)
    record("conv1d.nobias", {"kernel_size": 3}, {"x": leaf(1, 4, 5), "weight": leaf(4, 1, 3, scale=0.5)},
           lambda x, weight: causal(x, weight))

    record("conv2d.patch", {"kernel": [4, 4], "stride": [4, 4], "padding": [0, 0]},
           {"x": leaf(2, 3, 8, 8), "weight": leaf(5, 3, 4, 4, scale=0.2), "bias": leaf(5)},
           lambda x, weight, bias: F.conv2d(x, weight, bias, stride=4))
    record("conv2d.overlap", {"kernel": [4, 4], "stride": [2, 2], "padding": [1, 1]},
           {"x": leaf(1, 2, 7, 7), "weight": leaf(3, 2, 4, 4, scale=0.2)},
           lambda x, weight: F.conv2d(x, weight, None, stride=2, padding=1))

    target = torch.tensor([[4, -100, 0], [2, 1, -100]], dtype=torch.int64)
    record("cross_entropy", {"ignore_index": -100, "label_smoothing": 0.1}, {"x": leaf(2, 3, 5, scale=2.0)},
           lambda x: F.cross_entropy(x.reshape(-1, 5), target.reshape(-1), ignore_index=-100, label_smoothing=0.1),
           {"target": target})

    record("mse.mean", {"reduction": "mean"}, {"x": leaf(3, 4), "target": leaf(3, 4)},
           lambda x, target: F.mse_loss(x, target))
    record("mse.sum", {"reduction": "sum"}, {"x": leaf(5), "target": leaf(5)},
           lambda x, target: F.mse_loss(x, target, reduction="sum"))


def main():
    optimizer_cases()
    clip_cases()
    layer_cases()
    write_safetensors(os.path.join(DATA, "nn_optim.safetensors"), optim_tensors, optim_meta)
    write_safetensors(os.path.join(DATA, "nn_layers.safetensors"), layer_tensors, layer_meta)


if __name__ == "__main__":
    main()
