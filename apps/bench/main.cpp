// main.cpp: `bench`, the stack's performance numbers. Runs every section (or those named with
// --only), each printing a table; the last line of stdout is one JSON object holding all the numbers.
// `bench lm-train ...` is a subcommand with its own flags (mamba_section.cpp).
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "section.h"

#ifdef PM_HAVE_CLI11
#include <CLI/CLI.hpp>
#endif

namespace {

const std::vector<bench::Section>& sections() {
  static const std::vector<bench::Section> all = {
      {"matmul", "float32 CPU matmul, BLAS path vs the blocked fallback", bench::matmul_section},
      {"datasets", "DataLoader images/s with 0 and 2 workers (decode + augment), GPT-2 BPE MB/s", bench::datasets_section},
      {"cuda_memory", "GPU copy, add, sums and softmax in GB/s vs the copy bandwidth", bench::cuda_memory_section},
      {"cuda_matmul", "GPU matmul TFLOP/s vs cuBLAS, cross-entropy GB/s vs the copy bandwidth", bench::cuda_matmul_section},
      {"mamba_scan", "CUDA selective scan fwd + bwd ms vs mamba_ssm and the memory-traffic floor", bench::mamba_scan_section},
  };
  return all;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string section_names() {
  std::string s;
  for (const auto& sec : sections()) s += (s.empty() ? "" : ", ") + sec.name;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  // subcommand: `bench lm-train ...` (MambaLM training steps, its own flags)
  if (argc > 1 && std::strcmp(argv[1], "lm-train") == 0) return bench::lm_train_main(argc - 1, argv + 1);
  bench::Options opt;
  std::string only;
  bool list = false;
#ifdef PM_HAVE_CLI11
  CLI::App app{"bench: prints the stack's performance numbers (sections: " + section_names() + ")"};
  app.add_option("--only", only, "comma-separated sections to run (default: all)");
  app.add_option("--repeats", opt.repeats, "timed runs per measurement; the best counts")->check(CLI::PositiveNumber);
  app.add_option("--warmup", opt.warmup, "untimed runs before timing")->check(CLI::NonNegativeNumber);
  app.add_flag("--list", list, "list the sections and exit");
  CLI11_PARSE(app, argc, argv);
#else
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: bench [--only a,b] [--repeats N] [--warmup N] [--list]\nsections: %s\n",
                  section_names().c_str());
      return 0;
    } else if (arg == "--only") {
      only = value();
    } else if (arg == "--repeats") {
      opt.repeats = std::atoi(value().c_str());
    } else if (arg == "--warmup") {
      opt.warmup = std::atoi(value().c_str());
    } else if (arg == "--list") {
      list = true;
    } else {
      std::fprintf(stderr, "bench: unknown flag %s (try --help)\n", arg.c_str());
      return 2;
    }
  }
  if (opt.repeats < 1 || opt.warmup < 0) {
    std::fprintf(stderr, "bench: --repeats must be >= 1 and --warmup >= 0\n");
    return 2;
  }
#endif

  if (list) {
    for (const auto& s : sections()) std::printf("%-10s %s\n", s.name.c_str(), s.what.c_str());
    return 0;
  }
  std::vector<const bench::Section*> chosen;
  for (const auto& s : sections())
    if (only.empty()) chosen.push_back(&s);
  for (const auto& name : split_commas(only)) {
    const bench::Section* found = nullptr;
    for (const auto& s : sections())
      if (s.name == name) found = &s;
    if (!found) {
      std::fprintf(stderr, "bench: --only: no section '%s' (sections: %s)\n", name.c_str(), section_names().c_str());
      return 2;
    }
    chosen.push_back(found);
  }

  bench::Json all;
  try {
    for (const auto* s : chosen) all.obj(s->name, s->run(opt));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", all.dump().c_str());
  return 0;
}
