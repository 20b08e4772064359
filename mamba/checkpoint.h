// checkpoint.h: model directories in the three layouts we read and write (spec §4, §6.5). A model
// directory holds config.json and model.safetensors (or shards listed in model.safetensors.index.json):
//   HuggingFace  MambaForCausalLM: HF config fields (model_type "mamba"), HF key names; lm_head.weight
//                absent means tied. What we write loads in transformers' MambaForCausalLM.
//   MambaSSM     original mamba_ssm: config with d_model / n_layer / ssm_cfg, key
//                backbone.embedding.weight (singular) renamed on load; the weights must be safetensors
//                (a pytorch_model.bin needs converting first).
//   Vim          hustvl/Vim key names with a config.json holding model_type "vim" (mamba/config.h).
// Errors name the directory or file and what was wrong.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "mamba/lm.h"
#include "mamba/vision.h"

namespace mamba {

enum class CheckpointLayout { HuggingFace, MambaSSM, Vim };
const char* layout_name(CheckpointLayout l);  // "huggingface", "mamba_ssm", "vim"

// From dir/config.json: model_type "vim" -> Vim; model_type "mamba" or HF field names -> HuggingFace;
// d_model and n_layer -> MambaSSM.
CheckpointLayout detect_layout(const std::string& dir);

// Every tensor of a model directory (model.safetensors or its shards), floats converted to `dtype`;
// the first file's metadata into `metadata` when given.
std::map<std::string, Tensor> load_weights(const std::string& dir, tensor::DType dtype = tensor::DType::Float32,
                                           std::map<std::string, std::string>* metadata = nullptr);

// A MambaLM from a HuggingFace or MambaSSM directory.
std::shared_ptr<MambaLM> load_mamba_lm(const std::string& dir, tensor::DType dtype = tensor::DType::Float32);
// Writes config.json and model.safetensors (float32 unless the model is float64) in `layout`
// (HuggingFace or MambaSSM), creating `dir`; each file is replaced atomically.
void save_mamba_lm(const MambaLM& model, const std::string& dir,
                   CheckpointLayout layout = CheckpointLayout::HuggingFace);

std::shared_ptr<VisionMamba> load_vision_mamba(const std::string& dir, tensor::DType dtype = tensor::DType::Float32);
void save_vision_mamba(const VisionMamba& model, const std::string& dir);

// Reads a JSON file, and writes one atomically (temp file, then rename); errors name the path.
nlohmann::json read_json_file(const std::string& path);
void write_json_file(const std::string& path, const nlohmann::json& j);

}  // namespace mamba
