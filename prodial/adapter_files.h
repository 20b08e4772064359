// adapter_files.h: adapter directories in Hugging Face peft's layout (save_adapter / load_adapter are
// declared in peft.h) and the config fields the LoRA-family methods share.
//
// dir/adapter_config.json:
//   peft_type        "LORA" (LoRA; DoRA with "use_dora": true), "PRODIAL", "SELECTIVE"
//   method           our registry name; written for every type but LORA (peft's LoraConfig gets only
//                    its own fields, so peft loads our LoRA / DoRA files)
//   task_type        "CAUSAL_LM" for a MambaLM, null otherwise
//   target_modules   adapter methods: the adapted modules' last name components when those select
//                    exactly the adapted set (["in_proj", "out_proj"]), else their full dotted names;
//                    selective methods: the patterns used. A string is read as a regex ("re:").
//   layers_to_transform  selective methods: PeftOptions::layers (null for all)
//   base_model_name_or_path, and the method's fields: LoRA/DoRA r, lora_alpha, lora_dropout,
//   use_dora, ... (peft's LoraConfig); ProDiaL r, lora_alpha, lora_dropout, rb_in, rb_out, diag_mode.
// dir/adapter_model.safetensors:
//   "base_model.model.<dotted module>.<adapter key>" for each adapter ("lora_A.weight" [r, d_in],
//   "lora_B.weight" [d_out, r], "lora_magnitude_vector" [d_out], "prodial_R" [r_b, n, n],
//   "prodial_s" [d_out]), and "base_model.model.<parameter>" for every other trainable parameter
//   (the selective methods' tensors, a Vim head, trained embeddings). Loading such a tensor writes it
//   into the model and leaves it trainable.
// Interop (tests/prodial/peft_interop_test.cpp): peft's LoRA / DoRA files for MambaForCausalLM load
// here, and our LoRA / DoRA files load in peft (0.21) with the same logits. peft itself refuses
// out_proj targets on Mamba models (transformers' fused CUDA path bypasses them), so loading an
// adapter that covers out_proj there needs that guard lifted and transformers' CPU path, as
// tests/reference/make_peft_fixture.py does.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "prodial/peft.h"

namespace prodial {

// The key prefix peft gives every tensor of a PeftModel's adapter file.
inline constexpr const char* kPeftKeyPrefix = "base_model.model.";

// rank > 0, alpha > 0, dropout in [0, 1): std::invalid_argument naming the field otherwise.
void validate_lora_options(const PeftOptions& o);
// peft LoraConfig's fields (r, lora_alpha, lora_dropout, use_dora, bias "none", ...).
void write_lora_fields(const PeftOptions& o, nlohmann::json& j, bool use_dora);
// Reads r, lora_alpha, lora_dropout; std::invalid_argument for settings we do not implement
// (use_rslora, fan_in_fan_out, bias other than "none", rank_pattern / alpha_pattern, ...).
void read_lora_fields(const nlohmann::json& j, PeftOptions& o);

// The adapter_config.json save_adapter writes.
nlohmann::json adapter_config(const nn::Module& model, const PeftSummary& summary, const PeftOptions& opts,
                              const std::string& base_model_name = "");
// The method and options an adapter_config.json describes (`where` names the file in errors).
std::pair<std::string, PeftOptions> parse_adapter_config(const nlohmann::json& j, const std::string& where);

}  // namespace prodial
