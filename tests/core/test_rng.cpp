// Tests for psalm/core/rng.hpp. Known answers are the three philox4x32 10-round vectors of
// Random123's kat_vectors file (Salmon et al., SC 2011), the reference implementation.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "psalm/core/rng.hpp"

using psalm::Philox4x32;

TEST_CASE("Philox4x32-10 reproduces Random123's known-answer vectors", "[core][rng]") {
  struct Case {
    Philox4x32 ctr;
    std::uint32_t k0, k1;
    Philox4x32 want;
  };
  const Case cases[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       0xffffffff,
       0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       0xa4093822,
       0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Case& c : cases) {
    const Philox4x32 got = psalm::philox4x32_10(c.ctr, c.k0, c.k1);
    for (int i = 0; i < 4; ++i) REQUIRE(got.v[i] == c.want.v[i]);
  }
}

TEST_CASE("CounterRng: a pure function of (seed, stream, index)", "[core][rng]") {
  const psalm::CounterRng a{42, 0}, b{42, 0}, other_seed{43, 0}, other_stream{42, 1};
  REQUIRE(a.uniform(7) == b.uniform(7));
  REQUIRE(a.uniform(7) != other_seed.uniform(7));
  REQUIRE(a.uniform(7) != other_stream.uniform(7));
  std::set<float> distinct;
  for (int i = 0; i < 100; ++i) distinct.insert(a.uniform(i));
  REQUIRE(distinct.size() == 100);
}

TEST_CASE("CounterRng: uniform, normal and bernoulli have the right moments", "[core][rng]") {
  const psalm::CounterRng rng{2024, 3};
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0, sb = 0;
  float lo = 1, hi = 0;
  for (int i = 0; i < n; ++i) {
    const float u = rng.uniform(i);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    su += u;
    const double z = rng.normal(i);
    sn += z;
    sn2 += z * z;
    sb += rng.bernoulli(i, 0.3f);
  }
  REQUIRE(lo >= 0.0f);
  REQUIRE(hi < 1.0f);
  // Standard errors: uniform mean 0.29/sqrt(n) ~ 6.5e-4, normal mean 2.2e-3, variance ~3.2e-3.
  REQUIRE(std::fabs(su / n - 0.5) < 4e-3);
  REQUIRE(std::fabs(sn / n) < 1.2e-2);
  REQUIRE(std::fabs(sn2 / n - 1.0) < 1.6e-2);
  REQUIRE(std::fabs(sb / n - 0.3) < 5e-3);
  const double u53 = rng.uniform_double(5);
  REQUIRE((u53 >= 0.0 && u53 < 1.0));
}
