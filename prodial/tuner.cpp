// tuner.cpp: target matching, apply_peft, merge_peft and the summary.
#include "prodial/tuner.h"

#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "prodial/registry.h"

namespace prodial {

namespace {

// A glob as a regex body: `**` -> .*, `*` -> [^.]*, `?` -> [^.], the rest escaped.
std::string glob_to_regex(const std::string& g) {
  std::string out;
  for (size_t i = 0; i < g.size(); ++i) {
    const char c = g[i];
    if (c == '*') {
      if (i + 1 < g.size() && g[i + 1] == '*') {
        out += ".*";
        ++i;
      } else {
        out += "[^.]*";
      }
    } else if (c == '?') {
      out += "[^.]";
    } else if (std::string("\\^$.|+()[]{}").find(c) != std::string::npos) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> split_dots(const std::string& name) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : name) {
    if (c == '.') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

std::string join_ints(const std::vector<int64_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return "[" + s + "]";
}

std::string with_commas(int64_t v) {
  std::string s = std::to_string(v), out;
  int n = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (n && n % 3 == 0 && *it != '-') out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
    ++n;
  }
  return out;
}

// Parameters matching any of `patterns` (by name or an enclosing module's name) within `layers`.
// With `require`, a pattern matching nothing throws naming it.
std::set<std::string> select_parameters(const std::vector<std::pair<std::string, Variable>>& params,
                                        const std::vector<std::string>& patterns, const std::vector<int64_t>& layers,
                                        bool require, const std::string& method) {
  std::set<std::string> chosen;
  for (const auto& text : patterns) {
    const TargetPattern pat(text);
    bool any = false;
    for (auto& [name, v] : params) {
      if (!in_layers(name, layers)) continue;
      bool hit = pat.matches(name);
      for (size_t dot = name.find('.'); !hit && dot != std::string::npos; dot = name.find('.', dot + 1))
        hit = pat.matches(name.substr(0, dot));
      if (hit) {
        chosen.insert(name);
        any = true;
      }
    }
    if (!any && require)
      throw std::invalid_argument("apply_peft: target pattern '" + text + "' (method " + method +
                                  ") matches no parameter of the model" +
                                  (layers.empty() ? std::string() : " in layers " + join_ints(layers)));
  }
  return chosen;
}

}  // namespace

// ---- patterns -----------------------------------------------------------------------------------------

TargetPattern::TargetPattern(std::string text) : text_(std::move(text)) {
  if (text_.empty() || text_ == "re:") throw std::invalid_argument("target pattern: empty pattern");
  try {
    if (text_.rfind("re:", 0) == 0) re_ = std::regex(text_.substr(3));
    else re_ = std::regex("(?:.*\\.)?" + glob_to_regex(text_));
  } catch (const std::regex_error& e) {
    throw std::invalid_argument("target pattern '" + text_ + "': bad regular expression (" + e.what() + ")");
  }
}

bool TargetPattern::matches(const std::string& name) const { return std::regex_match(name, re_); }

bool pattern_matches(const std::string& pattern, const std::string& name) { return TargetPattern(pattern).matches(name); }

int64_t layer_index(const std::string& name) {
  const auto parts = split_dots(name);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i] != "layers" || parts[i + 1].empty()) continue;
    bool digits = true;
    for (char c : parts[i + 1]) digits = digits && c >= '0' && c <= '9';
    if (digits) return std::stoll(parts[i + 1]);
  }
  return -1;
}

bool in_layers(const std::string& name, const std::vector<int64_t>& layers) {
  if (layers.empty()) return true;
  const int64_t i = layer_index(name);
  if (i < 0) return true;
  for (auto l : layers)
    if (l == i) return true;
  return false;
}

std::vector<std::string> projector_patterns(ModelKind kind, const std::vector<std::string>& names) {
  const std::string prefix = kind == ModelKind::Vision ? "layers.*.mixer." : "backbone.layers.*.mixer.";
  std::vector<std::string> out;
  for (auto& n : names) out.push_back(prefix + n);
  return out;
}

std::vector<std::string> head_patterns(ModelKind kind) {
  return kind == ModelKind::Vision ? std::vector<std::string>{"head"} : std::vector<std::string>{};
}

