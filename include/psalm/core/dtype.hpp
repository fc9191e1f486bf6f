// psalm/core/dtype.hpp — the element types a tensor may hold, as compile-time types and as
// a run-time tag (for files and printing). bf16 is storage only; its arithmetic type is float.
// Depends on: std, core/bf16. Test: tests/core/test_dtype.cpp.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "psalm/core/bf16.hpp"

namespace psalm {

enum class DType : std::uint8_t { f32, f64, bf16, i32, i64, u8 };

/// Element types a Tensor may hold.
template <class T>
concept Scalar = std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, bf16> ||
    std::same_as<T, std::int32_t> || std::same_as<T, std::int64_t> || std::same_as<T, std::uint8_t>;

template <Scalar T>
constexpr DType dtype_of() {
  if constexpr (std::same_as<T, float>)
    return DType::f32;
  else if constexpr (std::same_as<T, double>)
    return DType::f64;
  else if constexpr (std::same_as<T, bf16>)
    return DType::bf16;
  else if constexpr (std::same_as<T, std::int32_t>)
    return DType::i32;
  else if constexpr (std::same_as<T, std::int64_t>)
    return DType::i64;
  else
    return DType::u8;
}

constexpr std::size_t size_of(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::bf16:
      return 2;
    case DType::i32:
      return 4;
    case DType::i64:
      return 8;
    case DType::u8:
      return 1;
  }
  return 0;
}

constexpr std::string_view name_of(DType t) {
  switch (t) {
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
    case DType::bf16:
      return "bfloat16";
    case DType::i32:
      return "int32";
    case DType::i64:
      return "int64";
    case DType::u8:
      return "uint8";
  }
  return "?";
}

/// The type arithmetic on an element of T happens in: float for bf16, T otherwise.
template <class T>
using compute_type_t = std::conditional_t<std::is_same_v<T, bf16>, float, T>;

/// Converts between element types, routing bf16 through float.
template <class To, class From>
PSALM_HD_INLINE To convert(From value) {
  if constexpr (std::is_same_v<To, From>) {
    return value;
  } else if constexpr (std::is_same_v<To, bf16>) {
    return bf16(static_cast<float>(value));
  } else if constexpr (std::is_same_v<From, bf16>) {
    return static_cast<To>(static_cast<float>(value));
  } else {
    return static_cast<To>(value);
  }
}

}  // namespace psalm
