#!/usr/bin/env python3
# check_hf_load.py: loads a model directory written by our C++ saver (mamba::save_mamba_lm, Hugging Face
# layout) with transformers' MambaForCausalLM.from_pretrained and compares its logits with the ones our
# model produced for the same tokens (reference_logits.safetensors in that directory: input_ids [b, L]
# I64, logits [b, L, V] F32 over our unpadded vocabulary V).
#
#     python3 tests/reference/check_hf_load.py tests/data/mamba_ours_tiny
# (regenerate that directory with PM_MAMBA_EXPORT_DIR=<dir> build/tests/test_mamba
#  --gtest_filter='MambaCheckpoint.HFRoundTrip*'). Needs transformers and torch; CPU is enough.
# Checks: the load reports no missing / unexpected keys, the lm_head is tied to the embedding, and
# max |hf - ours| / max |ours| <= 1e-4 over the first V logits. Exits non-zero otherwise.
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_py  # noqa: E402


def to_torch(entry):
    dtype, shape, raw = entry
    np_dtype = {"F32": "float32", "F64": "float64", "I64": "int64"}[dtype]
    import numpy as np

    return torch.from_numpy(np.frombuffer(raw, dtype=np_dtype).copy()).reshape(shape)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_hf_load.py MODEL_DIR")
    model_dir = sys.argv[1]
    from transformers import MambaForCausalLM

    model, info = MambaForCausalLM.from_pretrained(model_dir, output_loading_info=True)
    model = model.float().eval()
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        sys.exit(f"FAIL: loading info {bad}")
    if model.lm_head.weight.data_ptr() != model.backbone.embeddings.weight.data_ptr():
        sys.exit("FAIL: lm_head is not tied to backbone.embeddings")

    ref, _ = safetensors_py.read(os.path.join(model_dir, "reference_logits.safetensors"))
    ids, ours = to_torch(ref["input_ids"]), to_torch(ref["logits"]).double()
    with torch.no_grad():
        hf = model(input_ids=ids, use_cache=False).logits.double()[..., : ours.shape[-1]]
    err = ((hf - ours).abs().max() / ours.abs().max()).item()
    print(f"logits {tuple(hf.shape)} max relative error {err:.3g}")
    if not err <= 1e-4:
        # name the parameters that transformers holds differently from the file we wrote
        saved, _ = safetensors_py.read(os.path.join(model_dir, "model.safetensors"))
        state = model.state_dict()
        for name, entry in sorted(saved.items()):
            ours_t = to_torch(entry).double()
            diff = (state[name].double() - ours_t).abs().max().item() if name in state else float("nan")
            if not diff == 0:
                print(f"  {name}: max |hf - file| = {diff:.3g}")
        sys.exit("FAIL: logits differ")
    print("OK: transformers loads the directory and reproduces our logits")


if __name__ == "__main__":
    main()
