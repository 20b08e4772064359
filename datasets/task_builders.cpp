// task_builders.cpp: SpamAssassin ham/spam and fortunes language-ID tasks written as JSONL.
#include "datasets/task_builders.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "datasets/errors.h"
#include "datasets/file_io.h"
#include "datasets/rng.h"

namespace datasets {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Cuts s to at most max_bytes bytes without splitting a UTF-8 sequence (0: no limit).
std::string cut_utf8(const std::string& s, int64_t max_bytes) {
  if (max_bytes <= 0 || static_cast<int64_t>(s.size()) <= max_bytes) return s;
  size_t n = static_cast<size_t>(max_bytes);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// One JSON object per line; text that is not valid UTF-8 is repaired with U+FFFD.
std::string jsonl_line(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

struct Item {
  std::string text;
  int64_t label;
};

void write_task(const std::string& out_dir, const std::vector<std::string>& classes, const std::vector<Item>& train,
                const std::vector<Item>& test, const std::string& prompt_head, const std::string& prompt_tail, TaskReport& report) {
  std::string tr, te, mc, cl;
  for (const auto& it : train) {
    tr += jsonl_line({{"prompt", prompt_head + it.text + prompt_tail}, {"answer", " " + classes[it.label]}});
    ++report.train_per_class[classes[it.label]];
  }
  for (const auto& it : test) {
    const std::string prompt = prompt_head + it.text + prompt_tail;
    te += jsonl_line({{"prompt", prompt}, {"answer", " " + classes[it.label]}});
    mc += jsonl_line({{"context", prompt}, {"choices", classes}, {"label", it.label}});
    ++report.test_per_class[classes[it.label]];
  }
  for (const auto& c : classes) cl += c + "\n";
  write_file_atomic(join_path(out_dir, "train.jsonl"), tr);
  write_file_atomic(join_path(out_dir, "test.jsonl"), te);
  write_file_atomic(join_path(out_dir, "test_choices.jsonl"), mc);
  write_file_atomic(join_path(out_dir, "classes.txt"), cl);
  report.out_dir = out_dir;
  report.classes = classes;
  report.train = static_cast<int64_t>(train.size());
  report.test = static_cast<int64_t>(test.size());
}

}  // namespace

TaskReport build_spam_assassin_task(const std::string& data_dir, const std::string& out_dir, const SpamTaskOptions& opt) {
  if (!is_directory(data_dir)) fail(data_dir, "not a folder (run scripts/get-data.sh text)");
  const std::vector<std::string> classes = {"ham", "spam"};
  const std::vector<std::pair<std::string, int64_t>> train_groups = {{"easy-ham-1", 0}, {"hard-ham-1", 0}, {"spam-1", 1}},
                                                      test_groups = {{"easy-ham-2", 0}, {"spam-2", 1}};
  auto read_groups = [&](const std::vector<std::pair<std::string, int64_t>>& groups) {
    std::vector<Item> items;
    for (const auto& [group, label] : groups) {
      const std::string dir = join_path(data_dir, group);
      if (!is_directory(dir)) fail(dir, "missing SpamAssassin group folder");
      int64_t found = 0;
      for (const auto& name : list_dir(dir)) {
        if (!ends_with(name, ".txt")) continue;
        std::string text = read_file(join_path(dir, name));
        if (opt.body_only) {
          size_t p = text.find("\n\n");
          if (p == std::string::npos) p = text.find("\r\n\r\n");
          text = p == std::string::npos ? std::string() : text.substr(p + 2);
        }
        items.push_back({cut_utf8(text, opt.max_bytes), label});
        ++found;
      }
      if (found == 0) fail(dir, "no .txt messages");
    }
    return items;
  };
  TaskReport report;
  write_task(out_dir, classes, read_groups(train_groups), read_groups(test_groups), "Email:\n", "\nLabel:", report);
  return report;
}

namespace {

// Files or folders (relative to the fortunes folder) of each language but English.
const std::map<std::string, std::vector<std::string>>& language_paths() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"de", {"de"}}, {"es", {"es"}}, {"it", {"it"}}, {"ru", {"ru"}},       {"pl", {"pl"}},
      {"cs", {"cs"}}, {"pt", {"brasil"}}, {"zh", {"chinese", "tang300", "song100"}}, {"eo", {"eo"}},
      {"bg", {"bg"}}, {"ga", {"ga"}}};
  return m;
}

