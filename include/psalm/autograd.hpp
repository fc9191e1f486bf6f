// psalm/autograd.hpp — the tape autograd and every differentiable op: include this to train.
// docs/autograd.md explains the tape, memory ownership and how to add an op.
#pragma once

#include "psalm/autograd/no_grad.hpp"
#include "psalm/autograd/ops/activation.hpp"
#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/autograd/ops/layer_norm.hpp"
#include "psalm/autograd/ops/linear.hpp"
#include "psalm/autograd/ops/matmul.hpp"
#include "psalm/autograd/ops/reduce.hpp"
#include "psalm/autograd/ops/select.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/autograd/ops/softmax.hpp"
#include "psalm/autograd/ops/unary.hpp"
#include "psalm/autograd/reduce_broadcast.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/autograd/var.hpp"
#include "psalm/tensor.hpp"
