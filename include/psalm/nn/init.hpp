// psalm/nn/init.hpp — parameter initialisation as torch.nn.init and timm define it, drawn from
// the counter-based RNG: InitRng hands each initialised tensor its own Philox stream, so a model
// built twice from the same seed has the same weights on every device and thread count.
// Depends on: tensor, core/rng. Test: tests/nn/test_layers.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <type_traits>

#include "psalm/core/rng.hpp"
#include "psalm/tensor/assign.hpp"
#include "psalm/tensor/expr.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::nn {

/// A seed and a running stream counter: next() is a fresh, never repeated stream.
/// `skip` builds modules without drawing random values (the tensors are allocated but not
/// filled): for a model whose weights are loaded right after construction, where drawing
/// a billion random numbers first would only cost time.
struct InitRng {
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
  bool skip = false;
  CounterRng next() { return CounterRng{seed, stream++}; }
  /// An InitRng that skips random initialisation (use only when every weight is loaded).
  static InitRng for_loading() { return InitRng{0, 0, true}; }
};

namespace init {

/// Normal(mean, std).
template <Scalar T, Device Dev = cpu>
Tensor<T, Dev> normal(const Shape& shape, double std, InitRng& rng, double mean = 0.0) {
  if (rng.skip) return Tensor<T, Dev>(shape);
  const CounterRng r = rng.next();
  return Tensor<T, Dev>::randn(shape, r.seed, mean, std, r.stream);
}

/// Uniform on [lo, hi).
template <Scalar T, Device Dev = cpu>
Tensor<T, Dev> uniform(const Shape& shape, double lo, double hi, InitRng& rng) {
  if (rng.skip) return Tensor<T, Dev>(shape);
  const CounterRng r = rng.next();
  Tensor<T, Dev> u = Tensor<T, Dev>::rand(shape, r.seed, r.stream);  // [0, 1)
  u.assign(u * static_cast<T>(hi - lo) + static_cast<T>(lo));
  return u;
}

/// Normal(mean, std) truncated to [lo, hi] (absolute bounds, as timm's trunc_normal_, whose
/// defaults are -2 and 2), by inverting the normal CDF on the truncated interval.
template <Scalar T, Device Dev = cpu>
Tensor<T, Dev> trunc_normal(const Shape& shape, double std, InitRng& rng, double mean = 0.0,
                            double lo = -2.0, double hi = 2.0) {
  if (rng.skip) return Tensor<T, Dev>(shape);
  const CounterRng r = rng.next();
  auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  const double a = cdf((lo - mean) / std), b = cdf((hi - mean) / std);
  Tensor<T> out(shape);
  T* data = out.data();
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    const double p = a + (b - a) * r.uniform_double(static_cast<std::uint64_t>(i));
    // inverse normal CDF through erfinv by Newton steps on erf (p in (0, 1))
    const double y = std::clamp(2.0 * p - 1.0, -1.0 + 1e-15, 1.0 - 1e-15);
    double x = 0.0;  // erfinv(y)
    for (int it = 0; it < 60; ++it) {
      const double err = std::erf(x) - y;
      x -= err / (2.0 / std::sqrt(std::numbers::pi) * std::exp(-x * x));
      if (std::abs(err) < 1e-15) break;
    }
    data[i] = static_cast<T>(std::clamp(mean + std * std::sqrt(2.0) * x, lo, hi));
  }
  if constexpr (std::is_same_v<Dev, cpu>) {
    return out;
  } else {
    return out.template to<Dev>();
  }
}

/// PyTorch's default for nn.Linear / nn.Conv2d weights and biases: kaiming_uniform_(a=sqrt(5))
/// is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
template <Scalar T, Device Dev = cpu>
Tensor<T, Dev> fan_in_uniform(const Shape& shape, std::int64_t fan_in, InitRng& rng) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  return uniform<T, Dev>(shape, -bound, bound, rng);
}

/// xavier_uniform_: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)).
template <Scalar T, Device Dev = cpu>
Tensor<T, Dev> xavier_uniform(const Shape& shape, std::int64_t fan_in, std::int64_t fan_out,
                              InitRng& rng, double gain = 1.0) {
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform<T, Dev>(shape, -bound, bound, rng);
}

}  // namespace init
}  // namespace psalm::nn
