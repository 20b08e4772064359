// peft.h: the PEFT layer's public entry points, the calls the apps make: apply a registered method
// to a model, summarise what it did, merge adapters into plain weights, and save / load adapter files
// in Hugging Face peft's layout (adapter_config.json + adapter_model.safetensors).
//
// A method is looked up by name in the registry (prodial/registry.h): "prodial", "lora", "dora",
// "full", "head", "ssm", "in-proj", "out-proj", "both-proj". Adapter methods wrap matching nn::Linear
// children (the Mamba mixer reads in_proj / out_proj only through its children, so a wrapped Linear
// always takes effect); selective methods only choose which parameters stay trainable.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/module.h"
#include "tensor/generator.h"

namespace prodial {

// Which family the model belongs to; it picks the default targets and what stays trainable besides
// the method's own parameters (for vision, the classifier head).
enum class ModelKind { LanguageModel, Vision };

// Every method's hyper-parameters; a method reads the fields it needs (the apps' flags map onto them
// one to one). Defaults are the official ProDiaL code's.
struct PeftOptions {
  int64_t rank = 16;                // LoRA rank (ProDiaL's ε rank)
  double alpha = 8;                 // LoRA alpha; the update is scaled by alpha / rank (peft's default 8)
  double dropout = 0.1;             // LoRA dropout on the adapter branch's input (train mode only)
  int64_t rb_in = 0, rb_out = 0;    // ProDiaL block counts for in_proj / out_proj; 0 means d_in (diagonal)
  std::string diag_mode = "frozen"; // ProDiaL diagonal: "frozen" (official, relu'(0)=0) | "trainable"
  std::vector<std::string> targets; // glob patterns over dotted module/parameter names; empty = defaults
  std::vector<int64_t> layers;      // restrict to these layer indices; empty = every layer
  bool train_embeddings = false;    // also train the token / patch / position embeddings
  bool train_head = true;           // vision: keep the classifier head trainable (the paper's counts)
  uint64_t seed = 0;                // draws the adapters' random initialisation (LoRA A)
};

// What apply_peft did.
struct PeftSummary {
  std::string method;
  std::vector<std::pair<std::string, std::string>> adapted;  // dotted module name -> adapter type
  std::vector<std::string> trainable;                        // dotted names of trainable parameters
  int64_t trainable_params = 0, total_params = 0;
  // The generator the adapters' LoRA dropout draws its masks from (set by apply_peft for adapter
  // methods): a training loop checkpoints it, so a resumed run draws the same masks.
  std::shared_ptr<tensor::Generator> dropout_generator;
  double trainable_percent() const;
  std::string str() const;        // the human summary: one line per adapted module, then the counts
  nlohmann::json json() const;    // {"method", "adapted": {...}, "trainable_params", "total_params", ...}
};

// Applies `method` to `model`: freezes every parameter, wraps / unfreezes what the method targets,
// keeps the vision head trainable when opts.train_head. Throws std::invalid_argument naming the
// method for an unknown method, and naming the pattern when a target pattern matches nothing.
PeftSummary apply_peft(nn::Module& model, ModelKind kind, const std::string& method, const PeftOptions& opts);

// Replaces every adapter in the model by a plain nn::Linear holding its merged weight (and the base
// bias); the model then computes the same function with no adapter code. Returns how many were merged.
int merge_peft(nn::Module& model);

// Adapter files. save_adapter writes dir/adapter_config.json and dir/adapter_model.safetensors (keys
// "base_model.model.<dotted module>.lora_A.weight", ".prodial_R", ...; atomically, creating dir).
// load_adapter reads them, applies the method they name to `model` and loads the tensors; a file
// that does not fit the model is a one-line std::runtime_error naming the file and tensor.
void save_adapter(const nn::Module& model, const PeftSummary& summary, const PeftOptions& opts,
                  const std::string& dir, const std::string& base_model_name = "");
PeftSummary load_adapter(nn::Module& model, ModelKind kind, const std::string& dir);

// Names of the registered methods, sorted.
std::vector<std::string> method_names();

}  // namespace prodial
