// ops.h: every tensor op in one include. Each group lives in tensor/ops/<group>.h.
#pragma once
#include "tensor/ops/creation.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/index.h"
#include "tensor/ops/linalg.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/optim.h"
#include "tensor/ops/reduce.h"
#include "tensor/ops/shape_ops.h"
#include "tensor/tensor.h"
