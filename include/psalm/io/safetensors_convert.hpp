// psalm/io/safetensors_convert.hpp — turns the raw little-endian bytes of one safetensors tensor
// into a Tensor<T>, by the conversion rules of docs/io.md: float <-> float rounds to nearest
// (a finite value that overflows is an error), integer -> integer and integer -> float only
// when every value is kept exactly, float -> integer never. Depends on: core, tensor,
// io/safetensors_header. Test: tests/io/test_safetensors.cpp.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include "psalm/core/bf16.hpp"
#include "psalm/core/dtype.hpp"
#include "psalm/core/error.hpp"
#include "psalm/io/safetensors_header.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; psalm reads it in place on little-endian hosts");

/// IEEE binary16 bits -> float (exact; subnormals, infinities and NaN kept).
inline float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mantissa <<= 1;
      } while ((mantissa & 0x400u) == 0);
      bits = sign | ((127 - 15 - e) << 23) | ((mantissa & 0x3ffu) << 13);
    }
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

/// The safetensors dtype a psalm element type is stored as.
template <Scalar T>
constexpr SafetensorsDType safetensors_dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return SafetensorsDType::F32;
  else if constexpr (std::is_same_v<T, double>)
    return SafetensorsDType::F64;
  else if constexpr (std::is_same_v<T, bf16>)
    return SafetensorsDType::BF16;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return SafetensorsDType::I32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return SafetensorsDType::I64;
  else
    return SafetensorsDType::U8;
}

namespace detail {

template <class S>
S st_read(const std::byte* p, std::int64_t i) {
  S v;
  std::memcpy(&v, p + i * static_cast<std::int64_t>(sizeof(S)), sizeof(S));
  return v;
}

enum class StKind { floating, signed_int, unsigned_int, unsupported };

inline StKind st_kind(SafetensorsDType d) {
  using D = SafetensorsDType;
  switch (d) {
    case D::F16:
    case D::BF16:
    case D::F32:
    case D::F64:
      return StKind::floating;
    case D::I8:
    case D::I16:
    case D::I32:
    case D::I64:
      return StKind::signed_int;
    case D::BOOL:
    case D::U8:
    case D::U16:
    case D::U32:
    case D::U64:
      return StKind::unsigned_int;
    default:
      return StKind::unsupported;
  }
}

inline double st_float_at(SafetensorsDType d, const std::byte* p, std::int64_t i) {
  using D = SafetensorsDType;
  switch (d) {
    case D::F16:
      return half_bits_to_float(st_read<std::uint16_t>(p, i));
    case D::BF16:
      return bf16::to_float(st_read<std::uint16_t>(p, i));
    case D::F32:
      return st_read<float>(p, i);
    default:
      return st_read<double>(p, i);
  }
}

inline std::int64_t st_signed_at(SafetensorsDType d, const std::byte* p, std::int64_t i) {
  using D = SafetensorsDType;
  switch (d) {
    case D::I8:
      return st_read<std::int8_t>(p, i);
    case D::I16:
      return st_read<std::int16_t>(p, i);
    case D::I32:
      return st_read<std::int32_t>(p, i);
    default:
      return st_read<std::int64_t>(p, i);
  }
}

inline std::uint64_t st_unsigned_at(SafetensorsDType d, const std::byte* p, std::int64_t i) {
  using D = SafetensorsDType;
  switch (d) {
    case D::BOOL:
    case D::U8:
      return st_read<std::uint8_t>(p, i);
    case D::U16:
      return st_read<std::uint16_t>(p, i);
    case D::U32:
      return st_read<std::uint32_t>(p, i);
    default:
      return st_read<std::uint64_t>(p, i);
  }
}

// An integer as T when exactly representable.
template <class T, class I>
std::optional<T> st_exact(I v) {
  if constexpr (std::is_integral_v<T>) {
    if (!std::in_range<T>(v)) return std::nullopt;
    return static_cast<T>(v);
  } else {
    // 2^64 and 2^63 are exact doubles: compare in double range first, then round-trip.
    const double d = static_cast<double>(v);
    if constexpr (std::is_signed_v<I>) {
      if (d >= 9223372036854775808.0 || static_cast<I>(d) != v) return std::nullopt;
    } else {
      if (d >= 18446744073709551616.0 || static_cast<I>(d) != v) return std::nullopt;
    }
    const T t = convert<T>(d);
    if (convert<double>(t) != d) return std::nullopt;
    return t;
  }
}

}  // namespace detail

/// True when the bytes of `e` can be used in place as T: same element type (BOOL as uint8).
template <Scalar T>
bool safetensors_same_type(SafetensorsDType d) {
  return d == safetensors_dtype_of<T>() ||
         (std::is_same_v<T, std::uint8_t> && d == SafetensorsDType::BOOL);
}

/// Converts the `e.numel()` elements at `data` (dtype e.dtype) into `out` (contiguous, numel
/// elements). Throws naming `source` and the tensor when the rules forbid the conversion or a
/// value would change.
template <Scalar T>
void convert_safetensors_elements(const SafetensorsEntry& e, const std::byte* data, T* out,
                                  std::string_view source) {
  using detail::StKind;
  const StKind kind = detail::st_kind(e.dtype);
  const std::int64_t n = e.numel();
  auto refuse = [&](std::string_view why) {
    fail(source, ": tensor \"", e.name, "\": cannot load ", name_of(e.dtype), " as ",
         name_of(dtype_of<T>()), ": ", why);
  };
  if (kind == StKind::unsupported) refuse("psalm does not read this element type");
  if (e.dtype == SafetensorsDType::BOOL) {
    for (std::int64_t i = 0; i < n; ++i) {
      const auto b = detail::st_read<std::uint8_t>(data, i);
      PSALM_CHECK(b <= 1, source, ": tensor \"", e.name, "\": BOOL element ", i, " holds byte ", +b,
                  " (must be 0 or 1)");
    }
  }
  constexpr bool target_float =
      std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16>;
  if (kind == StKind::floating) {
    if constexpr (!target_float) {
      refuse("floating-point to integer conversion is not allowed");
    } else {
      for (std::int64_t i = 0; i < n; ++i) {
        const double v = detail::st_float_at(e.dtype, data, i);
        const T t = convert<T>(v);
        if (std::isfinite(v) && !std::isfinite(convert<double>(t)))
          fail(source, ": tensor \"", e.name, "\": element ", i, " = ", v, " overflows ",
               name_of(dtype_of<T>()));
        out[i] = t;
      }
    }
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    std::optional<T> t;
    if (kind == StKind::signed_int) {
      const std::int64_t v = detail::st_signed_at(e.dtype, data, i);
      t = detail::st_exact<T>(v);
      if (!t)
        fail(source, ": tensor \"", e.name, "\": element ", i, " = ", v,
             " is not exactly representable as ", name_of(dtype_of<T>()));
    } else {
      const std::uint64_t v = detail::st_unsigned_at(e.dtype, data, i);
      t = detail::st_exact<T>(v);
      if (!t)
        fail(source, ": tensor \"", e.name, "\": element ", i, " = ", v,
             " is not exactly representable as ", name_of(dtype_of<T>()));
    }
    out[i] = *t;
  }
}

}  // namespace psalm::io
