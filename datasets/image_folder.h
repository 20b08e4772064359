// image_folder.h: ImageFolder, images laid out as root/<class name>/**/*.{png,jpg,jpeg,bmp}. The
// classes are the sorted names of root's sub-folders (hidden ones skipped); files are sorted too,
// so indices are stable. Images are decoded on get() (so loader workers do the decoding), converted
// to the channel count asked for.
#pragma once
#include <string>
#include <vector>

#include "datasets/image_source.h"

namespace datasets {

struct ImageFolderOptions {
  int channels = 3;  // 1 (grey) or 3 (RGB)
  // Off: a file that fails to decode throws a DataError naming it when get() reaches it.
  // On: every file is decoded once at construction; those that fail are dropped and counted
  // (skipped(), skipped_files()), so get() never meets one.
  bool skip_undecodable = false;
  std::vector<std::string> extensions = {".png", ".jpg", ".jpeg", ".bmp"};  // case-insensitive
};

class ImageFolder : public ImageSource {
 public:
  // Throws DataError naming the folder when root has no class folders, or a class folder holds
  // no image files (or none that decode, with skip_undecodable).
  explicit ImageFolder(const std::string& root, ImageFolderOptions opt = {});
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  ImageExample get(int64_t index) const override;
  const std::vector<std::string>& class_names() const override { return classes_; }
  const std::string& path(int64_t index) const;
  int64_t skipped() const { return static_cast<int64_t>(skipped_.size()); }
  const std::vector<std::string>& skipped_files() const { return skipped_; }

 private:
  ImageFolderOptions opt_;
  std::vector<std::string> classes_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  std::vector<std::string> skipped_;
};

}  // namespace datasets
