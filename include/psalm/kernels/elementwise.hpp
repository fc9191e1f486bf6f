// psalm/kernels/elementwise.hpp — the element functors behind every elementwise expression.
// Each is an empty struct with a PSALM_HD call operator, so the same math runs in the CPU
// executor's loop and in the CUDA grid-stride kernel. Arithmetic on bf16 happens in float.
// Sigmoid and the GELUs use kernels/fast_math.hpp in float (loops over them vectorise).
// Depends on: std, core, kernels/fast_math. Test: tests/kernels/test_elementwise.cpp.
#pragma once

#include <cmath>
#include <type_traits>

#include "psalm/core/macros.hpp"
#include "psalm/kernels/fast_math.hpp"

namespace psalm::kernels {

// ---- binary ---------------------------------------------------------------------------------
struct Add {
  template <class A, class B>
  PSALM_HD auto operator()(A a, B b) const {
    return a + b;
  }
};
struct Sub {
  template <class A, class B>
  PSALM_HD auto operator()(A a, B b) const {
    return a - b;
  }
};
struct Mul {
  template <class A, class B>
  PSALM_HD auto operator()(A a, B b) const {
    return a * b;
  }
};
struct Div {
  template <class A, class B>
  PSALM_HD auto operator()(A a, B b) const {
    return a / b;
  }
};
struct Maximum {  // NaN-propagating, as torch.maximum
  template <class T>
  PSALM_HD T operator()(T a, T b) const {
    return (a != a || a > b) ? a : b;
  }
};
struct Minimum {  // NaN-propagating, as torch.minimum
  template <class T>
  PSALM_HD T operator()(T a, T b) const {
    return (a != a || a < b) ? a : b;
  }
};
struct Pow {
  template <class T>
  PSALM_HD T operator()(T a, T b) const {
    return std::pow(a, b);
  }
};
struct Equal {
  template <class T>
  PSALM_HD bool operator()(T a, T b) const {
    return a == b;
  }
};
struct Less {
  template <class T>
  PSALM_HD bool operator()(T a, T b) const {
    return a < b;
  }
};
struct Greater {
  template <class T>
  PSALM_HD bool operator()(T a, T b) const {
    return a > b;
  }
};

// ---- unary ----------------------------------------------------------------------------------
struct Neg {
  template <class T>
  PSALM_HD T operator()(T x) const {
    return -x;
  }
};
struct Abs {
  template <class T>
  PSALM_HD T operator()(T x) const {
    return x < T(0) ? -x : x;
  }
};
struct Exp {
  template <class T>
  PSALM_HD T operator()(T x) const {
    return std::exp(x);
  }
};
struct Log {
  template <class T>
  PSALM_HD T operator()(T x) const {
    return std::log(x);
  }
};
struct Sqrt {
  template <class T>
  PSALM_HD T operator()(T x) const {
    return std::sqrt(x);
  }
};
struct Rsqrt {
  template <class T>
  PSALM_HD T operator()(T x) const {
    return T(1) / std::sqrt(x);
  }
};
struct Tanh {
  template <class T>
  PSALM_HD T operator()(T x) const {
    return std::tanh(x);
  }
};
struct Relu {
  template <class T>
  PSALM_HD T operator()(T x) const {
    return x < T(0) ? T(0) : x;
  }  // NaN stays NaN (torch)
};
/// Logistic sigmoid, written to avoid overflow of exp for large |x|.
struct Sigmoid {
  template <class T>
  PSALM_HD T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>) return sigmoid_f32(x);  // exp(-x) = inf gives 0
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
  }
};
/// softplus(x) = log(1 + exp(x)), linear above `threshold` as torch.nn.functional.softplus.
struct Softplus {
  template <class T>
  PSALM_HD T operator()(T x) const {
    return x > T(20) ? x : std::log1p(std::exp(x));
  }
};
/// GELU with the exact erf form: x * Phi(x) (torch.nn.GELU(), used by Swin and the decoder).
struct GeluErf {
  template <class T>
  PSALM_HD T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>) return x * normal_cdf_f32(x);
    return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
  }
};
/// GELU with the tanh approximation ("gelu_new", used by Phi-1.5):
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
/// In float as x * sigmoid(2 inner), the same function (0.5 (1 + tanh(u)) = sigmoid(2u)).
struct GeluTanh {
  template <class T>
  PSALM_HD T operator()(T x) const {
    const T inner = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);
    if constexpr (std::is_same_v<T, float>) return x * sigmoid_f32(2.0f * inner);
    return T(0.5) * x * (T(1) + std::tanh(inner));
  }
};
/// Clamps into [lo, hi]; NaN passes through as torch.clamp.
template <class T>
struct Clamp {
  T lo, hi;
  PSALM_HD T operator()(T x) const { return x < lo ? lo : (x > hi ? hi : x); }
};

// ---- derivatives used by backward passes (d output / d input, as a function of the input) ----
struct SigmoidGrad {
  template <class T>
  PSALM_HD T operator()(T x) const {
    const T s = Sigmoid{}(x);
    return s * (T(1) - s);
  }
};
struct GeluErfGrad {
  template <class T>
  PSALM_HD T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>)
      return normal_cdf_f32(x) + x * 0.39894228040143267794f * exp_f32(-0.5f * x * x);
    const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
    const T pdf = T(0.39894228040143267794) * std::exp(T(-0.5) * x * x);
    return cdf + x * pdf;
  }
};
struct GeluTanhGrad {
  template <class T>
  PSALM_HD T operator()(T x) const {
    const T k = T(0.79788456080286535588);
    const T inner = k * (x + T(0.044715) * x * x * x);
    const T d_inner = k * (T(1) + T(3) * T(0.044715) * x * x);
    if constexpr (std::is_same_v<T, float>) {  // s = sigmoid(2 inner) = (1 + tanh(inner)) / 2
      const float s = sigmoid_f32(2.0f * inner);
      return s + 2.0f * x * s * (1.0f - s) * d_inner;
    }
    const T t = std::tanh(inner);
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * d_inner;
  }
};

}  // namespace psalm::kernels