std::vector<std::string> embedding_patterns(ModelKind kind) {
  if (kind == ModelKind::Vision) return {"patch_embed", "cls_token", "pos_embed"};
  return {"backbone.embeddings"};
}

// ---- model walks --------------------------------------------------------------------------------------

std::vector<std::pair<std::string, Variable>> all_named_parameters(const nn::Module& model) {
  std::vector<std::pair<std::string, Variable>> out;
  auto locals = [&](const std::string& prefix, const nn::Module& m) {
    for (auto& [n, v] : m.named_parameters())
      if (n.find('.') == std::string::npos) out.emplace_back(prefix + n, v);
  };
  locals("", model);
  for (auto& [name, m] : model.named_modules()) locals(name + ".", *m);
  // named_modules is depth first, parents first: the order matches named_parameters' except aliases.
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<nn::Linear>>> plain_linears(const nn::Module& model) {
  std::vector<std::pair<std::string, std::shared_ptr<nn::Linear>>> out;
  std::vector<std::string> adapter_prefixes;
  for (auto& [name, m] : model.named_modules()) {
    bool inside = false;
    for (auto& p : adapter_prefixes)
      if (name.rfind(p + ".", 0) == 0) inside = true;
    if (inside) continue;
    if (std::dynamic_pointer_cast<Adapter>(m)) {
      adapter_prefixes.push_back(name);
      continue;
    }
    if (auto lin = std::dynamic_pointer_cast<nn::Linear>(m)) out.emplace_back(name, lin);
  }
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Adapter>>> find_adapters(const nn::Module& model) {
  std::vector<std::pair<std::string, std::shared_ptr<Adapter>>> out;
  for (auto& [name, m] : model.named_modules())
    if (auto a = std::dynamic_pointer_cast<Adapter>(m)) out.emplace_back(name, a);
  return out;
}

int remove_adapters(nn::Module& model) {
  const auto adapters = find_adapters(model);
  for (auto& [name, a] : adapters) model.replace_child(name, a->base());
  return static_cast<int>(adapters.size());
}

// ---- summary ------------------------------------------------------------------------------------------

double PeftSummary::trainable_percent() const {
  return total_params ? 100.0 * static_cast<double>(trainable_params) / static_cast<double>(total_params) : 0.0;
}

std::string PeftSummary::str() const {
  std::ostringstream os;
  os << "PEFT method " << method << ": ";
  if (!adapted.empty()) {
    os << adapted.size() << " adapted module" << (adapted.size() == 1 ? "" : "s") << "\n";
    for (auto& [name, type] : adapted) os << "  " << name << ": " << type << "\n";
  } else {
    os << trainable.size() << " trainable tensor" << (trainable.size() == 1 ? "" : "s") << "\n";
    const size_t shown = trainable.size() <= 20 ? trainable.size() : 16;
    for (size_t i = 0; i < shown; ++i) os << "  " << trainable[i] << "\n";
    if (shown < trainable.size()) os << "  ... and " << trainable.size() - shown << " more\n";
  }
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.4f", trainable_percent());
  os << "trainable params: " << with_commas(trainable_params) << " || all params: " << with_commas(total_params)
     << " || trainable%: " << pct;
  return os.str();
}

nlohmann::json PeftSummary::json() const {
  nlohmann::json a = nlohmann::json::object();
  for (auto& [name, type] : adapted) a[name] = type;
  return {{"method", method},
          {"adapted", a},
          {"trainable", trainable},
          {"trainable_params", trainable_params},
          {"total_params", total_params},
          {"trainable_percent", trainable_percent()}};
}

PeftSummary summarize(const nn::Module& model, const std::string& method) {
  PeftSummary s;
  s.method = method;
  for (auto& [name, a] : find_adapters(model)) s.adapted.emplace_back(name, a->type_name() + "(" + a->extra_repr() + ")");
  for (auto& [name, v] : model.named_trainable_parameters()) s.trainable.push_back(name);
  s.trainable_params = model.num_trainable_parameters();
  s.total_params = model.num_parameters();
  return s;
}

// ---- apply / merge ------------------------------------------------------------------------------------

PeftSummary apply_peft(nn::Module& model, ModelKind kind, const std::string& method, const PeftOptions& opts) {
  const MethodSpec& spec = find_method(method);
  if (spec.validate) spec.validate(opts);
  const auto existing = find_adapters(model);
  if (!existing.empty())
    throw std::invalid_argument("apply_peft: the model already has adapters (" + existing.front().first +
                                " is a " + existing.front().second->type_name() +
                                "); merge_peft them or start from a fresh model");
  const std::vector<std::string> patterns = opts.targets.empty() ? spec.default_targets(kind) : opts.targets;
  if (patterns.empty()) throw std::invalid_argument("apply_peft: method " + method + " has no target patterns");

  // Resolve everything (and build the adapters) before touching the model, so a bad pattern or option
  // leaves it as it was.
  std::vector<std::pair<std::string, std::shared_ptr<Adapter>>> adapters;
  std::set<std::string> selected;
  std::shared_ptr<tensor::Generator> dropout_gen;
  if (spec.is_adapter()) {
    const auto linears = plain_linears(model);
    std::set<std::string> chosen;
    for (const auto& text : patterns) {
      const TargetPattern pat(text);
      bool any = false;
      for (auto& [name, lin] : linears)
        if (in_layers(name, opts.layers) && pat.matches(name)) {
          chosen.insert(name);
          any = true;
        }
      if (!any)
        throw std::invalid_argument("apply_peft: target pattern '" + text + "' (method " + method +
                                    ") matches no Linear module of the model" +
                                    (opts.layers.empty() ? std::string() : " in layers " + join_ints(opts.layers)));
    }
    for (auto& name : chosen) {
      // The mixer hands dt_proj's weight and bias to the fused selective scan (mamba/mixer.cpp) instead
      // of calling the module, so a wrapper there would never run.
      const std::string last = name.substr(name.rfind('.') + 1);
      if (last == "dt_proj" || last == "dt_proj_b")
        throw std::invalid_argument("apply_peft: " + name + " cannot take an adapter (method " + method +
                                    "): the mixer reads its weight directly in the fused selective scan; "
                                    "train it with the ssm method instead");
    }
    tensor::Generator gen(opts.seed);
    dropout_gen = std::make_shared<tensor::Generator>(opts.seed ^ 0x9e3779b97f4a7c15ULL);
    for (auto& [name, lin] : linears) {
      if (!chosen.count(name)) continue;
      AdapterRequest req;
      req.module = name;
      req.base = lin;
      req.opts = &opts;
      req.kind = kind;
      req.gen = &gen;
      req.dropout_gen = dropout_gen;
      auto a = spec.make_adapter(req);
      if (!a) throw std::runtime_error("apply_peft: method " + method + " built no adapter for " + name);
      a->to(lin->weight().device());
      a->train(lin->is_training());  // an adapter put into an eval-mode model must not drop out
      adapters.emplace_back(name, a);
    }
  } else {
    selected = select_parameters(all_named_parameters(model), patterns, opts.layers, true, method);
  }
  const auto params = all_named_parameters(model);
  std::set<std::string> extra;
  if (kind == ModelKind::Vision && opts.train_head)
    for (auto& n : select_parameters(params, head_patterns(kind), {}, false, method)) extra.insert(n);
  if (opts.train_embeddings)
    for (auto& n : select_parameters(params, embedding_patterns(kind), {}, false, method)) extra.insert(n);

  // Now change the model: freeze everything, put the adapters in, unfreeze the selection.
  model.requires_grad_(false);
  for (auto& [name, a] : adapters) {
    // The base Linear was frozen with the rest of the model above; the adapter's own parameters train.
    model.replace_child(name, a);
    for (auto& [pn, v] : a->adapter_parameters()) v.set_requires_grad(true);
  }
  for (auto& [name, v] : params)
    if (selected.count(name) || extra.count(name)) v.set_requires_grad(true);
  PeftSummary summary = summarize(model, method);
  summary.dropout_generator = dropout_gen;
  return summary;
}

int merge_peft(nn::Module& model) {
  const auto adapters = find_adapters(model);
  for (auto& [name, a] : adapters) {
    auto lin = a->merge();
    lin->train(a->is_training());
    model.replace_child(name, lin);
  }
  return static_cast<int>(adapters.size());
}

}  // namespace prodial
