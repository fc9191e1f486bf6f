// psalm/tensor/matmul.hpp — matrix products: C = alpha * op(A) @ op(B) + beta * C, single or
// batched, for the three layouts a backward pass needs (NN, NT, TN; TT too). Shapes and
// layouts are checked and lowered here to one GemmProblem; Gemm<Dev> (a library GEMM:
// backend/cpu/gemm.hpp, backend/cuda/gemm.cuh) computes it. Transposed views are passed to
// the library as transposes, not copied. bf16 operands accumulate and return in float. A
// PackedOperand slot lets a backend keep a constant B (a weight) in its preferred layout.
// Depends on: tensor/tensor, tensor/assign. Test: tests/tensor/test_matmul.cpp.
#pragma once

#include <any>
#include <cstdint>
#include <mutex>
#include <type_traits>
#include <vector>

#include "psalm/tensor/assign.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm {

/// A slot kept next to a constant operand (a layer's weight) in which a backend may keep that
/// operand re-laid out for its fastest kernel (the CPU backend: oneDNN's blocked bf16 weights),
/// so the re-layout happens once instead of at every product. Pass the same slot with the same
/// B each time (MatmulOptions::packed_b). The copy is rebuilt when B's data pointer, geometry
/// or a sampled fingerprint of its values changes; call invalidate() after changing a few of
/// B's values in place. Copies of a slot start empty. Thread-safe.
class PackedOperand {
 public:
  PackedOperand() = default;
  PackedOperand(const PackedOperand&) {}
  PackedOperand& operator=(const PackedOperand&) {
    invalidate();
    return *this;
  }

  /// Drops the backend's copy: the next product re-lays B out.
  void invalidate() {
    const std::lock_guard<std::mutex> lock(mutex_);
    state_.reset();
  }
  /// True when a backend holds a copy.
  bool holds_copy() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return state_.has_value();
  }
  /// The backend's state under the slot's lock: f(std::any&).
  template <class F>
  decltype(auto) with_state(F&& f) {
    const std::lock_guard<std::mutex> lock(mutex_);
    return f(state_);
  }

 private:
  mutable std::mutex mutex_;
  std::any state_;
};

/// Options of matmul(): transpose flags apply to the last two axes of each operand.
struct MatmulOptions {
  bool transpose_a = false;
  bool transpose_b = false;
  double alpha = 1.0;
  double beta = 0.0;  ///< only with matmul_into: C = alpha A B + beta C
  /// B is constant across calls (a weight, 2-D): the backend may keep it re-laid out here.
  PackedOperand* packed_b = nullptr;
};

/// Element type of a product: float for f32 and bf16 operands, double for f64.
template <class T>
using matmul_result_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

/// One batched GEMM in row-major terms: for b < batch,
/// C[b] (m x n) = alpha * op(A[b]) (m x k) * op(B[b]) (k x n) + beta * C[b].
/// op(X) is X or its transpose; ld* are the row strides of the stored matrices and
/// stride_* the batch strides (0 broadcasts one matrix over the batch).
template <class T>
struct GemmProblem {
  using Out = matmul_result_t<T>;
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  const T* a = nullptr;
  std::int64_t lda = 0, stride_a = 0;
  bool trans_a = false;
  const T* b = nullptr;
  std::int64_t ldb = 0, stride_b = 0;
  bool trans_b = false;
  Out* c = nullptr;
  std::int64_t ldc = 0, stride_c = 0;
  double alpha = 1.0, beta = 0.0;
  PackedOperand* packed_b = nullptr;  ///< B is constant: a backend may keep it re-laid out here
};

/// Gemm<Dev>::run(const GemmProblem<T>&) for T in {float, double, bf16}: specialised per device.
template <Device Dev>
struct Gemm;

namespace detail {

/// The last two axes of `x` as a matrix the library can read: row-major with a row stride, or
/// column-major (read as a transpose). Copies only when neither holds.
template <Scalar T, Device Dev>
struct MatrixOperand {
  Tensor<T, Dev> keep;  // holds the storage (the input itself or a contiguous copy)
  std::int64_t ld = 0;
  bool transposed = false;  // stored as the transpose of the logical matrix

  static MatrixOperand from(const Tensor<T, Dev>& x) {
    const int r = x.rank();
    const std::int64_t rows = x.shape()[r - 2], cols = x.shape()[r - 1];
    const std::int64_t s_row = x.strides()[r - 2], s_col = x.strides()[r - 1];
    if ((s_col == 1 || cols == 1) && s_row >= std::max<std::int64_t>(cols, 1))
      return {x, s_row, false};
    if ((s_row == 1 || rows == 1) && s_col >= std::max<std::int64_t>(rows, 1))
      return {x, s_col, true};
    const Tensor<T, Dev> c = x.contiguous();
    return {c, std::max<std::int64_t>(cols, 1), false};
  }
};

/// Batch stride of the axes before the last two, when they collapse into one; else -1.
inline std::int64_t uniform_batch_stride(const Shape& s, const Dims& strides, int batch_axes) {
  std::int64_t stride = -1, expected = -1;
  for (int d = batch_axes - 1; d >= 0; --d) {
    if (s[d] == 1) continue;
    if (stride < 0) {
      stride = strides[d];
      expected = strides[d] * s[d];
    } else {
      if (strides[d] != expected) return -1;
      expected *= s[d];
    }
  }
  return stride < 0 ? 0 : stride;
}

}  // namespace detail

