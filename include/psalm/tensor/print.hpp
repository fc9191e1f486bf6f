// psalm/tensor/print.hpp — a readable summary of a tensor for debugging: shape, dtype, device
// and the first few values, e.g. `Tensor(2, 3) float32 cpu [0, 1, 2, 3, 4, 5]`. Host code
// (uses fmt; never include it from a .cu file). Also lets fmt::format("{}", tensor) work.
// Depends on: tensor/tensor, fmt. Test: tests/tensor/test_print.cpp.
#pragma once

#include <fmt/format.h>

#include <sstream>
#include <string>

#include "psalm/tensor/tensor.hpp"

namespace psalm {

/// "Tensor<shape> dtype device [v0, v1, ...]" with at most `max_values` values (row-major).
template <Scalar T, Device Dev>
std::string to_string(const Tensor<T, Dev>& t, std::int64_t max_values = 8) {
  if (!t.defined()) return "Tensor(undefined)";
  std::string out =
      fmt::format("Tensor{} {} {} [", t.shape().to_string(), name_of(t.dtype()), Dev::name);
  const std::int64_t shown = std::min<std::int64_t>(t.numel(), max_values);
  const std::vector<T> values =
      t.numel() <= max_values ? t.to_vector() : t.reshape({-1}).narrow(0, 0, shown).to_vector();
  for (std::int64_t i = 0; i < shown; ++i) {
    if (i) out += ", ";
    if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, bf16>)
      out += fmt::format("{:.6g}", convert<double>(values[i]));
    else
      out += fmt::format("{}", static_cast<std::int64_t>(values[i]));
  }
  if (t.numel() > shown) out += fmt::format(", ... ({} more)", t.numel() - shown);
  return out + "]";
}

template <Scalar T, Device Dev>
std::ostream& operator<<(std::ostream& os, const Tensor<T, Dev>& t) {
  return os << to_string(t);
}

}  // namespace psalm

template <psalm::Scalar T, psalm::Device Dev>
struct fmt::formatter<psalm::Tensor<T, Dev>> : fmt::formatter<std::string> {
  auto format(const psalm::Tensor<T, Dev>& t, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(psalm::to_string(t), ctx);
  }
};
