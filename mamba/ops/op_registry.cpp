// op_registry.cpp: the list of mamba's differentiable ops (filled at static-initialisation time).
#include "mamba/ops/op_registry.h"

namespace mamba {

std::set<std::string>& differentiable_ops() {
  static std::set<std::string> ops;
  return ops;
}

}  // namespace mamba
