// psalm/core/bf16.hpp — bfloat16 as a storage type: 1 sign, 8 exponent, 7 mantissa bits.
// Arithmetic happens in float: a bf16 converts to float exactly, and float converts to bf16
// with round-to-nearest-even (NaN stays NaN), as PyTorch and oneDNN do.
// Depends on: std. Test: tests/core/test_bf16.cpp.
#pragma once

#include <cstdint>
#include <cstring>

#include "psalm/core/macros.hpp"

namespace psalm {

struct bf16 {
  std::uint16_t bits = 0;

  bf16() = default;
  PSALM_HD explicit bf16(float value) : bits(round_from_float(value)) {}
  PSALM_HD explicit operator float() const { return to_float(bits); }

  PSALM_HD static bf16 from_bits(std::uint16_t raw) {
    bf16 b;
    b.bits = raw;
    return b;
  }

  PSALM_HD static float to_float(std::uint16_t raw) {
    const std::uint32_t widened = static_cast<std::uint32_t>(raw) << 16;
    float out;
    std::memcpy(&out, &widened, sizeof(out));
    return out;
  }

  PSALM_HD static std::uint16_t round_from_float(float value) {
    std::uint32_t u;
    std::memcpy(&u, &value, sizeof(u));
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0) {
      return static_cast<std::uint16_t>((u >> 16) | 0x0040u);  // quiet NaN, keep the sign
    }
    const std::uint32_t lsb = (u >> 16) & 1u;
    u += 0x7fffu + lsb;  // round to nearest, ties to even
    return static_cast<std::uint16_t>(u >> 16);
  }

  friend PSALM_HD bool operator==(bf16 a, bf16 b) { return a.bits == b.bits; }
};

static_assert(sizeof(bf16) == 2);

}  // namespace psalm
