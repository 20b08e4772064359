#!/usr/bin/env python3
# make_analysis_fixture.py: numpy reference values for the T analysis (prodial/linalg64.h,
# prodial/analysis.h), checked by tests/prodial/analysis_test.cpp.
#
# Regenerate with the system numpy:
#     /usr/bin/python3 tests/reference/make_analysis_fixture.py
# Deterministic (fixed seed, float64); rerunning rewrites the same file.
#
# tests/data/analysis_fixture.json: {"cases": [case...]}, each case
#   name, rcond, block_count, W [d_out][d_in], W_ft (same shape),
#   S      singular values of W (numpy.linalg.svd, descending)
#   pinv   numpy.linalg.pinv(W, rcond) [d_in][d_out]
#   T      pinv @ W_ft [d_in][d_in]
#   stats  rank, sigma_max, sigma_min_kept, diag_mean, offdiag_abs_mean, rel_dev_identity,
#          rel_dev_projection, block_energy_share, diag_energy_share, fit_residual, rel_weight_change
#          (the definitions of prodial/analysis.h, computed here with plain numpy).
import json
import os

import numpy as np

rng = np.random.default_rng(20241115)


def low_rank(m, n, r):
    return rng.standard_normal((m, r)) @ rng.standard_normal((r, n))


def with_singular_values(m, n, s):
    u, _ = np.linalg.qr(rng.standard_normal((m, m)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    k = min(m, n)
    return u[:, :k] @ np.diag(s) @ v[:, :k].T


def stats(W, W_ft, rcond, block_count):
    d_out, d_in = W.shape
    S = np.linalg.svd(W, compute_uv=False)
    Wp = np.linalg.pinv(W, rcond=rcond)
    T = Wp @ W_ft
    n = d_in
    rank = int(np.sum(S > rcond * S[0])) if S.size else 0
    I = np.eye(n)
    P = Wp @ W
    bs = n // block_count
    mask = np.kron(np.eye(block_count), np.ones((bs, bs))) > 0
    energy = np.sum(T * T)
    diag = np.diag(T)
    off = T[~np.eye(n, dtype=bool)]
    p_norm = np.linalg.norm(P)
    ft_norm = np.linalg.norm(W_ft)
    w_norm = np.linalg.norm(W)
    return S, Wp, T, {
        "rank": rank,
        "sigma_max": float(S[0]),
        "sigma_min_kept": float(S[rank - 1]) if rank else 0.0,
        "diag_mean": float(np.mean(diag)),
        "offdiag_abs_mean": float(np.mean(np.abs(off))) if n > 1 else 0.0,
        "rel_dev_identity": float(np.linalg.norm(T - I) / np.sqrt(n)),
        "rel_dev_projection": float(np.linalg.norm(T - P) / p_norm) if p_norm > 0 else float(np.linalg.norm(T - P)),
        "block_energy_share": float(np.sum(T[mask] ** 2) / energy) if energy > 0 else 0.0,
        "diag_energy_share": float(np.sum(diag ** 2) / energy) if energy > 0 else 0.0,
        "fit_residual": float(np.linalg.norm(W @ T - W_ft) / ft_norm) if ft_norm > 0 else 0.0,
        "rel_weight_change": float(np.linalg.norm(W_ft - W) / w_norm) if w_norm > 0 else float(np.linalg.norm(W_ft - W)),
    }


def case(name, W, W_ft, rcond, block_count):
    S, Wp, T, st = stats(W, W_ft, rcond, block_count)
    return {"name": name, "rcond": rcond, "block_count": block_count, "W": W.tolist(), "W_ft": W_ft.tolist(),
            "S": S.tolist(), "pinv": Wp.tolist(), "T": T.tolist(), "stats": st}


cases = []
# tall, full column rank (in_proj-like: d_out = 2 d_in), fine-tuned near W (I + small mixing)
W = rng.standard_normal((14, 6))
cases.append(case("tall_full", W, W @ (np.eye(6) + 0.1 * rng.standard_normal((6, 6))) + 0.01 * rng.standard_normal((14, 6)),
                  1e-10, 3))
# wide, full row rank (out_proj-like: d_in = 2 d_out): W⁺W is a rank-4 projection
W = rng.standard_normal((4, 8))
cases.append(case("wide_full", W, W + 0.1 * rng.standard_normal((4, 8)), 1e-10, 4))
# tall, rank 3 of 6
W = low_rank(10, 6, 3)
cases.append(case("tall_rank_deficient", W, W + 0.05 * rng.standard_normal((10, 6)), 1e-10, 2))
# wide, rank 2 of 5
W = low_rank(5, 9, 2)
cases.append(case("wide_rank_deficient", W, W + 0.05 * rng.standard_normal((5, 9)), 1e-10, 3))
# square, singular values 1 .. 1e-12: rcond 1e-6 keeps the first four
W = with_singular_values(8, 8, np.logspace(0, -12, 8))
cases.append(case("square_ill_conditioned", W, W + 1e-3 * rng.standard_normal((8, 8)), 1e-6, 4))
# all zeros: rank 0, T = 0
cases.append(case("zero", np.zeros((3, 4)), rng.standard_normal((3, 4)), 1e-10, 2))
# a larger tall one, fine-tuned as W D plus noise (the ProDiaL picture)
W = rng.standard_normal((30, 20))
D = np.diag(1 + 0.1 * rng.standard_normal(20))
cases.append(case("tall_diagonal_20", W, W @ D + 1e-3 * rng.standard_normal((30, 20)), 1e-12, 5))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analysis_fixture.json")
with open(out, "w") as f:
    json.dump({"source": "make_analysis_fixture.py", "numpy": np.__version__, "cases": cases}, f)
print("wrote", os.path.normpath(out), os.path.getsize(out), "bytes")
