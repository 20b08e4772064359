#!/usr/bin/env python3
# make_vim_fixture.py: a small Vision Mamba (hustvl/Vim's VisionMamba with bimamba v2, middle class
# token, if_divide_out) re-implemented in plain PyTorch from docs/mamba-vim-spec.md §6 (sequential
# scan, no CUDA kernels), with random weights, and its logits, loss and every parameter's gradient,
# checked by tests/mamba/vim_fixture_test.cpp.
#
# Regenerate (Debian's python3-torch 1.13 lives under /usr/bin/python3):
#     /usr/bin/python3 tests/reference/make_vim_fixture.py [out_dir]     (default tests/data/vim_tiny)
# Deterministic (fixed seed). The weights are float32 (stored as such); the forward and backward run
# in float64 on those same values, so the references are exact to float64 rounding.
#
# Writes into out_dir:
#   config.json          model_type "vim" and the fields of mamba/config.h's VimConfig
#   model.safetensors    the weights under hustvl/Vim's key names (F32)
#   fixtures.safetensors images [2, 3, 16, 16] (F32), labels [2] (I64), logits [2, 5], loss [1] and
#                        "grad.<param name>" for every parameter (F64)
# Model: img 16, patch 4, stride 4 (16 patches + class token at index 8), embed_dim 16, depth 2,
# d_state 8, d_conv 4, expand 2, dt_rank 1, 5 classes, RMSNorm eps 1e-5, no drop path.
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_py  # noqa: E402

CFG = dict(img_size=16, patch_size=4, stride=4, channels=3, embed_dim=16, depth=2, d_state=8, d_conv=4,
           expand=2, num_classes=5, use_middle_cls_token=True, if_divide_out=True, norm_epsilon=1e-5)
D = CFG["embed_dim"]
E = CFG["expand"] * D
N = CFG["d_state"]
K = CFG["d_conv"]
R = math.ceil(D / 16)
GRID = (CFG["img_size"] - CFG["patch_size"]) // CFG["stride"] + 1
M = GRID * GRID
POS = M // 2  # the middle class token

gen = torch.Generator().manual_seed(20240807)


def uniform(shape, bound):
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound


def normal(shape, std):
    return torch.randn(shape, generator=gen, dtype=torch.float64) * std


