// tuner.h: how apply_peft (peft.h) finds its targets and what it builds on: target patterns over
// dotted names, layer indices, the default target lists, enumerating parameters (tied aliases
// included) and the adapters in a model, taking adapters out again, and the summary.
//
// Target patterns. A pattern is matched against dotted names ("backbone.layers.3.mixer.in_proj"):
//   "re:<regex>"  std::regex (ECMAScript) matching the WHOLE name (peft's string target_modules);
//   otherwise a glob, where `*` matches within one name component (no '.'), `**` matches across
//   components, `?` one character (not '.'), everything else literally. A glob matches a name when
//   it matches the whole name or a suffix of it that starts at a component boundary, as peft's list
//   target_modules do: "in_proj" matches "backbone.layers.3.mixer.in_proj".
// Adapter methods match the names of the model's nn::Linear modules; selective methods match
// parameter names, where matching a module name selects every parameter below it ("dt_proj"
// selects dt_proj.weight and dt_proj.bias). PeftOptions::layers keeps only names whose
// "layers.<i>" component has i in the list (names without one, like the head, are not filtered).
#pragma once
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "prodial/adapter.h"
#include "prodial/peft.h"

namespace prodial {

class TargetPattern {
 public:
  // std::invalid_argument naming the pattern when it is empty or its regex does not compile.
  explicit TargetPattern(std::string text);
  bool matches(const std::string& name) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::regex re_;
};

bool pattern_matches(const std::string& pattern, const std::string& name);

// i for a name with a component "layers" followed by the integer component i; -1 otherwise.
int64_t layer_index(const std::string& name);
// True when `layers` is empty, the name has no layer index, or its index is in `layers`.
bool in_layers(const std::string& name, const std::vector<int64_t>& layers);

// Mixer sub-module / parameter patterns for every layer: LM "backbone.layers.*.mixer.<name>",
// Vim "layers.*.mixer.<name>".
std::vector<std::string> projector_patterns(ModelKind kind, const std::vector<std::string>& names);
// What PeftOptions::train_head and train_embeddings add: Vim "head"; LM "backbone.embeddings"
// (the tied lm_head with it), Vim "patch_embed", "cls_token", "pos_embed".
std::vector<std::string> head_patterns(ModelKind kind);
std::vector<std::string> embedding_patterns(ModelKind kind);

// Every parameter under every name it is registered under (tied weights appear once per name),
// depth first in registration order.
std::vector<std::pair<std::string, Variable>> all_named_parameters(const nn::Module& model);
// The model's nn::Linear modules that are not inside an adapter, with their dotted names.
std::vector<std::pair<std::string, std::shared_ptr<nn::Linear>>> plain_linears(const nn::Module& model);
// The adapters in the model with their dotted names.
std::vector<std::pair<std::string, std::shared_ptr<Adapter>>> find_adapters(const nn::Module& model);
// Puts every adapter's base Linear back in its place (the adapter's training is dropped, not merged);
// returns how many were removed.
int remove_adapters(nn::Module& model);

// The summary of a model's current state: its adapters and trainable parameters.
PeftSummary summarize(const nn::Module& model, const std::string& method);

}  // namespace prodial
