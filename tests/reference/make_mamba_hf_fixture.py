#!/usr/bin/env python3
# make_mamba_hf_fixture.py: a small random Hugging Face MambaForCausalLM and its logits, loss and every
# parameter's gradient for a token batch, checked by tests/mamba/hf_fixture_test.cpp (which skips,
# saying so, while tests/data/mamba_hf_tiny is absent).
#
# Needs transformers (and torch); run it where they are installed, on the CPU (the committed
# tests/data/mamba_hf_tiny was made with transformers 5.17.0, torch 2.11):
#     python3 tests/reference/make_mamba_hf_fixture.py tests/data/mamba_hf_tiny
# Deterministic (fixed seeds). The model has non-default state_size 8, conv_kernel 3 and
# time_step_rank 3 (vocab 64, hidden 16, 2 layers, tied embeddings, no in/out_proj bias), float32,
# use_cache False. HF's own init is perturbed (conv bias, D, A_log, norms, ... get random offsets) so
# every gradient path carries signal.
#
# Writes into the directory given as argv[1]:
#   config.json, model.safetensors   MambaForCausalLM.save_pretrained (lm_head is tied, so HF drops it;
#                                    newer versions add generation_config.json)
#   fixtures.safetensors             input_ids [2, 12] (I64); float32 run: logits [2, 12, 64], loss [1],
#                                    "grad.<name>" for every named parameter (F32); the same model in
#                                    float64: logits64, loss64, "grad64.<name>" (F64)
import copy
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_py  # noqa: E402


def run(model, ids):
    model.zero_grad(set_to_none=True)
    out = model(input_ids=ids, labels=ids, use_cache=False)
    out.loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return out.logits.detach(), out.loss.detach().reshape(1), grads


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_mamba_hf_fixture.py OUT_DIR")
    out_dir = sys.argv[1]
    from transformers import MambaConfig, MambaForCausalLM

    torch.manual_seed(1234)
    config = MambaConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, state_size=8, conv_kernel=3,
                         time_step_rank=3, expand=2, use_bias=False, use_conv_bias=True, layer_norm_epsilon=1e-5,
                         tie_word_embeddings=True, use_cache=False, pad_vocab_size_multiple=8)
    model = MambaForCausalLM(config).float().eval()
    gen = torch.Generator().manual_seed(4321)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.1 if name.endswith(("A_log", "norm.weight", "norm_f.weight", "D")) else 0.05
            p.add_(torch.randn(p.shape, generator=gen) * scale)
    assert model.lm_head.weight.data_ptr() == model.backbone.embeddings.weight.data_ptr(), "lm_head must be tied"

    ids = torch.randint(0, config.vocab_size, (2, 12), generator=gen)
    logits, loss, grads = run(model, ids)
    model64 = copy.deepcopy(model).double()
    logits64, loss64, grads64 = run(model64, ids)

    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    fx = {"input_ids": ids, "logits": logits, "loss": loss, "logits64": logits64, "loss64": loss64}
    for n, g in grads.items():
        fx["grad." + n] = g
    for n, g in grads64.items():
        fx["grad64." + n] = g
    import transformers

    safetensors_py.write(os.path.join(out_dir, "fixtures.safetensors"),
                         {k: safetensors_py.from_torch(v) for k, v in fx.items()},
                         {"source": "tests/reference/make_mamba_hf_fixture.py", "torch": torch.__version__,
                          "transformers": transformers.__version__})
    with open(os.path.join(out_dir, "config.json")) as f:
        saved = json.load(f)
    print("wrote", out_dir, "loss", loss.item(), "params", [n for n, _ in model.named_parameters()][:3], "...",
          "config keys", sorted(saved)[:6], "...")


if __name__ == "__main__":
    main()