def inv_softplus_dt(n):
    """Mamba's dt_proj bias: softplus^-1 of dt ~ log-uniform [1e-3, 1e-1]."""
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    dt = torch.exp(u * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
    return dt + torch.log(-torch.expm1(-dt))


def make_weights():
    """Random weights at the scales of the real init (with the zero / one inits perturbed, so every
    gradient path is exercised), rounded to float32."""
    w = {}
    w["patch_embed.proj.weight"] = normal((D, CFG["channels"], CFG["patch_size"], CFG["patch_size"]), 0.2)
    w["patch_embed.proj.bias"] = normal((D,), 0.1)
    w["cls_token"] = normal((1, 1, D), 0.5)
    w["pos_embed"] = normal((1, M + 1, D), 0.5)
    for i in range(CFG["depth"]):
        p = f"layers.{i}."
        w[p + "norm.weight"] = 1 + normal((D,), 0.1)
        w[p + "mixer.in_proj.weight"] = uniform((2 * E, D), 1 / math.sqrt(D))
        for sfx in ("", "_b"):
            w[p + f"mixer.conv1d{sfx}.weight"] = uniform((E, 1, K), 0.5)
            w[p + f"mixer.conv1d{sfx}.bias"] = uniform((E,), 0.5)
            w[p + f"mixer.x_proj{sfx}.weight"] = uniform((R + 2 * N, E), 1 / math.sqrt(E))
            w[p + f"mixer.dt_proj{sfx}.weight"] = uniform((E, R), R ** -0.5)
            w[p + f"mixer.dt_proj{sfx}.bias"] = inv_softplus_dt(E) + normal((E,), 0.3)
            a_log = torch.log(torch.arange(1, N + 1, dtype=torch.float64)).repeat(E, 1) + normal((E, N), 0.1)
            w[p + ("mixer.A_log" if sfx == "" else "mixer.A_b_log")] = a_log
            w[p + f"mixer.D{sfx}"] = 1 + normal((E,), 0.2)
        w[p + "mixer.out_proj.weight"] = uniform((D, E), 1 / math.sqrt(E))
    w["norm_f.weight"] = 1 + normal((D,), 0.1)
    w["head.weight"] = normal((CFG["num_classes"], D), 0.3)
    w["head.bias"] = normal((CFG["num_classes"],), 0.1)
    return {k: v.float() for k, v in w.items()}


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def ssm_branch(x, z, p, sfx):
    """One direction of the mixer: x, z [B, E, L] -> silu(z) * (scan + D x), spec §1.3 steps 3-10."""
    L = x.shape[-1]
    a_log = p["A_log"] if sfx == "" else p["A_b_log"]
    xc = F.conv1d(x, p[f"conv1d{sfx}.weight"], p[f"conv1d{sfx}.bias"], padding=K - 1, groups=E)[..., :L]
    u = F.silu(xc)                                                   # [B, E, L]
    x_dbl = u.transpose(1, 2) @ p[f"x_proj{sfx}.weight"].t()         # [B, L, R + 2N]
    dt_low, Bm, Cm = torch.split(x_dbl, [R, N, N], dim=-1)
    delta = F.softplus(dt_low @ p[f"dt_proj{sfx}.weight"].t() + p[f"dt_proj{sfx}.bias"]).transpose(1, 2)  # [B, E, L]
    A = -torch.exp(a_log)                                            # [E, N]
    h = torch.zeros(x.shape[0], E, N, dtype=x.dtype)
    ys = []
    for t in range(L):
        dA = torch.exp(delta[:, :, t, None] * A)                     # [B, E, N]
        h = dA * h + (delta[:, :, t] * u[:, :, t])[:, :, None] * Bm[:, None, t, :]
        ys.append((h * Cm[:, None, t, :]).sum(-1))
    y = torch.stack(ys, dim=-1) + u * p[f"D{sfx}"][:, None]
    return y * F.silu(z)


def mixer(hs, p):
    """BiMamba v2 (spec §6.3): shared in/out_proj; the backward branch flips the whole xz along L."""
    xz = (hs @ p["in_proj.weight"].t()).transpose(1, 2)              # [B, 2E, L]
    x, z = xz.chunk(2, dim=1)
    out_f = ssm_branch(x, z, p, "")
    xb, zb = xz.flip(-1).chunk(2, dim=1)
    out_b = ssm_branch(xb, zb, p, "_b").flip(-1)
    out = (out_f + out_b) / 2 if CFG["if_divide_out"] else out_f + out_b
    return out.transpose(1, 2) @ p["out_proj.weight"].t()


def vim_forward(images, w):
    eps = CFG["norm_epsilon"]
    x = F.conv2d(images, w["patch_embed.proj.weight"], w["patch_embed.proj.bias"], stride=CFG["stride"])
    x = x.flatten(2).transpose(1, 2)                                 # [B, M, D], raster order
    cls = w["cls_token"].expand(x.shape[0], -1, -1)
    x = torch.cat([x[:, :POS], cls, x[:, POS:]], dim=1) + w["pos_embed"]
    residual, hidden = None, x
    for i in range(CFG["depth"]):
        pre = f"layers.{i}."
        residual = hidden if residual is None else residual + hidden
        p = {k[len(pre) + len("mixer."):]: v for k, v in w.items() if k.startswith(pre + "mixer.")}
        hidden = mixer(rms_norm(residual, w[pre + "norm.weight"], eps), p)
    residual = residual + hidden
    h = rms_norm(residual, w["norm_f.weight"], eps)
    return h[:, POS] @ w["head.weight"].t() + w["head.bias"]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data", "vim_tiny")
    os.makedirs(out_dir, exist_ok=True)
    weights32 = make_weights()
    images = torch.randn(2, CFG["channels"], CFG["img_size"], CFG["img_size"], generator=gen).float()
    labels = torch.tensor([3, 1], dtype=torch.int64)

    w64 = {k: v.double().requires_grad_(True) for k, v in weights32.items()}
    logits = vim_forward(images.double(), w64)
    loss = F.cross_entropy(logits, labels)
    loss.backward()

    config = dict(model_type="vim", **CFG)
    config.update(dt_rank=R, drop_path_rate=0.0, bimamba_type="v2",
                  image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    safetensors_py.write(os.path.join(out_dir, "model.safetensors"),
                         {k: safetensors_py.from_torch(v) for k, v in weights32.items()}, {"format": "pt"})
    fx = {"images": images, "labels": labels, "logits": logits.detach(), "loss": loss.detach().reshape(1)}
    for k, v in w64.items():
        fx["grad." + k] = v.grad
    safetensors_py.write(os.path.join(out_dir, "fixtures.safetensors"),
                         {k: safetensors_py.from_torch(v) for k, v in fx.items()},
                         {"source": "tests/reference/make_vim_fixture.py", "torch": torch.__version__})
    print("wrote", os.path.normpath(out_dir), "loss", loss.item(), "logits", logits.detach().numpy().round(4).tolist())


if __name__ == "__main__":
    main()
