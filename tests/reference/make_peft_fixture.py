#!/usr/bin/env python3
# make_peft_fixture.py: Hugging Face peft adapters on the tiny MambaForCausalLM of
# tests/data/mamba_hf_tiny (written by make_mamba_hf_fixture.py), checked by
# tests/prodial/peft_interop_test.cpp, and the reverse check: peft loading adapters WE wrote.
#
# Needs torch, transformers and peft; runs on the CPU (HF's Mamba slow path, which calls in_proj /
# out_proj as modules, so peft's LoRA layers take effect; the CUDA fast path would bypass them):
#     python3 tests/reference/make_peft_fixture.py [DATA_DIR]     (DATA_DIR defaults to tests/data)
# Deterministic (fixed seeds). Writes
#   DATA_DIR/peft_lora_tiny/  peft LoRA r=4, alpha=8, dropout 0, target_modules in_proj / out_proj, with
#                             lora_B drawn N(0, 0.2^2) so the adapter is not the identity:
#                             adapter_config.json, adapter_model.safetensors (peft's save_pretrained),
#                             logits.safetensors: input_ids [2, 12] (I64), logits_base, logits (adapter
#                             applied, eval mode), logits_merged (after merge_and_unload) [2, 12, 64] F32
#   DATA_DIR/peft_dora_tiny/  the same with use_dora=True (lora_magnitude_vector also perturbed)
# and, for each of DATA_DIR/peft_ours_tiny/{lora,dora} that exists (written by our save_adapter through
# the DISABLED_WriteOursTiny test), loads it with PeftModel.from_pretrained onto the same base, runs its
# ours_logits.safetensors input_ids and writes peft_logits.safetensors (logits) beside it, printing the
# relative error against our logits.
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def base_model(base_dir):
    from transformers import MambaForCausalLM

    return MambaForCausalLM.from_pretrained(base_dir).float().eval()


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits.detach().float().contiguous()


def make_fixture(base_dir, out_dir, use_dora, seed):
    from peft import LoraConfig, get_peft_model

    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 64, (2, 12), generator=gen)
    base = base_model(base_dir)
    logits_base = logits_of(base, ids)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["in_proj", "out_proj"], use_dora=use_dora,
                     task_type="CAUSAL_LM")
    torch.manual_seed(seed)
    model = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
            if "lora_magnitude_vector" in name:
                p.mul_(0.8 + 0.4 * torch.rand(p.shape, generator=gen))
    model.eval()
    logits = logits_of(model, ids)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    readme = os.path.join(out_dir, "README.md")  # peft's model card template: not needed here
    if os.path.exists(readme):
        os.remove(readme)
    merged = model.merge_and_unload()
    logits_merged = logits_of(merged, ids)
    save_file({"input_ids": ids.contiguous(), "logits_base": logits_base, "logits": logits,
               "logits_merged": logits_merged}, os.path.join(out_dir, "logits.safetensors"))
    keys = sorted(load_file(os.path.join(out_dir, "adapter_model.safetensors")).keys())
    print(out_dir, "keys", keys[:3], "... (", len(keys), ")", "adapter vs base rel", rel_err(logits, logits_base),
          "merged vs unmerged rel", rel_err(logits_merged, logits))


def check_ours(base_dir, ours_dir):
    from peft import PeftModel

    fx = load_file(os.path.join(ours_dir, "ours_logits.safetensors"))
    model = PeftModel.from_pretrained(base_model(base_dir), ours_dir).eval()
    logits = logits_of(model, fx["input_ids"])
    save_file({"logits": logits}, os.path.join(ours_dir, "peft_logits.safetensors"))
    err = rel_err(logits, fx["logits"])
    print(ours_dir, "peft loads ours: rel err vs our logits", err, "MATCH" if err <= 1e-4 else "MISMATCH")
    return err


def allow_mamba_out_proj():
    # peft (0.21) refuses LoRA on a Mamba's out_proj because transformers' fused CUDA path reads
    # out_proj.weight directly and would bypass the adapter. On the CPU, transformers runs the slow path,
    # which calls out_proj as a module, so the adapter takes effect; lift the guard for this script.
    try:
        import peft.tuners.tuners_utils as tu

        if hasattr(tu, "_check_lora_target_modules_mamba"):
            tu._check_lora_target_modules_mamba = lambda *args, **kwargs: None
            print("lifted peft's Mamba out_proj guard (CPU slow path runs out_proj as a module)")
    except ImportError:
        pass


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
    base_dir = os.path.join(data, "mamba_hf_tiny")
    import peft
    import transformers

    print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)
    allow_mamba_out_proj()
    for name, dora, seed in (("peft_lora_tiny", False, 2024), ("peft_dora_tiny", True, 2025)):
        try:
            make_fixture(base_dir, os.path.join(data, name), dora, seed)
        except Exception as e:  # report and go on to the other checks
            print(name, "failed:", repr(e))
    results = {}
    for method in ("lora", "dora"):
        d = os.path.join(data, "peft_ours_tiny", method)
        if os.path.isdir(d):
            try:
                results[method] = check_ours(base_dir, d)
            except Exception as e:  # report and go on: the other fixtures are still useful
                print(d, "peft failed to load ours:", repr(e))
                results[method] = repr(e)
    print(json.dumps({"ours_in_peft_rel_err": results}))


if __name__ == "__main__":
    main()
