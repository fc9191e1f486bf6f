// tests/cuda/host_backend.cuh — the CPU side of the GPU parity executable: nvcc cannot compile
// the real CPU backend (Eigen, OpenBLAS, oneDNN), so here Executor<cpu> runs kernel bodies in a
// plain serial loop and Gemm<cpu> is a naive triple loop (in double). CPU tensors, and every
// autograd op on them, then work in .cu files; the CUDA result of an op is compared with the
// same bodies run on the host. Only tests/cuda/*.cu include this (one definition per program).
#pragma once

#include <algorithm>
#include <cstdint>

#include "psalm/core/dtype.hpp"
#include "psalm/tensor/executor.hpp"
#include "psalm/tensor/matmul.hpp"

namespace psalm {

template <>
struct Executor<cpu> {
  static int max_threads() { return 1; }

  template <class F>
  static void parallel_for(std::int64_t n, std::int64_t /*grain*/, const F& f) {
    if (n > 0) f(std::int64_t{0}, n);
  }

  template <KernelBody Body>
  static void launch(std::int64_t n, const Body& body, std::int64_t /*grain*/ = 0) {
    for (std::int64_t i = 0; i < n; ++i) body(i);
  }
};

template <>
struct Gemm<cpu> {
  /// C[b] = alpha op(A[b]) op(B[b]) + beta C[b], accumulated in double.
  template <class T>
  static void run(const GemmProblem<T>& p) {
    using Out = typename GemmProblem<T>::Out;
    for (std::int64_t b = 0; b < p.batch; ++b) {
      const T* a = p.a + b * p.stride_a;
      const T* bb = p.b + b * p.stride_b;
      Out* c = p.c + b * p.stride_c;
      for (std::int64_t i = 0; i < p.m; ++i)
        for (std::int64_t j = 0; j < p.n; ++j) {
          double acc = 0;
          for (std::int64_t q = 0; q < p.k; ++q) {
            const double av = convert<double>(p.trans_a ? a[q * p.lda + i] : a[i * p.lda + q]);
            const double bv = convert<double>(p.trans_b ? bb[j * p.ldb + q] : bb[q * p.ldb + j]);
            acc += av * bv;
          }
          Out& out = c[i * p.ldc + j];
          const double prev = p.beta == 0.0 ? 0.0 : p.beta * convert<double>(out);
          out = convert<Out>(p.alpha * acc + prev);
        }
    }
  }
};

}  // namespace psalm
