// Tests for psalm/backend/cpu/gemv.hpp: the one-row (m == 1) and one-column (n == 1) kernels
// of every instruction set this CPU runs (AVX-512, AVX2, portable C++) agree with a naive
// double-precision product for f32 and bf16 on every layout, batches, broadcast operands,
// vector tails, alpha / beta; and the automatic engine routes one-row products to them.
#include <catch2/catch.hpp>

#include <cmath>

#include "psalm/tensor.hpp"
#include "support/tolerances.hpp"

using namespace psalm;
using cpu_backend::CpuIsa;

namespace {

/// The product in double, and in `scale` each output's sum of |products| (|alpha| times, plus
/// |beta c|): float accumulation is exact to about k * 2^-24 of it.
template <class T>
std::vector<double> naive(const GemmProblem<T>& p, const std::vector<double>& c0,
                          std::vector<double>& scale) {
  std::vector<double> c = c0;
  scale.assign(c0.size(), 0.0);
  for (std::int64_t b = 0; b < p.batch; ++b)
    for (std::int64_t i = 0; i < p.m; ++i)
      for (std::int64_t j = 0; j < p.n; ++j) {
        double acc = 0, magnitude = 0;
        for (std::int64_t q = 0; q < p.k; ++q) {
          const T av =
              p.trans_a ? p.a[b * p.stride_a + q * p.lda + i] : p.a[b * p.stride_a + i * p.lda + q];
          const T bv =
              p.trans_b ? p.b[b * p.stride_b + j * p.ldb + q] : p.b[b * p.stride_b + q * p.ldb + j];
          acc += convert<double>(av) * convert<double>(bv);
          magnitude += std::abs(convert<double>(av) * convert<double>(bv));
        }
        const auto at = static_cast<std::size_t>(b * p.stride_c + i * p.ldc + j);
        scale[at] = std::abs(p.alpha) * magnitude + std::abs(p.beta * c[at]);
        c[at] = p.alpha * acc + p.beta * c[at];
      }
  return c;
}

struct Layout {
  std::int64_t batch, m, n, k;
  bool trans_a, trans_b, broadcast_b;
  std::int64_t pad;  // extra elements at the end of every stored row (padded leading dimension)
};

/// Builds the problem of `l` over fresh random operands, runs `run(p)`, checks against naive().
template <class T, class Run>
void check_layout(const Layout& l, double alpha, double beta, const Run& run) {
  INFO("batch " << l.batch << " m " << l.m << " n " << l.n << " k " << l.k << " trans_a "
                << l.trans_a << " trans_b " << l.trans_b << " broadcast_b " << l.broadcast_b
                << " pad " << l.pad << " alpha " << alpha << " beta " << beta);
  const std::int64_t a_rows = l.trans_a ? l.k : l.m, a_cols = (l.trans_a ? l.m : l.k) + l.pad;
  const std::int64_t b_rows = l.trans_b ? l.n : l.k, b_cols = (l.trans_b ? l.k : l.n) + l.pad;
  const std::int64_t b_items = l.broadcast_b ? 1 : l.batch;
  const Tensor<T> a = cast<T>(Tensor<float>::randn({l.batch, a_rows, a_cols}, 11));
  const Tensor<T> b = cast<T>(Tensor<float>::randn({b_items, b_rows, b_cols}, 12));
  const std::int64_t ldc = l.n + l.pad;
  Tensor<float> c = Tensor<float>::randn({l.batch, l.m, ldc}, 13);
  GemmProblem<T> p;
  p.batch = l.batch;
  p.m = l.m;
  p.n = l.n;
  p.k = l.k;
  p.a = a.data();
  p.lda = a_cols;
  p.stride_a = a_rows * a_cols;
  p.trans_a = l.trans_a;
  p.b = b.data();
  p.ldb = b_cols;
  p.stride_b = l.broadcast_b ? 0 : b_rows * b_cols;
  p.trans_b = l.trans_b;
  p.c = c.data();
  p.ldc = ldc;
  p.stride_c = l.m * ldc;
  p.alpha = alpha;
  p.beta = beta;
  std::vector<double> c0;
  for (float v : c.to_vector()) c0.push_back(v);
  std::vector<double> scale;
  const std::vector<double> want = naive(p, c0, scale);
  run(p);
  const std::vector<float> got = c.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    // bf16 operands are exact in float: both element types accumulate f32 products in f32, so
    // the error is rounding relative to the sum of |products| (a wrong element is off by O(1)).
    REQUIRE(std::abs(got[i] - want[i]) <=
            testing::tol::f32_sum_rtol * scale[i] + testing::tol::f32_sum_atol);
  }
}

