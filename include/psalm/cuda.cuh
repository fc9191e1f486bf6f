// psalm/cuda.cuh — everything needed to use CUDA tensors in a .cu translation unit: Tensor,
// expressions, reductions, matmul and the CUDA backend. Keeps fmt and Eigen out (nvcc cannot
// compile them in C++20 mode without thousands of warnings or errors).
// Test: tests/cuda/test_autograd_parity.cu.
#pragma once

#include "psalm/backend/cuda/executor.cuh"
#include "psalm/backend/cuda/gemm.cuh"
#include "psalm/backend/cuda/memory.cuh"
#include "psalm/tensor/assign.hpp"
#include "psalm/tensor/expr.hpp"
#include "psalm/tensor/matmul.hpp"
#include "psalm/tensor/reduce.hpp"
#include "psalm/tensor/tensor.hpp"