bool is_fortune_name(const std::string& name) {
  return !name.empty() && name[0] != '.' && !ends_with(name, ".dat") && !ends_with(name, ".u8");
}

}  // namespace

const std::vector<std::string>& fortune_languages() {
  static const std::vector<std::string> langs = {"en", "de", "es", "it", "ru", "pl", "cs", "pt", "zh", "eo", "bg", "ga"};
  return langs;
}

std::vector<std::string> fortune_files(const std::string& dir, const std::string& language) {
  std::vector<std::string> files;
  std::error_code ec;
  if (language == "en") {
    std::set<std::string> other;
    for (const auto& [lang, paths] : language_paths())
      for (const auto& p : paths) other.insert(p);
    for (const auto& name : list_dir(dir)) {
      const std::string p = join_path(dir, name);
      if (!is_fortune_name(name) || other.count(name) || fs::is_symlink(p, ec) || !fs::is_regular_file(p, ec)) continue;
      files.push_back(p);
    }
    return files;
  }
  auto it = language_paths().find(language);
  if (it == language_paths().end()) throw std::invalid_argument("fortune_files: unknown language '" + language + "'");
  for (const auto& rel : it->second) {
    const std::string p = join_path(dir, rel);
    if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else if (is_directory(p)) {
      for (const auto& name : list_dir(p))
        if (is_fortune_name(name) && fs::is_regular_file(join_path(p, name), ec)) files.push_back(join_path(p, name));
    }
  }
  return files;
}

std::vector<std::string> read_fortunes(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<std::string> items;
  std::string cur;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "%") {
      if (cur.find_first_not_of(" \t\n") != std::string::npos) items.push_back(cur);
      cur.clear();
    } else {
      cur += (cur.empty() ? "" : "\n") + line;
    }
    pos = nl + 1;
  }
  if (cur.find_first_not_of(" \t\n") != std::string::npos) items.push_back(cur);
  return items;
}

TaskReport build_fortunes_langid_task(const std::string& dir, const std::string& out_dir, const FortunesTaskOptions& opt) {
  if (!is_directory(dir)) fail(dir, "not a folder (run scripts/get-data.sh text)");
  if (!(opt.test_fraction > 0 && opt.test_fraction < 1))
    throw std::invalid_argument("build_fortunes_langid_task: test_fraction must be in (0, 1)");
  const std::vector<std::string> langs = opt.languages.empty() ? fortune_languages() : opt.languages;
  std::vector<Item> train, test;
  for (size_t k = 0; k < langs.size(); ++k) {
    std::vector<std::string> items;
    for (const auto& f : fortune_files(dir, langs[k]))
      for (auto& s : read_fortunes(f)) items.push_back(cut_utf8(s, opt.max_bytes));
    if (items.empty()) fail(dir, "no fortunes for language '" + langs[k] + "' (is its fortunes package installed?)");
    Rng rng(mix64(opt.seed, k), 0);
    for (int64_t i = static_cast<int64_t>(items.size()) - 1; i > 0; --i) std::swap(items[i], items[rng.randint(0, i + 1)]);
    if (opt.max_per_class > 0 && static_cast<int64_t>(items.size()) > opt.max_per_class) items.resize(opt.max_per_class);
    const int64_t n_test = std::max<int64_t>(1, static_cast<int64_t>(items.size() * opt.test_fraction));
    for (int64_t i = 0; i < static_cast<int64_t>(items.size()); ++i)
      (i < n_test ? test : train).push_back({items[i], static_cast<int64_t>(k)});
  }
  TaskReport report;
  write_task(out_dir, langs, train, test, "Text:\n", "\nLanguage:", report);
  return report;
}

}  // namespace datasets
