// op_registry.h: the names of the differentiable ops that live in mamba/. PM_MAMBA_OP(name)
// registers a name both with autograd's registry (PM_DIFFERENTIABLE_OP) and with this list, so the
// mamba test suite can check that exactly these ops have gradcheck cases (the autograd suite only
// sees the ops linked into it).
#pragma once
#include <set>
#include <string>

#include "autograd/node.h"

namespace mamba {

// Every op registered with PM_MAMBA_OP in the objects linked into this program.
std::set<std::string>& differentiable_ops();

struct MambaOpRegistrar {
  explicit MambaOpRegistrar(const char* name) { differentiable_ops().insert(name); }
};

}  // namespace mamba

// At namespace scope in the .cpp that defines the op, once per op name.
#define PM_MAMBA_OP(op_name)      \
  PM_DIFFERENTIABLE_OP(op_name); \
  static ::mamba::MambaOpRegistrar PM_CONCAT(pm_mamba_op_, __COUNTER__)(op_name)
