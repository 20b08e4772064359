// build_tasks.cpp: `build_tasks`, writes the JSONL tasks of datasets/task_builders.h from the
// corpora scripts/get-data.sh installs, and prints a JSON summary on its last line.
//   build_tasks spam     [--data DIR] [--out DIR] [--max-bytes N] [--body-only]
//   build_tasks fortunes [--data DIR] [--out DIR] [--max-bytes N] [--max-per-class N] [--test-fraction F]
//                        [--languages en,de,...] [--seed S]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "datasets/data_paths.h"
#include "datasets/task_builders.h"

namespace {

int usage(int rc) {
  std::fprintf(rc ? stderr : stdout,
               "usage: build_tasks spam [--data DIR] [--out DIR] [--max-bytes N] [--body-only]\n"
               "       build_tasks fortunes [--data DIR] [--out DIR] [--max-bytes N] [--max-per-class N] [--test-fraction F]\n"
               "                            [--languages en,de,...] [--seed S]\n"
               "Writes train.jsonl, test.jsonl, test_choices.jsonl and classes.txt (default --out data/tasks/<name>).\n");
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(2);
  const std::string task = argv[1];
  if (task == "--help" || task == "-h") return usage(0);
  if (task != "spam" && task != "fortunes") {
    std::fprintf(stderr, "build_tasks: unknown task '%s' (spam or fortunes)\n", task.c_str());
    return 2;
  }
  std::string data = task == "spam" ? datasets::spam_assassin_dir() : datasets::fortunes_dir();
  std::string out = datasets::data_path("tasks/" + task);
  datasets::SpamTaskOptions spam;
  datasets::FortunesTaskOptions fort;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "build_tasks: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data") {
      data = value();
    } else if (a == "--out") {
      out = value();
    } else if (a == "--max-bytes") {
      spam.max_bytes = fort.max_bytes = std::atoll(value().c_str());
    } else if (a == "--body-only" && task == "spam") {
      spam.body_only = true;
    } else if (a == "--max-per-class" && task == "fortunes") {
      fort.max_per_class = std::atoll(value().c_str());
    } else if (a == "--test-fraction" && task == "fortunes") {
      fort.test_fraction = std::atof(value().c_str());
    } else if (a == "--seed" && task == "fortunes") {
      fort.seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--languages" && task == "fortunes") {
      const std::string v = value();
      size_t s = 0;
      while (s <= v.size()) {
        size_t e = v.find(',', s);
        if (e == std::string::npos) e = v.size();
        if (e > s) fort.languages.push_back(v.substr(s, e - s));
        s = e + 1;
      }
    } else if (a == "--help" || a == "-h") {
      return usage(0);
    } else {
      std::fprintf(stderr, "build_tasks: unknown flag %s (try --help)\n", a.c_str());
      return 2;
    }
  }
  try {
    const datasets::TaskReport r =
        task == "spam" ? datasets::build_spam_assassin_task(data, out, spam) : datasets::build_fortunes_langid_task(data, out, fort);
    std::string per_class;
    for (const auto& c : r.classes)
      per_class += (per_class.empty() ? "" : ",") + ("\"" + c + "\":[" + std::to_string(r.train_per_class.count(c) ? r.train_per_class.at(c) : 0) +
                                                      "," + std::to_string(r.test_per_class.count(c) ? r.test_per_class.at(c) : 0) + "]");
    std::fprintf(stderr, "build_tasks: %s -> %s (%lld train, %lld test)\n", task.c_str(), r.out_dir.c_str(), static_cast<long long>(r.train),
                 static_cast<long long>(r.test));
    std::printf("{\"task\":\"%s\",\"out\":\"%s\",\"train\":%lld,\"test\":%lld,\"classes\":{%s}}\n", task.c_str(), r.out_dir.c_str(),
                static_cast<long long>(r.train), static_cast<long long>(r.test), per_class.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "build_tasks: %s\n", e.what());
    return 1;
  }
  return 0;
}
