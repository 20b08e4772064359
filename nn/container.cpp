// container.cpp: ModuleList's bounds check and Sequential's forward.
#include "nn/container.h"

#include <stdexcept>

namespace nn {

void ModuleList::check_index(size_t i) const {
  if (i >= size_)
    throw std::out_of_range("ModuleList::at: index " + std::to_string(i) + " out of range for " +
                            std::to_string(size_) + " modules");
}

Sequential::Sequential(const std::vector<std::shared_ptr<UnaryModule>>& layers) : Sequential() {
  for (const auto& l : layers) push_back(l);
}

Variable Sequential::forward(const Variable& x) {
  Variable y = x;
  for (size_t i = 0; i < size_; ++i) y = child<UnaryModule>(std::to_string(i))->forward(y);
  return y;
}

}  // namespace nn
