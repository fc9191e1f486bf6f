// psalm/tensor/expr.hpp — expression templates for elementwise maths with NumPy broadcasting.
// `a * b + exp(c) - 2.0f` builds a small, trivially copyable tree of nodes; nothing is computed
// until the tree is assigned to a tensor (tensor/assign.hpp), which evaluates it in one pass
// on the destination's device. Nodes hold raw pointers: an expression must not outlive the
// tensors it reads. Scalars take the compute type of the tensor they meet (as in PyTorch, a
// Python-number scalar does not promote a float tensor to double).
// Depends on: core, kernels/elementwise, tensor/tensor. Test: tests/tensor/test_expr.cpp.
#pragma once

#include <concepts>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "psalm/core/dtype.hpp"
#include "psalm/core/shape.hpp"
#include "psalm/kernels/elementwise.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm {

/// The device of a scalar constant: it fits in an expression on any device.
struct AnyDevice {};

/// An expression node: trivially copyable, with a value type, a device and an evaluator.
template <class E>
concept Expression = requires {
  typename E::is_psalm_expression;
}
&&std::is_trivially_copyable_v<E>&& requires(const E& e) {
  typename E::value_type;
  typename E::device_type;
  { e.shape() } -> std::same_as<Shape>;
};

namespace detail {
template <class A, class B>
constexpr auto common_device() {
  if constexpr (std::is_same_v<A, AnyDevice>) {
    return B{};
  } else if constexpr (std::is_same_v<B, AnyDevice>) {
    return A{};
  } else {
    static_assert(std::is_same_v<A, B>,
                  "psalm: this expression mixes tensors on different devices (cpu and cuda); "
                  "move one of them with .to<Dev>() first");
    return A{};
  }
}
template <class A, class B>
using common_device_t = decltype(common_device<A, B>());

// Memory range [lo, hi) touched by a strided view, in bytes.
template <class T>
inline bool ranges_overlap(const T* data, const Dims& shape, const Dims& strides, const void* lo,
                           const void* hi) {
  std::int64_t min_off = 0, max_off = 0;
  for (int d = 0; d < shape.rank; ++d) {
    if (shape[d] == 0) return false;
    const std::int64_t span = (shape[d] - 1) * strides[d];
    (span < 0 ? min_off : max_off) += span;
  }
  const auto* begin = reinterpret_cast<const char*>(data + min_off);
  const auto* end = reinterpret_cast<const char*>(data + max_off + 1);
  return begin < static_cast<const char*>(hi) && static_cast<const char*>(lo) < end;
}
}  // namespace detail

/// Reads a tensor's elements (converted to their compute type) through its strides.
template <class T, class Dev>
struct ExprLeaf {
  using is_psalm_expression = void;
  using value_type = compute_type_t<T>;
  using device_type = Dev;

  const T* data;
  Dims extents;
  Dims strides;

  Shape shape() const { return Shape(extents); }
  /// Re-expresses the strides for an output of extents `out` (broadcast axes get stride 0).
  void bind(const Dims& out) {
    Dims s;
    s.rank = out.rank;
    const int lead = out.rank - extents.rank;
    for (int d = 0; d < out.rank; ++d) {
      const int src = d - lead;
      if (src < 0) {
        s[d] = 0;
        continue;
      }
      PSALM_CHECK(extents[src] == out[d] || extents[src] == 1, "cannot broadcast shape ",
                  Shape(extents), " to ", Shape(out));
      s[d] = extents[src] == out[d] ? strides[src] : 0;
    }
    strides = s;
    extents = out;
  }
  /// True when element i of the output is element i of this leaf (same shape, contiguous).
  bool dense() const {
    std::int64_t expected = 1;
    for (int d = extents.rank - 1; d >= 0; --d) {
      if (extents[d] != 1 && strides[d] != expected) return false;
      expected *= extents[d];
    }
    return true;
  }
  /// True when writing [lo, hi) while reading this leaf could read already-written elements.
  bool conflicts(const void* lo, const void* hi, const void* dst, const Dims& dst_strides) const {
    if (!detail::ranges_overlap(data, extents, strides, lo, hi)) return false;
    return !(static_cast<const void*>(data) == dst && strides == dst_strides);
  }
  PSALM_HD value_type at(std::int64_t i) const { return convert<value_type>(data[i]); }
  PSALM_HD value_type at(const Dims& c, std::int64_t j) const {
    std::int64_t off = j * strides[extents.rank - 1];
    for (int d = 0; d + 1 < extents.rank; ++d) off += c[d] * strides[d];
    return convert<value_type>(data[off]);
  }
};

/// A scalar constant.
template <class V>
struct ExprConstant {
  using is_psalm_expression = void;
  using value_type = V;
  using device_type = AnyDevice;
  V value;
  Shape shape() const { return Shape{}; }
  void bind(const Dims&) {}
  bool dense() const { return true; }
  bool conflicts(const void*, const void*, const void*, const Dims&) const { return false; }
  PSALM_HD V at(std::int64_t) const { return value; }
  PSALM_HD V at(const Dims&, std::int64_t) const { return value; }
};

