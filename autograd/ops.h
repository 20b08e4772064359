// ops.h (autograd): every differentiable op in one include.
#pragma once
#include "autograd/engine.h"
#include "autograd/functions/elementwise.h"
#include "autograd/functions/index.h"
#include "autograd/functions/linalg.h"
#include "autograd/functions/nn_ops.h"
#include "autograd/functions/reduce.h"
#include "autograd/functions/views.h"
#include "autograd/grad_mode.h"
#include "autograd/variable.h"
