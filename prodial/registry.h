// registry.h: the registry of PEFT methods: method name -> MethodSpec (default targets per model kind,
// and for adapter methods a factory that wraps one nn::Linear). apply_peft (tuner.h) looks methods up
// here; so do load_adapter and the apps' --method flags.
//
// Adding a method is one file and one line (docs/ADDING_A_PEFT_METHOD.md): a file in prodial/methods/
// defining `MethodSpec my_method()`, and the line `PM_PEFT_METHOD(my_method)` in
// prodial/methods/method_list.h. The list is explicit (no static initialisers), so a static library
// cannot drop a method's object file.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prodial/adapter.h"
#include "prodial/peft.h"

namespace prodial {

// What a factory gets to build one adapter.
struct AdapterRequest {
  std::string module;                  // dotted name of the Linear being wrapped ("layers.0.mixer.in_proj")
  std::shared_ptr<nn::Linear> base;    // that Linear (frozen already)
  const PeftOptions* opts = nullptr;   // the method's hyper-parameters
  ModelKind kind = ModelKind::LanguageModel;
  tensor::Generator* gen = nullptr;    // initialisation draws (seeded from opts.seed)
  std::shared_ptr<tensor::Generator> dropout_gen;  // dropout masks, shared by the call's adapters
};

using AdapterFactory = std::function<std::shared_ptr<Adapter>(const AdapterRequest&)>;

struct MethodSpec {
  std::string name;         // the registry key, as on the command line ("prodial")
  std::string description;  // one line for help texts
  // adapter_config.json "peft_type": "LORA" (peft's, also DoRA with use_dora), "PRODIAL", "SELECTIVE".
  std::string peft_type;
  // Target patterns (tuner.h syntax) used when PeftOptions::targets is empty.
  std::function<std::vector<std::string>(ModelKind)> default_targets;
  // Adapter methods: wraps each matched nn::Linear. Selective methods leave it empty: they make the
  // parameters their patterns match trainable.
  AdapterFactory make_adapter;
  // Optional: checks the options before the model is touched (std::invalid_argument naming the field).
  std::function<void(const PeftOptions&)> validate;
  // Optional: method-specific fields of adapter_config.json, written and read back.
  std::function<void(const PeftOptions&, nlohmann::json&)> write_config;
  std::function<void(const nlohmann::json&, PeftOptions&)> read_config;

  bool is_adapter() const { return static_cast<bool>(make_adapter); }
};

// Adds a method (std::invalid_argument when the name is taken or a required field is missing).
void register_method(MethodSpec spec);
// The method called `name`; std::invalid_argument naming it and listing the known ones otherwise.
const MethodSpec& find_method(const std::string& name);
bool has_method(const std::string& name);

}  // namespace prodial
