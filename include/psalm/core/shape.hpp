// psalm/core/shape.hpp — tensor shapes and strides: rank 0..6, int64 extents, overflow-checked
// element counts. Shape is trivially copyable, so kernels receive it by value on any device.
// Depends on: std, core/error. Test: tests/core/test_shape.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>

#include "psalm/core/error.hpp"
#include "psalm/core/macros.hpp"

namespace psalm {

inline constexpr int kMaxRank = 6;

/// An array of up to kMaxRank int64 values: used for extents, strides and coordinates.
struct Dims {
  std::array<std::int64_t, kMaxRank> v{};
  int rank = 0;

  PSALM_HD std::int64_t operator[](int i) const { return v[i]; }
  PSALM_HD std::int64_t& operator[](int i) { return v[i]; }
  PSALM_HD int size() const { return rank; }
  friend PSALM_HD bool operator==(const Dims& a, const Dims& b) {
    if (a.rank != b.rank) return false;
    for (int i = 0; i < a.rank; ++i)
      if (a.v[i] != b.v[i]) return false;
    return true;
  }
};

namespace checked {

/// a * b, throwing psalm::Error on int64 overflow or negative operands.
inline std::int64_t mul(std::int64_t a, std::int64_t b, const char* what = "size") {
  std::int64_t out = 0;
  PSALM_CHECK(a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, &out), what,
              " overflows int64: ", a, " * ", b);
  return out;
}

/// a + b, throwing psalm::Error on int64 overflow.
inline std::int64_t add(std::int64_t a, std::int64_t b, const char* what = "size") {
  std::int64_t out = 0;
  PSALM_CHECK(!__builtin_add_overflow(a, b, &out), what, " overflows int64: ", a, " + ", b);
  return out;
}

}  // namespace checked

/// The extents of a tensor. Every extent is >= 0 and the element count fits in int64.
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> extents) { assign(extents.begin(), extents.size()); }
  explicit Shape(std::span<const std::int64_t> extents) { assign(extents.data(), extents.size()); }
  explicit Shape(const Dims& d) { assign(d.v.data(), static_cast<std::size_t>(d.rank)); }

  PSALM_HD int rank() const { return dims_.rank; }
  PSALM_HD std::int64_t operator[](int axis) const { return dims_.v[axis]; }
  PSALM_HD const Dims& dims() const { return dims_; }
  PSALM_HD std::int64_t numel() const { return numel_; }

  /// Extent of `axis`, where negative axes count from the end (-1 is the last).
  std::int64_t size(int axis) const { return dims_.v[normalize_axis(axis)]; }

  /// Maps a possibly negative axis into [0, rank), or throws naming the shape.
  int normalize_axis(int axis) const {
    const int r = rank();
    PSALM_CHECK(axis >= -r && axis < r, "axis ", axis, " is out of range for shape ", to_string());
    return axis < 0 ? axis + r : axis;
  }

  /// Row-major (C order) strides, in elements.
  Dims contiguous_strides() const {
    Dims s;
    s.rank = rank();
    std::int64_t step = 1;
    for (int i = rank() - 1; i >= 0; --i) {
      s.v[i] = step;
      step *= dims_.v[i] == 0 ? 1 : dims_.v[i];
    }
    return s;
  }

  std::string to_string() const {
    std::string out = "(";
    for (int i = 0; i < rank(); ++i) {
      if (i) out += ", ";
      out += std::to_string(dims_.v[i]);
    }
    if (rank() == 1) out += ",";
    return out + ")";
  }

  friend bool operator==(const Shape& a, const Shape& b) { return a.dims_ == b.dims_; }
  friend std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.to_string(); }

 private:
  void assign(const std::int64_t* extents, std::size_t n) {
    PSALM_CHECK(n <= static_cast<std::size_t>(kMaxRank), "rank ", n,
                " exceeds the maximum rank of ", kMaxRank);
    dims_.rank = static_cast<int>(n);
    numel_ = 1;
    for (std::size_t i = 0; i < n; ++i) {
      PSALM_CHECK(extents[i] >= 0, "negative extent ", extents[i], " at axis ", i);
      dims_.v[i] = extents[i];
      numel_ = checked::mul(numel_, extents[i], "element count");
    }
  }

  Dims dims_{};
  std::int64_t numel_ = 1;
};

/// NumPy broadcasting of two shapes; throws psalm::Error naming both when incompatible.
inline Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const int r = a.rank() > b.rank() ? a.rank() : b.rank();
  std::array<std::int64_t, kMaxRank> out{};
  for (int i = 0; i < r; ++i) {
    const int ia = a.rank() - r + i, ib = b.rank() - r + i;
    const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    PSALM_CHECK(da == db || da == 1 || db == 1, "shapes ", a, " and ", b,
                " cannot be broadcast together (axis ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return Shape(std::span<const std::int64_t>(out.data(), static_cast<std::size_t>(r)));
}

}  // namespace psalm
