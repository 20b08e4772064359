// vim_apps_slow_test.cpp: the Vim programs on the installed data (scripts/get-data.sh vision; skipped
// without it), about a minute: the committed models/vim-fmnist-small scores what models/README.md
// says on the Fashion-MNIST test set and chance on MNIST, and a short ProDiaL fine-tuning on MNIST
// lifts it far above chance.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "datasets/data_paths.h"

namespace {

namespace fs = std::filesystem;

std::string program_path(const std::string& name) {
  if (const char* d = std::getenv("PM_APPS_BIN_DIR")) return std::string(d) + "/" + name + "/" + name;
  const fs::path self = fs::read_symlink("/proc/self/exe");  // <build>/tests/test_apps_slow
  return (self.parent_path().parent_path() / "apps" / name / name).string();
}

std::string model_dir() {
  return (fs::path(PM_TEST_DATA_DIR).parent_path().parent_path() / "models/vim-fmnist-small").string();
}

// Runs finetune_vim with `args` (a shell-safe string); returns the last stdout line as JSON.
nlohmann::json finetune(const std::string& args) {
  const std::string out = (fs::temp_directory_path() / ("vimslow-" + std::to_string(::getpid()))).string();
  const std::string cmd = program_path("finetune_vim") + " --device cpu --threads 2 --model " + model_dir() + " " +
                          args + " >" + out + " 2>/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  fs::remove(out);
  auto j = nlohmann::json::parse(last, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

bool have_vision_data() {
  return fs::exists(datasets::mnist_dir() + "/t10k-images-idx3-ubyte") &&
         fs::exists(datasets::fashion_mnist_dir() + "/t10k-images-idx3-ubyte.gz");
}

TEST(VimAppsSlow, CommittedModelScoresWhatItsReadmeSays) {
  if (!have_vision_data()) GTEST_SKIP() << "no vision data (bash scripts/get-data.sh vision)";
  const auto fmnist = finetune("--eval-only --data fashion-mnist --eval-size 0");
  EXPECT_EQ(fmnist.value("eval_examples", 0), 10000);
  EXPECT_NEAR(fmnist.value("eval_acc", 0.0), 0.8748, 1e-4);
  const auto mnist = finetune("--eval-only --data mnist --eval-size 0");
  EXPECT_LT(mnist.value("eval_acc", 1.0), 0.2);
}

TEST(VimAppsSlow, ShortProdialFineTuningLearnsMnist) {
  if (!have_vision_data()) GTEST_SKIP() << "no vision data (bash scripts/get-data.sh vision)";
  const std::string out = (fs::temp_directory_path() / ("vimslow-run-" + std::to_string(::getpid()))).string();
  const auto r = finetune("--steps 150 --train-size 4800 --eval-size 1000 --eval-every 0 --out " + out);
  fs::remove_all(out);
  EXPECT_EQ(r.value("method", ""), "prodial");
  EXPECT_GT(r.value("eval_acc", 0.0), 0.8);
}

}  // namespace
