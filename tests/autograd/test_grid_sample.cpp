// Tests for psalm/autograd/ops/grid_sample.hpp: bilinear grid sampling with zero padding
// (align_corners false / true, points outside the input) and point_sample against finite
// differences in double (non-contiguous input and grid) and PyTorch
// (tests/fixtures/autograd_ops2/grid_sample.json).
#include "op_check.hpp"
#include "psalm/autograd/ops/grid_sample.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops2/grid_sample";
}  // namespace

TEST_CASE("grid_sample: backward matches finite differences for input and grid",
          "[autograd][grid_sample]") {
  const auto x = Tensor<double>::randn({4, 5, 2, 3}, 101).permute({2, 3, 0, 1});  // (2, 3, 4, 5)
  const Tensor<double> g0(Tensor<double>::rand({2, 2, 3, 3}, 102) * 2.4 - 1.2);
  const auto grid = g0.slice(2, 0, 3, 2).permute({0, 2, 1, 3}).slice(3, 0, 2);  // (2, 2, 2, 2)
  REQUIRE_FALSE(grid.is_contiguous());
  for (bool align : {false, true})
    check_gradients([&](const Vars<double>& v) { return grid_sample(v[0], v[1], align); },
                    {x, grid});
  check_gradients([](const Vars<double>& v) { return point_sample(v[0], v[1]); },
                  {x, Tensor<double>::rand({2, 5, 2}, 103)});
}

TEST_CASE("grid_sample: forward and backward match PyTorch", "[autograd][grid_sample]") {
  testing::check_against_torch(kFile, "zeros",
                               [](const Vars<float>& v) { return grid_sample(v[0], v[1]); });
  testing::check_against_torch(kFile, "zeros_align",
                               [](const Vars<float>& v) { return grid_sample(v[0], v[1], true); });
  testing::check_against_torch(kFile, "point_sample",
                               [](const Vars<float>& v) { return point_sample(v[0], v[1]); });
}

TEST_CASE("grid_sample: rejects mismatched grids", "[autograd][grid_sample]") {
  const Var<float> x(Tensor<float>::zeros({2, 1, 3, 3}));
  REQUIRE_THROWS_AS(grid_sample(x, Var<float>(Tensor<float>::zeros({1, 2, 2, 2}))), Error);
  REQUIRE_THROWS_AS(grid_sample(x, Var<float>(Tensor<float>::zeros({2, 2, 2, 3}))), Error);
  REQUIRE_THROWS_AS(point_sample(x, Var<float>(Tensor<float>::zeros({2, 4}))), Error);
}
