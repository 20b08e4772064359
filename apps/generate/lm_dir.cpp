// lm_dir.cpp: loading and saving LM directories with their tokenizers.
#include "apps/generate/lm_dir.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "datasets/bpe_tokenizer.h"
#include "mamba/checkpoint.h"

namespace fs = std::filesystem;

namespace lmapps {

std::shared_ptr<datasets::Tokenizer> load_dir_tokenizer(const std::string& dir, const std::string& override_name,
                                                        std::string* source) {
  std::string name = override_name;
  if (name.empty()) {
    const fs::path p = fs::path(dir) / "tokenizer.json";
    if (!fs::exists(p))
      throw std::runtime_error(dir + ": no tokenizer.json (pass --tokenizer bytes or --tokenizer PATH)");
    name = p.string();
  } else if (name != "bytes" && name != "byte" && !fs::exists(name)) {
    throw std::runtime_error("--tokenizer: no such file " + name);
  }
  if (source) *source = name == "byte" ? "bytes" : name;
  return datasets::load_tokenizer(name);
}

LmDir load_lm_dir(const std::string& dir, const std::string& tokenizer_override) {
  if (dir.empty()) throw std::runtime_error("--model: no model directory given");
  if (!fs::is_directory(dir)) throw std::runtime_error(dir + ": no such model directory");
  const mamba::CheckpointLayout layout = mamba::detect_layout(dir);
  if (layout == mamba::CheckpointLayout::Vim)
    throw std::runtime_error(dir + ": a Vision Mamba directory, not a language model (use finetune_vim)");
  LmDir out;
  out.dir = dir;
  out.tokenizer = load_dir_tokenizer(dir, tokenizer_override, &out.tokenizer_source);
  out.model = mamba::load_mamba_lm(dir);
  const int64_t V = out.model->config().vocab_size;
  if (out.tokenizer->vocab_size() > V)
    throw std::runtime_error(dir + ": the tokenizer (" + out.tokenizer_source + ") has " +
                             std::to_string(out.tokenizer->vocab_size()) + " tokens but the model's vocabulary is " +
                             std::to_string(V));
  return out;
}

void save_lm_dir(const mamba::MambaLM& model, const std::string& dir, const std::string& tokenizer_source,
                 const std::vector<std::string>& special_tokens) {
  mamba::save_mamba_lm(model, dir, mamba::CheckpointLayout::HuggingFace);
  const fs::path dst = fs::path(dir) / "tokenizer.json";
  const fs::path tmp = fs::path(dir) / "tokenizer.json.tmp";
  if (tokenizer_source == "bytes" || tokenizer_source == "byte") {
    datasets::write_byte_level_tokenizer_json(dst.string(), special_tokens);
    return;
  }
  if (fs::exists(dst) && fs::equivalent(dst, tokenizer_source)) return;
  std::ifstream in(tokenizer_source, std::ios::binary);
  if (!in) throw std::runtime_error(tokenizer_source + ": cannot read the tokenizer to copy");
  std::ostringstream ss;
  ss << in.rdbuf();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << ss.str();
    if (!out) throw std::runtime_error(tmp.string() + ": cannot write");
  }
  fs::rename(tmp, dst);
}

}  // namespace lmapps
