// The op case list shared with the GPU parity executable (tests/cuda/op_cases.hpp), run here on
// the CPU backend in float and in double: every op's forward and backward agree across the two
// precisions within float tolerance, and dropout masks are identical.
#include <catch2/catch.hpp>

#include "cuda/op_cases.hpp"
#include "psalm/autograd.hpp"

using namespace psalm;

TEST_CASE("op cases: float results on the CPU match double results (forward and backward)",
          "[autograd][op_cases]") {
  const std::vector<op_cases::CaseResult> f = op_cases::collect<float, cpu>();
  const std::vector<op_cases::CaseResult> d = op_cases::collect<double, cpu>();
  REQUIRE(f.size() == d.size());
  REQUIRE(f.size() >= 20);
  for (std::size_t i = 0; i < f.size(); ++i) {
    INFO(f[i].name);
    REQUIRE(f[i].name == d[i].name);
    REQUIRE(!f[i].tensors.empty());
    REQUIRE(!f[i].tensors[0].empty());
    // Single-precision rounding against double: ten times the device-parity tolerance.
    CHECK(op_cases::compare(f[i], d[i], 10.0) == "");
  }
}

TEST_CASE("op cases: the comparison reports a changed element", "[autograd][op_cases]") {
  op_cases::CaseResult a{"x", 1e-4, {{1.0, 2.0, 3.0}}};
  op_cases::CaseResult b = a;
  REQUIRE(op_cases::compare(a, b) == "");
  b.tensors[0][1] = 2.01;
  REQUIRE(op_cases::compare(a, b) != "");
}
