// corpus.cpp: corpus names to files, and the block-interleaved validation split.
#include "apps/pretrain_lm/corpus.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "datasets/data_paths.h"
#include "datasets/task_builders.h"

namespace fs = std::filesystem;

namespace pretrain_lm {

namespace {

std::vector<std::string> txt_files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".txt") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

[[noreturn]] void not_installed(const std::string& name, const std::string& set, const std::string& where) {
  throw std::invalid_argument("--data: corpus '" + name + "' is not installed (" + where + " is missing; run `bash scripts/get-data.sh " +
                              set + "`)");
}

}  // namespace

const std::vector<std::string>& corpus_names() {
  static const std::vector<std::string> names = {"moby-dick", "sotu", "fortunes-en", "kjv", "gcide"};
  return names;
}

std::vector<std::string> corpus_files(const std::string& name) {
  if (name == "moby-dick") {
    const std::string p = datasets::moby_dick_txt();
    if (!fs::exists(p)) not_installed(name, "text", p);
    return {p};
  }
  if (name == "sotu") {
    const std::string d = datasets::data_path("sotu/package/data");
    if (!fs::is_directory(d)) not_installed(name, "text", d);
    return txt_files_in(d);
  }
  if (name == "fortunes-en") {
    const std::string d = datasets::fortunes_dir();
    std::vector<std::string> files;
    if (fs::is_directory(d)) files = datasets::fortune_files(d, "en");
    if (files.empty()) not_installed(name, "text", d);
    std::sort(files.begin(), files.end());
    return files;
  }
  if (name == "kjv" || name == "gcide") {
    const std::string p = datasets::data_path(name + "/" + name + ".txt");
    if (!fs::exists(p)) not_installed(name, "extra", p);
    return {p};
  }
  if (fs::is_directory(name)) {
    auto files = txt_files_in(name);
    if (files.empty()) throw std::invalid_argument("--data: the folder " + name + " holds no .txt files");
    return files;
  }
  if (fs::is_regular_file(name)) return {name};
  std::string known;
  for (const auto& n : corpus_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("--data: '" + name + "' is neither a corpus name (" + known + ") nor a file or folder");
}

void split_stream(const std::vector<int32_t>& tokens, double held_out, int64_t block, std::vector<int32_t>& train,
                  std::vector<int32_t>& valid) {
  if (block < 1) throw std::invalid_argument("split_stream: block must be >= 1");
  train.clear();
  valid.clear();
  const int64_t n = static_cast<int64_t>(tokens.size());
  for (int64_t i = 0, start = 0; start < n; ++i, start += block) {
    const int64_t end = std::min(n, start + block);
    const bool val = std::floor((i + 1) * held_out) > std::floor(i * held_out);
    auto& dst = val ? valid : train;
    dst.insert(dst.end(), tokens.begin() + start, tokens.begin() + end);
  }
}

}  // namespace pretrain_lm