/// op(child) element by element.
template <class Op, class E>
struct ExprUnary {
  using is_psalm_expression = void;
  using value_type = decltype(std::declval<Op>()(std::declval<typename E::value_type>()));
  using device_type = typename E::device_type;
  Op op;
  E child;
  Shape shape() const { return child.shape(); }
  void bind(const Dims& out) { child.bind(out); }
  bool dense() const { return child.dense(); }
  bool conflicts(const void* lo, const void* hi, const void* d, const Dims& s) const {
    return child.conflicts(lo, hi, d, s);
  }
  PSALM_HD value_type at(std::int64_t i) const { return op(child.at(i)); }
  PSALM_HD value_type at(const Dims& c, std::int64_t j) const { return op(child.at(c, j)); }
};

/// op(left, right) element by element, broadcasting the two shapes.
template <class Op, class L, class R>
struct ExprBinary {
  using is_psalm_expression = void;
  using value_type = decltype(std::declval<Op>()(std::declval<typename L::value_type>(),
                                                 std::declval<typename R::value_type>()));
  using device_type = detail::common_device_t<typename L::device_type, typename R::device_type>;
  Op op;
  L left;
  R right;
  Shape shape() const { return broadcast_shapes(left.shape(), right.shape()); }
  void bind(const Dims& out) {
    left.bind(out);
    right.bind(out);
  }
  bool dense() const { return left.dense() && right.dense(); }
  bool conflicts(const void* lo, const void* hi, const void* d, const Dims& s) const {
    return left.conflicts(lo, hi, d, s) || right.conflicts(lo, hi, d, s);
  }
  PSALM_HD value_type at(std::int64_t i) const { return op(left.at(i), right.at(i)); }
  PSALM_HD value_type at(const Dims& c, std::int64_t j) const {
    return op(left.at(c, j), right.at(c, j));
  }
};

/// cond ? a : b element by element, broadcasting all three.
template <class C, class A, class B>
struct ExprWhere {
  using is_psalm_expression = void;
  using value_type = std::common_type_t<typename A::value_type, typename B::value_type>;
  using device_type = detail::common_device_t<
      typename C::device_type,
      detail::common_device_t<typename A::device_type, typename B::device_type>>;
  C cond;
  A a;
  B b;
  Shape shape() const {
    return broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape()));
  }
  void bind(const Dims& out) {
    cond.bind(out);
    a.bind(out);
    b.bind(out);
  }
  bool dense() const { return cond.dense() && a.dense() && b.dense(); }
  bool conflicts(const void* lo, const void* hi, const void* d, const Dims& s) const {
    return cond.conflicts(lo, hi, d, s) || a.conflicts(lo, hi, d, s) || b.conflicts(lo, hi, d, s);
  }
  PSALM_HD value_type at(std::int64_t i) const {
    return cond.at(i) ? static_cast<value_type>(a.at(i)) : static_cast<value_type>(b.at(i));
  }
  PSALM_HD value_type at(const Dims& c, std::int64_t j) const {
    return cond.at(c, j) ? static_cast<value_type>(a.at(c, j))
                         : static_cast<value_type>(b.at(c, j));
  }
};

/// Converts each element to To (rounding through bf16 when To is bf16), then computes in
/// To's compute type.
template <class To, class E>
struct ExprCast {
  using is_psalm_expression = void;
  using value_type = compute_type_t<To>;
  using device_type = typename E::device_type;
  E child;
  Shape shape() const { return child.shape(); }
  void bind(const Dims& out) { child.bind(out); }
  bool dense() const { return child.dense(); }
  bool conflicts(const void* lo, const void* hi, const void* d, const Dims& s) const {
    return child.conflicts(lo, hi, d, s);
  }
  PSALM_HD value_type at(std::int64_t i) const {
    return convert<value_type>(convert<To>(child.at(i)));
  }
  PSALM_HD value_type at(const Dims& c, std::int64_t j) const {
    return convert<value_type>(convert<To>(child.at(c, j)));
  }
};

// ---- building expressions -------------------------------------------------------------------

/// Anything that can stand in an expression next to a scalar: a tensor or an expression.
template <class X>
concept ExprOperand = AnyTensor<X> || Expression<std::remove_cvref_t<X>>;

template <class X>
concept ArithmeticScalar = std::is_arithmetic_v<std::remove_cvref_t<X>>;

/// A tensor as an expression leaf (an expression is returned unchanged).
template <class X>
requires ExprOperand<X>
auto as_expr(const X& x) {
  if constexpr (AnyTensor<X>) {
    using T = typename X::value_type;
    return ExprLeaf<T, typename X::device_type>{x.data(), x.shape().dims(), x.strides()};
  } else {
    return x;
  }
}

