// dispatch.h: how a tensor op hands its work to the CUDA backend. In a build with CUDA,
// PM_ON_CUDA(tensor, statement) runs `statement` when the tensor lives on a GPU; in a build
// without CUDA no CUDA tensor can exist (allocation throws "built without CUDA"), so the branch
// only throws, and the op files compile without any CUDA symbol.
#pragma once
#include <stdexcept>
#include <string>

#include "tensor/tensor.h"

#if defined(PM_HAVE_CUDA)
#define PM_ON_CUDA(t, ...)        \
  if ((t).device().is_cuda()) {   \
    __VA_ARGS__;                  \
  }
#else
#define PM_ON_CUDA(t, ...)                                                                             \
  if ((t).device().is_cuda()) {                                                                        \
    throw std::runtime_error(std::string(__func__) + ": this build has no CUDA backend (built without CUDA)"); \
  }
#endif
