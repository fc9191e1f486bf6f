// Tests for psalm/backend/cpu/gemm.hpp: every engine (OpenBLAS, oneDNN, Eigen) agrees with a
// naive double-precision product on all transpose layouts, batches, broadcast operands,
// alpha / beta, and bf16 operands; oneDNN's reference kernels are refused, bf16 products get
// its brgemm kernel where the CPU has one, and a PackedOperand slot follows B's changes.
#include <catch2/catch.hpp>

#include "psalm/tensor.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

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
          const T av =
              p.trans_a ? p.a[b * p.stride_a + q * p.lda + i] : p.a[b * p.stride_a + i * p.lda + q];
          const T bv =
              p.trans_b ? p.b[b * p.stride_b + j * p.ldb + q] : p.b[b * p.stride_b + q * p.ldb + j];
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
        const Tensor<T> b =
            cast<T>(Tensor<float>::randn({broadcast_b ? 1 : batch, tb ? n : k, tb ? k : n}, 2));
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
        for (std::size_t i = 0; i < got.size(); ++i)
          REQUIRE(got[i] == Approx(want[i]).epsilon(rtol).margin(rtol));
      }
}

}  // namespace

TEST_CASE("OpenBLAS engine: f32 and f64 on every layout", "[backend][gemm]") {
  check_engine<float>(CpuGemmEngine::openblas, tol::f32_sum_rtol);
  check_engine<double>(CpuGemmEngine::openblas, tol::f64_rtol);
}

TEST_CASE("oneDNN engine: f32 on every layout", "[backend][gemm]") {
  check_engine<float>(CpuGemmEngine::onednn, tol::f32_sum_rtol);
}

TEST_CASE("Eigen engine: f32, f64 and bf16 on every layout", "[backend][gemm]") {
  check_engine<float>(CpuGemmEngine::eigen, tol::f32_sum_rtol);
  check_engine<double>(CpuGemmEngine::eigen, tol::f64_rtol);
  check_engine<bf16>(CpuGemmEngine::eigen, tol::f32_sum_rtol);  // bf16 inputs are exact in float
}

TEST_CASE("bf16 GEMM: exact-in-float products agree on every engine this CPU has",
          "[backend][gemm]") {
  check_engine<bf16>(CpuGemmEngine::openblas, tol::f32_sum_rtol);  // widened to f32: exact operands
  check_engine<bf16>(CpuGemmEngine::automatic, tol::f32_sum_rtol);
  if (cpu_backend::onednn_has_bf16()) {
    check_engine<bf16>(CpuGemmEngine::onednn, tol::f32_sum_rtol);
  } else {
    REQUIRE_THROWS_WITH(check_engine<bf16>(CpuGemmEngine::onednn, tol::f32_sum_rtol),
                        Catch::Contains("no bf16 matmul"));
    WARN("this CPU has no bf16 matmul kernels in oneDNN; bf16 runs through f32 conversion");
  }
}

TEST_CASE("gemm: oneDNN reference kernels are refused, the product still runs", "[backend][gemm]") {
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
    REQUIRE(got[i] ==
            Approx(want[i]).epsilon(testing::tol::f32_sum_rtol).margin(testing::tol::f32_sum_atol));
}

