// psalm/autograd.hpp — the tape autograd and every differentiable op on CPU tensors: include
// this to train. CUDA translation units include psalm/cuda.cuh and psalm/autograd/ops.hpp.
// docs/autograd.md explains the tape, memory ownership and how to add an op.
// Test: tests/nn/test_mlp.cpp.
#pragma once

#include "psalm/autograd/ops.hpp"
#include "psalm/tensor.hpp"
