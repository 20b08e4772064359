// identity.h: Identity, a layer that returns its input (a placeholder where a block is optional).
#pragma once
#include "nn/module.h"

namespace nn {

class Identity : public UnaryModule {
 public:
  Identity() : UnaryModule("Identity") {}
  Variable forward(const Variable& x) override { return x; }
};

}  // namespace nn
