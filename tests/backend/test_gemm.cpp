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

TEST_CASE("gemm: oneDNN reference kernels are refused, the product still runs",
          "[backend][gemm]") {
  // A transposed batched f32 product: oneDNN 2.6 offers only "ref:any" for it (12.8 s for a
  // (4, 128, 1100) x (4, 1100, 128) product), so the oneDNN engine must hand it to OpenBLAS.
  const std::int64_t batch = 4, m = 24, n = 16, k = 40;
  const Tensor<float> a = Tensor<float>::randn({batch, k, m}, 5);  // stored transposed
  const Tensor<float> b = Tensor<float>::randn({batch, k, n}, 6);
  Tensor<float> c = Tensor<float>::zeros({batch, m, n});
  GemmProblem<float> p;
  p.batch = batch;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = a.data();
  p.lda = m;
  p.stride_a = k * m;
  p.trans_a = true;
  p.b = b.data();
  p.ldb = n;
  p.stride_b = k * n;
  p.c = c.data();
  p.ldc = n;
  p.stride_c = m * n;
  const auto* mm = cpu_backend::onednn_matmul(p);
  if (mm != nullptr) CHECK_FALSE(mm->impl.starts_with("ref"));
  cpu_backend::gemm(p, CpuGemmEngine::onednn);
  const std::vector<double> want = naive(p, std::vector<double>(c.numel(), 0.0));
  const std::vector<float> got = c.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i)
    REQUIRE(got[i] == Approx(want[i]).epsilon(testing::tol::f32_sum_rtol).margin(testing::tol::f32_sum_atol));
}

TEST_CASE("gemm: plain layouts get a fast oneDNN kernel", "[backend][gemm]") {
  GemmProblem<float> p;
  const Tensor<float> a = Tensor<float>::randn({2, 32, 64}, 1), b = Tensor<float>::randn({2, 64, 48}, 2);
  Tensor<float> c = Tensor<float>::zeros({2, 32, 48});
  p.batch = 2;
  p.m = 32;
  p.n = 48;
  p.k = 64;
  p.a = a.data();
  p.lda = 64;
  p.stride_a = 32 * 64;
  p.b = b.data();
  p.ldb = 48;
  p.stride_b = 64 * 48;
  p.c = c.data();
  p.ldc = 48;
  p.stride_c = 32 * 48;
  const auto* mm = cpu_backend::onednn_matmul(p);
  REQUIRE(mm != nullptr);
  CHECK_FALSE(mm->impl.starts_with("ref"));
}
