// psalm/tensor.hpp — everything needed to use CPU tensors: Tensor, expressions, reductions,
// matmul and the CPU backend. CUDA code includes psalm/cuda.cuh instead.
// Test: tests/tensor/test_tensor.cpp.
#pragma once

#include "psalm/backend/cpu/executor.hpp"
#include "psalm/backend/cpu/gemm.hpp"
#include "psalm/tensor/assign.hpp"
#include "psalm/tensor/expr.hpp"
#include "psalm/tensor/matmul.hpp"
#include "psalm/tensor/print.hpp"
#include "psalm/tensor/reduce.hpp"
#include "psalm/tensor/tensor.hpp"