TEST_CASE("gemm: plain layouts get a fast oneDNN kernel", "[backend][gemm]") {
  GemmProblem<float> p;
  const Tensor<float> a = Tensor<float>::randn({2, 32, 64}, 1),
                      b = Tensor<float>::randn({2, 64, 48}, 2);
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

TEST_CASE("gemm: single f32 products leave OpenBLAS when it runs generic kernels",
          "[backend][gemm]") {
  const std::string core = openblas_get_corename();
  INFO("OpenBLAS core " << core);
  // The decision follows the core OpenBLAS reports (Prescott etc. on an AVX2 CPU: generic).
  if (core == "Haswell" || core == "SkylakeX" || core == "Zen" || core == "Cooperlake" ||
      core == "SapphireRapids")
    CHECK_FALSE(cpu_backend::openblas_kernels_generic());
  if (core == "Prescott" && __builtin_cpu_supports("avx2"))
    CHECK(cpu_backend::openblas_kernels_generic());
  GemmProblem<float> p;
  const Tensor<float> a = Tensor<float>::randn({64, 96}, 3), b = Tensor<float>::randn({96, 80}, 4);
  Tensor<float> c = Tensor<float>::zeros({64, 80});
  p.m = 64;
  p.n = 80;
  p.k = 96;
  p.a = a.data();
  p.lda = 96;
  p.b = b.data();
  p.ldb = 80;
  p.c = c.data();
  p.ldc = 80;
  const std::string impl = cpu_backend::gemm_implementation(p, CpuGemmEngine::automatic);
  INFO(impl);
  CHECK(impl.starts_with(cpu_backend::openblas_kernels_generic() ? "onednn" : "openblas"));
  // Either way the product is right.
  cpu_backend::gemm(p);
  const std::vector<double> want = naive(p, std::vector<double>(64 * 80, 0.0));
  const std::vector<float> got = c.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i)
    REQUIRE(got[i] ==
            Approx(want[i]).epsilon(testing::tol::f32_sum_rtol).margin(testing::tol::f32_sum_atol));
}

namespace {

/// A row-major (m, k) x (n, k)^T bf16 problem over the given buffers (a Linear's layout), with
/// `pad` extra elements at the end of every row of A.
GemmProblem<bf16> linear_problem(const Tensor<bf16>& a, const Tensor<bf16>& w, Tensor<float>& c,
                                 std::int64_t pad = 0) {
  GemmProblem<bf16> p;
  p.m = a.size(0);
  p.k = a.size(1) - pad;
  p.n = w.size(0);
  p.a = a.data();
  p.lda = a.size(1);
  p.b = w.data();
  p.ldb = w.size(1);
  p.trans_b = true;
  p.c = c.data();
  p.ldc = p.n;
  return p;
}

void require_matches_naive(const GemmProblem<bf16>& p, const Tensor<float>& c) {
  const std::vector<double> want =
      naive(p, std::vector<double>(static_cast<std::size_t>(c.numel()), 0.0));
  const std::vector<float> got = c.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i)
    REQUIRE(got[i] ==
            Approx(want[i]).epsilon(testing::tol::f32_sum_rtol).margin(testing::tol::f32_sum_atol));
}

}  // namespace

TEST_CASE("gemm: bf16 products get oneDNN's brgemm kernel where the CPU has bf16 kernels",
          "[backend][gemm]") {
  if (!cpu_backend::onednn_has_bf16()) {
    WARN("this CPU has no bf16 matmul kernels in oneDNN: bf16 runs widened to f32");
    const Tensor<bf16> a = cast<bf16>(Tensor<float>::randn({32, 64}, 1));
    const Tensor<bf16> w = cast<bf16>(Tensor<float>::randn({48, 64}, 2));
    Tensor<float> c = Tensor<float>::zeros({32, 48});
    const GemmProblem<bf16> p = linear_problem(a, w, c);
    CHECK(cpu_backend::gemm_implementation(p).starts_with("bf16 widened to f32, then "));
    cpu_backend::gemm(p);
    require_matches_naive(p, c);
    return;
  }
  // 2-D products as matmul() describes them (batch 1, batch stride 0): every layout.
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      INFO("trans_a " << ta << " trans_b " << tb);
      const Tensor<bf16> a =
          cast<bf16>(Tensor<float>::randn(ta ? Shape{64, 32} : Shape{32, 64}, 1));
      const Tensor<bf16> b =
          cast<bf16>(Tensor<float>::randn(tb ? Shape{48, 64} : Shape{64, 48}, 2));
      Tensor<float> c = Tensor<float>::zeros({32, 48});
      matmul_into(c, a, b, {.transpose_a = ta, .transpose_b = tb});
      GemmProblem<bf16> p;
      p.m = 32;
      p.n = 48;
      p.k = 64;
      p.a = a.data();
      p.lda = a.size(1);
      p.trans_a = ta;
      p.b = b.data();
      p.ldb = b.size(1);
      p.trans_b = tb;
      p.c = c.data();
      p.ldc = 48;
      const std::string impl = cpu_backend::gemm_implementation(p);
      CHECK(impl.starts_with("onednn brg"));
      CHECK(impl.find("ref") == std::string::npos);
      require_matches_naive(p, c);
    }
  // Padded rows: compacted first, so oneDNN still picks brgemm (gemm:jit otherwise).
  const Tensor<bf16> a = cast<bf16>(Tensor<float>::randn({32, 64 + 8}, 3));
  const Tensor<bf16> w = cast<bf16>(Tensor<float>::randn({48, 64}, 4));
  Tensor<float> c = Tensor<float>::zeros({32, 48});
  const GemmProblem<bf16> p = linear_problem(a, w, c, 8);
  const std::string impl = cpu_backend::gemm_implementation(p);
  CHECK(impl.starts_with("onednn brg"));
  CHECK(impl.find("compacted") != std::string::npos);
  cpu_backend::gemm(p);
  require_matches_naive(p, c);
}