/// C = alpha op(A) op(B) + beta C into an existing C of the result shape (last axis stride 1).
template <Scalar T, Device Dev>
void matmul_into(Tensor<matmul_result_t<T>, Dev>& c, const Tensor<T, Dev>& a,
                 const Tensor<T, Dev>& b, const MatmulOptions& opt = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16>,
                "matmul: operands must be float, double or bf16");
  PSALM_CHECK(a.rank() >= 2 && b.rank() >= 2, "matmul: operands need at least 2 axes, got ",
              a.shape(), " and ", b.shape());
  const int ra = a.rank(), rb = b.rank();
  const std::int64_t m = opt.transpose_a ? a.shape()[ra - 1] : a.shape()[ra - 2];
  const std::int64_t k = opt.transpose_a ? a.shape()[ra - 2] : a.shape()[ra - 1];
  const std::int64_t kb = opt.transpose_b ? b.shape()[rb - 1] : b.shape()[rb - 2];
  const std::int64_t n = opt.transpose_b ? b.shape()[rb - 2] : b.shape()[rb - 1];
  PSALM_CHECK(k == kb, "matmul: inner dimensions differ: A ", a.shape(),
              (opt.transpose_a ? " (transposed)" : ""), " has k = ", k, ", B ", b.shape(),
              (opt.transpose_b ? " (transposed)" : ""), " has k = ", kb);
  // Batch axes: equal, or one operand without batch axes (broadcast over the other's).
  const Shape& batch_src = ra >= rb ? a.shape() : b.shape();
  std::vector<std::int64_t> out_extents(batch_src.dims().v.begin(),
                                        batch_src.dims().v.begin() + std::max(ra, rb) - 2);
  if (ra > 2 && rb > 2) {
    PSALM_CHECK(
        ra == rb && std::equal(a.shape().dims().v.begin(), a.shape().dims().v.begin() + ra - 2,
                               b.shape().dims().v.begin()),
        "matmul: batch axes of ", a.shape(), " and ", b.shape(),
        " must be equal (or one operand 2-D)");
  }
  out_extents.push_back(m);
  out_extents.push_back(n);
  const Shape out_shape{std::span<const std::int64_t>(out_extents)};
  PSALM_CHECK(c.shape() == out_shape, "matmul: output has shape ", c.shape(), ", expected ",
              out_shape);
  PSALM_CHECK(c.rank() < 2 || c.strides()[c.rank() - 1] == 1 || n == 1,
              "matmul: the output's last axis must have stride 1");
  std::int64_t batch = 1;
  for (std::size_t d = 0; d + 2 < out_extents.size(); ++d) batch *= out_extents[d];
  if (c.numel() == 0) return;

  auto prepare = [&](const Tensor<T, Dev>& x, std::int64_t& batch_stride) {
    Tensor<T, Dev> src = x;
    if (x.rank() > 2) {
      batch_stride = detail::uniform_batch_stride(x.shape(), x.strides(), x.rank() - 2);
      if (batch_stride < 0) {
        src = x.contiguous();
        batch_stride = src.shape()[src.rank() - 1] * src.shape()[src.rank() - 2];
      }
    } else {
      batch_stride = 0;
    }
    return detail::MatrixOperand<T, Dev>::from(src);
  };
  GemmProblem<T> p;
  auto oa = prepare(a, p.stride_a);
  auto ob = prepare(b, p.stride_b);
  if (oa.keep.data() != a.data() || oa.keep.strides() != a.strides()) {
    if (a.rank() > 2) p.stride_a = m * k;
  }
  if (ob.keep.data() != b.data() || ob.keep.strides() != b.strides()) {
    if (b.rank() > 2) p.stride_b = k * n;
  }
  p.batch = batch;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = oa.keep.data();
  p.lda = oa.ld;
  p.trans_a = opt.transpose_a != oa.transposed;
  p.b = ob.keep.data();
  p.ldb = ob.ld;
  p.trans_b = opt.transpose_b != ob.transposed;
  p.c = c.data();
  const int rc = c.rank();
  p.ldc = rc >= 2 ? std::max<std::int64_t>(c.strides()[rc - 2], n) : n;
  p.stride_c = batch > 1 ? detail::uniform_batch_stride(c.shape(), c.strides(), rc - 2) : 0;
  PSALM_CHECK(p.stride_c >= 0, "matmul: the output's batch axes must collapse into one stride");
  p.alpha = opt.alpha;
  p.beta = opt.beta;
  p.packed_b = opt.packed_b;
  Gemm<Dev>::run(p);
}

/// alpha * op(A) @ op(B) as a new tensor of shape (batch..., m, n).
template <Scalar T, Device Dev>
Tensor<matmul_result_t<T>, Dev> matmul(const Tensor<T, Dev>& a, const Tensor<T, Dev>& b,
                                       MatmulOptions opt = {}) {
  PSALM_CHECK(a.rank() >= 2 && b.rank() >= 2, "matmul: operands need at least 2 axes, got ",
              a.shape(), " and ", b.shape());
  std::vector<std::int64_t> ext;
  const Tensor<T, Dev>& longer = a.rank() >= b.rank() ? a : b;
  for (int d = 0; d + 2 < longer.rank(); ++d) ext.push_back(longer.shape()[d]);
  ext.push_back(opt.transpose_a ? a.shape()[a.rank() - 1] : a.shape()[a.rank() - 2]);
  ext.push_back(opt.transpose_b ? b.shape()[b.rank() - 2] : b.shape()[b.rank() - 1]);
  Tensor<matmul_result_t<T>, Dev> c{Shape(std::span<const std::int64_t>(ext))};
  opt.beta = 0.0;
  matmul_into(c, a, b, opt);
  return c;
}

}  // namespace psalm