std::vector<Layout> gemv_layouts() {
  std::vector<Layout> out;
  for (std::int64_t k : {1, 7, 16, 37, 100})
    for (std::int64_t n : {1, 3, 17, 64})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) out.push_back({1, 1, n, k, ta, tb, false, 0});
  for (bool tb : {false, true}) {
    out.push_back({3, 1, 21, 35, false, tb, false, 0});  // batched (decode attention)
    out.push_back({3, 1, 21, 35, true, tb, true, 0});    // broadcast B
    out.push_back({2, 1, 33, 50, false, tb, false, 5});  // padded rows everywhere
  }
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      out.push_back({1, 13, 1, 29, ta, tb, false, 0});  // one column: C^T = op(B)^T op(A)^T
      out.push_back({2, 19, 1, 40, ta, tb, true, 3});
    }
  out.push_back({1, 1, 1, 300, false, false, false, 0});  // a dot product
  return out;
}

template <class T>
void check_isa(CpuIsa isa) {
  for (const Layout& l : gemv_layouts())
    for (const auto& [alpha, beta] : {std::pair{1.0, 0.0}, std::pair{0.5, 2.0}})
      check_layout<T>(l, alpha, beta, [&](const GemmProblem<T>& p) { cpu_backend::gemv(p, isa); });
}

}  // namespace

TEST_CASE("gemv: every kernel set this CPU runs matches a naive product", "[backend][gemv]") {
  for (CpuIsa isa : {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512}) {
    if (!cpu_backend::cpu_supports(isa)) {
      WARN("this CPU cannot run the " << cpu_backend::isa_name(isa) << " kernels: not tested");
      continue;
    }
    INFO("isa " << cpu_backend::isa_name(isa));
    check_isa<float>(isa);
    check_isa<bf16>(isa);
  }
}

TEST_CASE("gemv: long rows split over threads, large k", "[backend][gemv]") {
  // Enough outputs and k for the parallel split, with chunk boundaries off the vector width.
  for (CpuIsa isa : {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512}) {
    if (!cpu_backend::cpu_supports(isa)) continue;
    INFO("isa " << cpu_backend::isa_name(isa));
    for (bool tb : {false, true}) {
      check_layout<float>({1, 1, 1001, 517, false, tb, false, 0}, 1.0, 0.0,
                          [&](const GemmProblem<float>& p) { cpu_backend::gemv(p, isa); });
      check_layout<bf16>({1, 1, 1001, 517, false, tb, false, 0}, 1.0, 0.0,
                         [&](const GemmProblem<bf16>& p) { cpu_backend::gemv(p, isa); });
    }
  }
}

TEST_CASE("gemv: the automatic engine sends one-row and one-column products to it",
          "[backend][gemv]") {
  for (bool tb : {false, true}) {
    check_layout<float>({1, 1, 40, 64, false, tb, false, 0}, 1.0, 0.0,
                        [](const GemmProblem<float>& p) {
                          CHECK(cpu_backend::gemm_implementation(p).starts_with("gemv"));
                          cpu_backend::gemm(p);
                        });
    check_layout<bf16>({1, 1, 40, 64, false, tb, false, 0}, 1.0, 0.0,
                       [](const GemmProblem<bf16>& p) {
                         CHECK(cpu_backend::gemm_implementation(p).starts_with("gemv"));
                         cpu_backend::gemm(p);
                       });
    check_layout<float>({1, 40, 1, 64, false, tb, false, 0}, 1.0, 0.0,
                        [](const GemmProblem<float>& p) {
                          CHECK(cpu_backend::gemm_implementation(p).starts_with("gemv"));
                          cpu_backend::gemm(p);
                        });
  }
  // Through matmul: a (1, 64) row against a Linear-style (40, 64) weight.
  const Tensor<float> x = Tensor<float>::randn({1, 64}, 1), w = Tensor<float>::randn({40, 64}, 2);
  const Tensor<float> y = matmul(x, w, {.transpose_b = true});
  const Tensor<float> want =
      matmul(Tensor<float>(x.expand({2, 64}).contiguous()), w, {.transpose_b = true});
  const auto got = y.to_vector(), ref = want.narrow(0, 0, 1).contiguous().to_vector();
  for (std::size_t i = 0; i < got.size(); ++i)
    REQUIRE(got[i] ==
            Approx(ref[i]).epsilon(testing::tol::f32_sum_rtol).margin(testing::tol::f32_sum_atol));
}

TEST_CASE("gemv: bad requests are clear errors", "[backend][gemv]") {
  GemmProblem<float> p;
  p.m = 2;
  p.n = 2;
  p.k = 2;
  REQUIRE_THROWS_WITH(cpu_backend::gemv(p), Catch::Contains("m == 1 or n == 1"));
}