TEST_CASE("gemm: a PackedOperand slot keeps B reordered once and follows B's changes",
          "[backend][gemm]") {
  Tensor<bf16> a = cast<bf16>(Tensor<float>::randn({40, 64}, 1));
  Tensor<bf16> w = cast<bf16>(Tensor<float>::randn({80, 64}, 2));
  Tensor<float> c = Tensor<float>::zeros({40, 80});
  PackedOperand slot;
  GemmProblem<bf16> p = linear_problem(a, w, c);
  p.packed_b = &slot;
  cpu_backend::gemm(p);
  require_matches_naive(p, c);
  const bool packs = cpu_backend::onednn_has_bf16() &&
                     cpu_backend::onednn_matmul(p, true) != nullptr &&
                     cpu_backend::onednn_matmul(p, true)->packed_b;
  CHECK(slot.holds_copy() == packs);
  if (!packs) WARN("oneDNN keeps this B in its stored layout here: nothing to pack");
  // The same B again: the copy is reused (and still right).
  c.fill(0.0f);
  cpu_backend::gemm(p);
  require_matches_naive(p, c);
  // B rewritten in place (as loading weights does): the fingerprint sees it.
  w.assign(cast<bf16>(Tensor<float>::randn({80, 64}, 7)));
  c.fill(0.0f);
  cpu_backend::gemm(p);
  require_matches_naive(p, c);
  // One element changed: invalidate() makes the next product reorder again.
  w.data()[5] = bf16(100.0f);
  slot.invalidate();
  CHECK_FALSE(slot.holds_copy());
  c.fill(0.0f);
  cpu_backend::gemm(p);
  require_matches_naive(p, c);
  // Another B through the same slot (a different pointer): its own copy.
  const Tensor<bf16> w2 = cast<bf16>(Tensor<float>::randn({80, 64}, 8));
  GemmProblem<bf16> p2 = linear_problem(a, w2, c);
  p2.packed_b = &slot;
  c.fill(0.0f);
  cpu_backend::gemm(p2);
  require_matches_naive(p2, c);
  // Through matmul: the option reaches the backend.
  PackedOperand slot2;
  const Tensor<float> y = matmul(a, w, {.transpose_b = true, .packed_b = &slot2});
  const Tensor<float> y_plain = matmul(a, w, {.transpose_b = true});
  CHECK(slot2.holds_copy() == packs);
  const std::vector<float> got = y.to_vector(), want = y_plain.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i)
    REQUIRE(got[i] ==
            Approx(want[i]).epsilon(testing::tol::f32_sum_rtol).margin(testing::tol::f32_sum_atol));
  // A copied slot starts empty.
  const PackedOperand copy = slot2;
  CHECK_FALSE(copy.holds_copy());
}
