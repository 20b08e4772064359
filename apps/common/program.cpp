// program.cpp: run_program and the final JSON line.
#include "apps/common/program.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

namespace apps {

namespace {
// An error message on one line (newlines become "; ").
std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (size_t i = 0; (i = s.find('\n', i)) != std::string::npos;) s.replace(i, 1, "; ");
  return s;
}
}  // namespace

void settle_thread_runtime(char** argv) {
  if (std::getenv("PM_APPS_RUNTIME_SET")) return;
  // Busy-waiting OpenMP workers cost more than they save for these small models, and on a shared
  // machine they starve each other (measured: 2 threads 6x slower than 1 under load). libgomp reads
  // OMP_WAIT_POLICY only at start-up, so the program re-executes itself once with it set.
  ::setenv("PM_APPS_RUNTIME_SET", "1", 1);
  if (std::getenv("OMP_WAIT_POLICY")) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: carry on as we are
}

int run_program(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  settle_thread_runtime(argv);
  const std::string name = app.get_name().empty() ? "program" : app.get_name();
  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      std::printf("%s", app.help().c_str());
      return 0;
    } catch (const CLI::CallForAllHelp&) {
      std::printf("%s", app.help("", CLI::AppFormatMode::All).c_str());
      return 0;
    } catch (const CLI::ParseError& e) {
      std::fprintf(stderr, "%s: error: %s (try --help)\n", name.c_str(), one_line(e.what()).c_str());
      return 1;
    }
    return body();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: error: %s\n", name.c_str(), one_line(e.what()).c_str());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "%s: error: unknown exception\n", name.c_str());
    return 1;
  }
}

void print_result(const nlohmann::json& result) {
  std::printf("%s\n", result.dump().c_str());
  std::fflush(stdout);
}

nlohmann::json param_counts(int64_t trainable, int64_t total) {
  return {{"trainable_params", trainable},
          {"total_params", total},
          {"trainable_percent", total > 0 ? 100.0 * static_cast<double>(trainable) / static_cast<double>(total) : 0.0}};
}

bool prepare_run(CLI::App& app, CommonFlags& common, TrainFlags& train, const std::string& program) {
  const bool resume = !train.resume.empty();
  if (resume) {
    const std::string dir = train.resume;
    RunDir old(dir, true);
    const nlohmann::json config = old.read_config();
    if (config.value("program", "") != program)
      throw std::runtime_error("--resume: " + dir + " is a run of " +
                               config.value("program", std::string("an unknown program")) + ", not " + program);
    reparse_for_resume(app, config, dir, {"resume", "out", "threads", "device", "stop-after"});
    if (!common.out.empty() && common.out != dir)
      throw std::runtime_error("--resume " + dir + " continues in that directory; leave out --out (got " + common.out +
                               ")");
    common.out = dir;
    train.resume = dir;
  }
  // --epochs given: the program's default --steps does not apply
  const CLI::Option* epochs = app.get_option_no_throw("--epochs");
  if (epochs && epochs->count() > 0) train.steps = 0;
  resolve_common_flags(common, program);
  return resume;
}

nlohmann::json base_config(const CLI::App& app, const CommonFlags& common) {
  nlohmann::json flags = flags_json(app);
  flags["device"] = common.device;
  flags["threads"] = common.threads;
  flags["out"] = common.out;
  flags.erase("resume");
  flags.erase("stop-after");
  const CLI::Option* epochs = app.get_option_no_throw("--epochs");
  if (epochs && epochs->count() > 0) flags["steps"] = 0;
  return {{"program", app.get_name()}, {"flags", flags}, {"given", given_flags(app)}};
}

}  // namespace apps
