// psalm/backend/cuda/check.cuh — turns CUDA runtime and cuBLAS status codes into psalm::Error
// naming the call that failed. Depends on: core/error, CUDA runtime, cuBLAS.
// Test: tests/cuda/test_parity.cu.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "psalm/core/error.hpp"

#define PSALM_CUDA_CHECK(call)                                                 \
  do {                                                                         \
    const cudaError_t psalm_status_ = (call);                                  \
    PSALM_CHECK(psalm_status_ == cudaSuccess, "CUDA call failed: " #call ": ", \
                cudaGetErrorString(psalm_status_));                            \
  } while (0)

#define PSALM_CUBLAS_CHECK(call)                                                           \
  do {                                                                                     \
    const cublasStatus_t psalm_status_ = (call);                                           \
    PSALM_CHECK(psalm_status_ == CUBLAS_STATUS_SUCCESS, "cuBLAS call failed: " #call ": ", \
                cublasGetStatusString(psalm_status_));                                     \
  } while (0)
