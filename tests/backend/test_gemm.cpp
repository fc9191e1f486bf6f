// Tests for psalm/backend/cpu/gemm.hpp: every engine (OpenBLAS, oneDNN, Eigen) agrees with a
// naive double-precision product on all transpose layouts, batches, broadcast operands,
// alpha / beta, and bf16 operands.
#include <catch2/catch.hpp>

#include "psalm/tensor.hpp"
#include "support/tolerances.hpp"

using namespace psalm;

namespace {

template <class T>
std::vector<double> naive(const GemmProblem<T>& p, const std::vector<double>& c0) {
  std::vector<double> c = c0;
  for (std::int64_t b = 0; b < p.batch; ++b)
    for (std::int64_t i = 0; i < p.m; ++i)
      for (std::int64_t j = 0; j < p.n; ++j) {
        double acc = 0;
        for (std::int64_t q = 0; q < p.k; ++q) {
          const T av = p.trans_a ? p.a[b * p.stride_a + q * p.lda + i] : p.a[b * p.stride_a + i * p.lda + q];
          const T bv = p.trans_b ? p.b[b * p.stride_b + j * p.ldb + q] : p.b[b * p.stride_b + q * p.ldb + j];
          acc += convert<double>(av) * convert<double>(bv);
        }
        double& out = c[b * p.stride_c + i * p.ldc + j];
        out = p.alpha * acc + p.beta * out;
      }
  return c;
}

template <class T>
void check_engine(CpuGemmEngine engine, double rtol) {
  using Out = matmul_result_t<T>;
  const std::int64_t batch = 3, m = 13, n = 7, k = 19;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool broadcast_b : {false, true}) {
        INFO("trans_a " << ta << " trans_b " << tb << " broadcast_b " << broadcast_b);
        const Tensor<T> a = cast<T>(Tensor<float>::randn({batch, ta ? k : m, ta ? m : k}, 1));
        const Tensor<T> b = cast<T>(Tensor<float>::randn({broadcast_b ? 1 : batch, tb ? n : k, tb ? k : n}, 2));
        Tensor<Out> c = cast<Out>(Tensor<float>::randn({batch, m, n}, 3));
        GemmProblem<T> p;
        p.batch = batch;
        p.m = m;
        p.n = n;
        p.k = k;
        p.a = a.data();
        p.lda = a.size(2);
        p.stride_a = a.size(1) * a.size(2);
        p.trans_a = ta;
        p.b = b.data();
        p.ldb = b.size(2);
        p.stride_b = broadcast_b ? 0 : b.size(1) * b.size(2);
        p.trans_b = tb;
        p.c = c.data();
        p.ldc = n;
        p.stride_c = m * n;
        p.alpha = 0.5;
        p.beta = 2.0;
        std::vector<double> c0;
        for (Out v : c.to_vector()) c0.push_back(v);
        const std::vector<double> want = naive(p, c0);
        cpu_backend::gemm(p, engine);
        const std::vector<Out> got = c.to_vector();
        for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).epsilon(rtol).margin(rtol));
      }
}

}  // namespace

TEST_CASE("OpenBLAS engine: f32 and f64 on every layout", "[backend][gemm]") {
  check_engine<float>(CpuGemmEngine::openblas, 1e-5);
  check_engine<double>(CpuGemmEngine::openblas, 1e-12);
}

TEST_CASE("oneDNN engine: f32 on every layout", "[backend][gemm]") {
  check_engine<float>(CpuGemmEngine::onednn, 1e-5);
}

TEST_CASE("Eigen engine: f32, f64 and bf16 on every layout", "[backend][gemm]") {
  check_engine<float>(CpuGemmEngine::eigen, 1e-5);
  check_engine<double>(CpuGemmEngine::eigen, 1e-12);
  check_engine<bf16>(CpuGemmEngine::eigen, 1e-5);  // bf16 inputs are exact in float
}

TEST_CASE("bf16 GEMM: exact-in-float products agree on every engine this CPU has", "[backend][gemm]") {
  check_engine<bf16>(CpuGemmEngine::openblas, 1e-5);  // widened to f32: exact operands
  check_engine<bf16>(CpuGemmEngine::automatic, 1e-5);
  if (cpu_backend::onednn_has_bf16()) {
    check_engine<bf16>(CpuGemmEngine::onednn, 1e-5);
  } else {
    REQUIRE_THROWS_WITH(check_engine<bf16>(CpuGemmEngine::onednn, 1e-5), Catch::Contains("no bf16 matmul"));
    WARN("this CPU has no bf16 matmul kernels in oneDNN; bf16 runs through f32 conversion");
  }
}
