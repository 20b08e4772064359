// image_folder.cpp: scanning root/<class>/..., optional decode check, lazy decoding.
#include "datasets/image_folder.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "datasets/errors.h"
#include "datasets/file_io.h"
#include "datasets/image_decode.h"

namespace datasets {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool has_extension(const std::string& name, const std::vector<std::string>& exts) {
  const std::string l = lower(name);
  for (const auto& e : exts) {
    const std::string le = lower(e);
    if (l.size() > le.size() && l.compare(l.size() - le.size(), le.size(), le) == 0) return true;
  }
  return false;
}

// Image files under dir, recursively, in sorted order (folders and files interleaved by name).
void collect(const std::string& dir, const std::vector<std::string>& exts, std::vector<std::string>& out) {
  for (const auto& name : list_dir(dir)) {
    if (name.empty() || name[0] == '.') continue;
    const std::string p = join_path(dir, name);
    if (is_directory(p)) {
      collect(p, exts, out);
    } else if (has_extension(name, exts)) {
      out.push_back(p);
    }
  }
}

std::string ext_list(const std::vector<std::string>& exts) {
  std::string s;
  for (size_t i = 0; i < exts.size(); ++i) s += (i == 0 ? "" : i + 1 == exts.size() ? " or " : ", ") + exts[i];
  return s;
}

}  // namespace

ImageFolder::ImageFolder(const std::string& root, ImageFolderOptions opt) : opt_(std::move(opt)) {
  if (opt_.channels != 1 && opt_.channels != 3)
    throw std::invalid_argument("ImageFolder: channels must be 1 or 3, got " + std::to_string(opt_.channels));
  if (!is_directory(root)) fail(root, "not a folder");
  for (const auto& name : list_dir(root))
    if (!name.empty() && name[0] != '.' && is_directory(join_path(root, name))) classes_.push_back(name);
  if (classes_.empty()) fail(root, "no class folders (expected root/<class name>/<image files>)");
  for (size_t k = 0; k < classes_.size(); ++k) {
    const std::string dir = join_path(root, classes_[k]);
    std::vector<std::string> found;
    collect(dir, opt_.extensions, found);
    if (found.empty()) fail(dir, "empty class folder (no " + ext_list(opt_.extensions) + " files)");
    int64_t kept = 0;
    for (auto& f : found) {
      if (opt_.skip_undecodable) {
        try {
          load_image(f, opt_.channels);
        } catch (const DataError&) {
          skipped_.push_back(f);
          continue;
        }
      }
      files_.push_back(std::move(f));
      labels_.push_back(static_cast<int64_t>(k));
      ++kept;
    }
    if (kept == 0) fail(dir, "no decodable images (" + std::to_string(found.size()) + " skipped)");
  }
}

const std::string& ImageFolder::path(int64_t index) const {
  check_index("ImageFolder::path", index, size());
  return files_[index];
}

ImageExample ImageFolder::get(int64_t index) const {
  check_index("ImageFolder::get", index, size());
  return {load_image(files_[index], opt_.channels), labels_[index]};
}

}  // namespace datasets
