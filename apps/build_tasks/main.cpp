// main.cpp: `build_tasks`, writes a text-classification task as JSONL from an installed corpus
// (datasets/task_builders.h): train.jsonl and test.jsonl ({"prompt", "answer"}, for fine-tuning with
// the loss on the answer only), test_choices.jsonl ({"context", "choices", "label"}, for acc /
// acc_norm) and classes.txt.
//   build_tasks spam     [--data DIR] [--out DIR] [--max-bytes N] [--body-only]
//   build_tasks fortunes [--data DIR] [--out DIR] [--max-bytes N] [--max-per-class N] [--test-fraction F]
//                        [--languages en,de,...] [--seed S]
// Defaults: the places scripts/get-data.sh puts the corpora, and --out data/tasks/<task>. Progress
// goes to stderr; the last stdout line is a JSON summary {"task", "out", "train", "test", "classes":
// {name: [train, test]}}. Errors: one line "build_tasks: error: ..." on stderr, exit 1.
#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "datasets/data_paths.h"
#include "datasets/task_builders.h"

namespace {

struct Flags {
  std::string data, out;
  int64_t max_bytes = -1;  // -1: the task's default
  bool body_only = false;
  int64_t max_per_class = datasets::FortunesTaskOptions{}.max_per_class;
  double test_fraction = datasets::FortunesTaskOptions{}.test_fraction;
  std::vector<std::string> languages;
  uint64_t seed = 0;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

int run(const std::string& task, const Flags& f) {
  if (f.max_bytes < -1) throw std::invalid_argument("--max-bytes must be >= 0 (0: whole texts), got " + std::to_string(f.max_bytes));
  datasets::TaskReport r;
  if (task == "spam") {
    datasets::SpamTaskOptions opt;
    if (f.max_bytes >= 0) opt.max_bytes = f.max_bytes;
    opt.body_only = f.body_only;
    const std::string data = f.data.empty() ? datasets::spam_assassin_dir() : f.data;
    const std::string out = f.out.empty() ? datasets::data_path("tasks/spam") : f.out;
    std::fprintf(stderr, "build_tasks: SpamAssassin %s -> %s (train: *-1 groups, test: *-2)\n", data.c_str(), out.c_str());
    r = datasets::build_spam_assassin_task(data, out, opt);
  } else {
    datasets::FortunesTaskOptions opt;
    if (f.max_bytes >= 0) opt.max_bytes = f.max_bytes;
    if (f.max_per_class < 0) throw std::invalid_argument("--max-per-class must be >= 0 (0: all), got " + std::to_string(f.max_per_class));
    if (!(f.test_fraction > 0 && f.test_fraction < 1))
      throw std::invalid_argument("--test-fraction must be in (0, 1), got " + std::to_string(f.test_fraction));
    const auto& known = datasets::fortune_languages();
    for (const auto& l : f.languages)
      if (std::find(known.begin(), known.end(), l) == known.end())
        throw std::invalid_argument("--languages: unknown language '" + l + "' (known: " + join(known) + ")");
    opt.max_per_class = f.max_per_class;
    opt.test_fraction = f.test_fraction;
    opt.languages = f.languages;
    opt.seed = f.seed;
    const std::string data = f.data.empty() ? datasets::fortunes_dir() : f.data;
    const std::string out = f.out.empty() ? datasets::data_path("tasks/fortunes") : f.out;
    std::fprintf(stderr, "build_tasks: fortunes language ID %s -> %s\n", data.c_str(), out.c_str());
    r = datasets::build_fortunes_langid_task(data, out, opt);
  }
  nlohmann::json classes = nlohmann::json::object();
  for (const auto& c : r.classes)
    classes[c] = {r.train_per_class.count(c) ? r.train_per_class.at(c) : 0, r.test_per_class.count(c) ? r.test_per_class.at(c) : 0};
  std::fprintf(stderr, "build_tasks: wrote %lld train and %lld test examples, %zu classes, to %s\n", static_cast<long long>(r.train),
               static_cast<long long>(r.test), r.classes.size(), r.out_dir.c_str());
  const nlohmann::json summary = {{"task", task}, {"out", r.out_dir}, {"train", r.train}, {"test", r.test}, {"classes", classes}};
  std::printf("%s\n", summary.dump().c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"build_tasks: JSONL classification tasks (train.jsonl, test.jsonl, test_choices.jsonl, classes.txt) "
               "from the corpora scripts/get-data.sh installs"};
  app.require_subcommand(1);
  CLI::App* spam = app.add_subcommand("spam", "SpamAssassin ham/spam: train on easy-ham-1, hard-ham-1, spam-1; test on easy-ham-2, spam-2");
  CLI::App* fort = app.add_subcommand("fortunes", "fortunes language identification (12 languages, a seeded split per language)");
  for (CLI::App* sub : {spam, fort}) {
    sub->add_option("--data", f.data, "the corpus folder (default: where scripts/get-data.sh puts it)");
    sub->add_option("--out", f.out, "output folder (default: data/tasks/<task>)");
    sub->add_option("--max-bytes", f.max_bytes, "cut each text to this many bytes, at a UTF-8 boundary (0: whole; default 2000 "
                                                "for spam, 600 for fortunes)");
  }
  spam->add_flag("--body-only", f.body_only, "drop the e-mail headers");
  fort->add_option("--max-per-class", f.max_per_class, "fortunes kept per language before the split (0: all)")->capture_default_str();
  fort->add_option("--test-fraction", f.test_fraction, "share of each language held out for test")->capture_default_str();
  fort->add_option("--languages", f.languages, "comma-separated codes: " + join(datasets::fortune_languages()) + " (default: all)")
      ->delimiter(',');
  fort->add_option("--seed", f.seed, "seed of the per-language shuffle")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "build_tasks: error: %s (try --help)\n", e.what());
    return 1;
  }
  try {
    return run(spam->parsed() ? "spam" : "fortunes", f);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "build_tasks: error: %s\n", e.what());
    return 1;
  }
}
