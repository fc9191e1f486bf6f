// psalm/backend/cuda/gemm.cuh — Gemm<cuda> through cuBLAS: one strided-batched GEMM per
// GemmProblem (row-major C = A B computed as column-major C^T = B^T A^T), f32 and f64 in
// their own precision, bf16 operands with f32 accumulation and output (as on CPU).
// CublasHandle is an RAII handle bound to a stream; no global mutable state.
// Depends on: tensor/matmul, backend/cuda/check. Test: tests/cuda/test_parity.cu.
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <type_traits>

#include "psalm/backend/cuda/check.cuh"
#include "psalm/tensor/matmul.hpp"

namespace psalm {

/// Owns a cuBLAS handle; the stream it runs on is set at construction.
class CublasHandle {
 public:
  explicit CublasHandle(cudaStream_t stream = nullptr) {
    PSALM_CUBLAS_CHECK(cublasCreate(&handle_));
    PSALM_CUBLAS_CHECK(cublasSetStream(handle_, stream));
  }
  ~CublasHandle() {
    if (handle_) cublasDestroy(handle_);
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

namespace cuda_backend {

template <class T>
void gemm(const CublasHandle& handle, const GemmProblem<T>& p) {
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  const cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  if constexpr (std::is_same_v<T, double>) {
    const double alpha = p.alpha, beta = p.beta;
    PSALM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        handle.get(), op_b, op_a, static_cast<int>(p.n), static_cast<int>(p.m),
        static_cast<int>(p.k), &alpha, p.b, CUDA_R_64F, static_cast<int>(p.ldb), p.stride_b, p.a,
        CUDA_R_64F, static_cast<int>(p.lda), p.stride_a, &beta, p.c, CUDA_R_64F,
        static_cast<int>(p.ldc), p.stride_c, static_cast<int>(p.batch), CUBLAS_COMPUTE_64F,
        CUBLAS_GEMM_DEFAULT));
  } else {
    constexpr cudaDataType_t in_type = std::is_same_v<T, bf16> ? CUDA_R_16BF : CUDA_R_32F;
    const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
    PSALM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        handle.get(), op_b, op_a, static_cast<int>(p.n), static_cast<int>(p.m),
        static_cast<int>(p.k), &alpha, p.b, in_type, static_cast<int>(p.ldb), p.stride_b, p.a,
        in_type, static_cast<int>(p.lda), p.stride_a, &beta, p.c, CUDA_R_32F,
        static_cast<int>(p.ldc), p.stride_c, static_cast<int>(p.batch), CUBLAS_COMPUTE_32F,
        CUBLAS_GEMM_DEFAULT));
  }
}

}  // namespace cuda_backend

template <>
struct Gemm<cuda> {
  /// The convenience path used by matmul(): a handle per calling thread on the default stream.
  /// Code that manages streams calls cuda_backend::gemm with its own CublasHandle.
  template <class T>
  static void run(const GemmProblem<T>& p) {
    thread_local const CublasHandle handle;
    cuda_backend::gemm(handle, p);
  }
};

}  // namespace psalm