namespace detail {
template <class Op, class A, class B>
auto make_binary(const A& a, const B& b, Op op = {}) {
  if constexpr (ArithmeticScalar<A>) {
    auto rb = as_expr(b);
    using V = typename decltype(rb)::value_type;
    return ExprBinary<Op, ExprConstant<V>, decltype(rb)>{op, {static_cast<V>(a)}, rb};
  } else if constexpr (ArithmeticScalar<B>) {
    auto la = as_expr(a);
    using V = typename decltype(la)::value_type;
    return ExprBinary<Op, decltype(la), ExprConstant<V>>{op, la, {static_cast<V>(b)}};
  } else {
    auto la = as_expr(a);
    auto rb = as_expr(b);
    return ExprBinary<Op, decltype(la), decltype(rb)>{op, la, rb};
  }
}
template <class Op, class X>
auto make_unary(const X& x, Op op = {}) {
  auto e = as_expr(x);
  return ExprUnary<Op, decltype(e)>{op, e};
}
}  // namespace detail

/// Operand pairs for binary operators: at least one tensor or expression, the other may be a
/// plain number.
template <class A, class B>
concept BinaryOperands = (ExprOperand<A> && ExprOperand<B>) ||
                         (ExprOperand<A> && ArithmeticScalar<B>) ||
                         (ArithmeticScalar<A> && ExprOperand<B>);

#define PSALM_BINARY_OPERATOR(symbol, Functor)          \
  template <class A, class B>                           \
  requires BinaryOperands<A, B>                         \
  auto operator symbol(const A& a, const B& b) {        \
    return detail::make_binary<kernels::Functor>(a, b); \
  }
PSALM_BINARY_OPERATOR(+, Add)
PSALM_BINARY_OPERATOR(-, Sub)
PSALM_BINARY_OPERATOR(*, Mul)
PSALM_BINARY_OPERATOR(/, Div)
PSALM_BINARY_OPERATOR(==, Equal)
PSALM_BINARY_OPERATOR(<, Less)
PSALM_BINARY_OPERATOR(>, Greater)
#undef PSALM_BINARY_OPERATOR

#define PSALM_BINARY_FUNCTION(name, Functor) \
  template <class A, class B>                \
  requires BinaryOperands<A, B>              \
  auto name(const A& a, const B& b) { return detail::make_binary<kernels::Functor>(a, b); }
PSALM_BINARY_FUNCTION(maximum, Maximum)
PSALM_BINARY_FUNCTION(minimum, Minimum)
PSALM_BINARY_FUNCTION(pow, Pow)
#undef PSALM_BINARY_FUNCTION

template <ExprOperand X>
auto operator-(const X& x) {
  return detail::make_unary<kernels::Neg>(x);
}

#define PSALM_UNARY_FUNCTION(name, Functor)         \
  template <ExprOperand X>                          \
  auto name(const X& x) {                           \
    return detail::make_unary<kernels::Functor>(x); \
  }
PSALM_UNARY_FUNCTION(abs, Abs)
PSALM_UNARY_FUNCTION(exp, Exp)
PSALM_UNARY_FUNCTION(log, Log)
PSALM_UNARY_FUNCTION(sqrt, Sqrt)
PSALM_UNARY_FUNCTION(rsqrt, Rsqrt)
PSALM_UNARY_FUNCTION(tanh, Tanh)
PSALM_UNARY_FUNCTION(relu, Relu)
PSALM_UNARY_FUNCTION(sigmoid, Sigmoid)
PSALM_UNARY_FUNCTION(softplus, Softplus)
PSALM_UNARY_FUNCTION(gelu, GeluErf)
PSALM_UNARY_FUNCTION(gelu_tanh, GeluTanh)
#undef PSALM_UNARY_FUNCTION

/// Elements clamped into [lo, hi].
template <ExprOperand X>
auto clamp(const X& x, double lo, double hi) {
  auto e = as_expr(x);
  using V = typename decltype(e)::value_type;
  return ExprUnary<kernels::Clamp<V>, decltype(e)>{{static_cast<V>(lo), static_cast<V>(hi)}, e};
}

/// Elements converted to To.
template <Scalar To, ExprOperand X>
auto cast(const X& x) {
  auto e = as_expr(x);
  return ExprCast<To, decltype(e)>{e};
}

/// cond ? a : b, broadcasting; a and b may be numbers.
template <ExprOperand C, class A, class B>
auto where(const C& cond, const A& a, const B& b) {
  auto c = as_expr(cond);
  auto to_node = [](const auto& v, const auto& other) {
    if constexpr (ArithmeticScalar<decltype(v)>) {
      using V = typename decltype(as_expr(other))::value_type;
      return ExprConstant<V>{static_cast<V>(v)};
    } else {
      return as_expr(v);
    }
  };
  if constexpr (ArithmeticScalar<A> && ArithmeticScalar<B>) {
    using V = std::common_type_t<A, B>;
    return ExprWhere<decltype(c), ExprConstant<V>, ExprConstant<V>>{
        c, {static_cast<V>(a)}, {static_cast<V>(b)}};
  } else if constexpr (ArithmeticScalar<A>) {
    auto nb = as_expr(b);
    return ExprWhere<decltype(c), decltype(to_node(a, b)), decltype(nb)>{c, to_node(a, b), nb};
  } else {
    auto na = as_expr(a);
    auto nb = to_node(b, a);
    return ExprWhere<decltype(c), decltype(na), decltype(nb)>{c, na, nb};
  }
}

}  // namespace psalm
