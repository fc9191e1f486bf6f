// Tests for psalm/autograd/ops/interpolate.hpp: bilinear (align_corners false / true, up and
// down) and nearest resizing against finite differences in double (permuted input, odd sizes)
// and PyTorch (tests/fixtures/autograd_ops2/interpolate.json).
#include "op_check.hpp"
#include "psalm/autograd/ops/interpolate.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops2/interpolate";
constexpr InterpolateOptions kBilinear{}, kAligned{.align_corners = true},
    kNearest{.mode = InterpolateMode::nearest};
}  // namespace

TEST_CASE("interpolate: backward matches finite differences for bilinear and nearest",
          "[autograd][interpolate]") {
  const auto x = Tensor<double>::randn({3, 5, 2, 1}, 91).permute({2, 3, 0, 1});  // (2, 1, 3, 5)
  for (const auto& opt : {kBilinear, kAligned, kNearest}) {
    check_gradients([&](const Vars<double>& v) { return interpolate(v[0], 7, 4, opt); }, {x});
    check_gradients([&](const Vars<double>& v) { return interpolate(v[0], 2, 9, opt); }, {x});
  }
}

TEST_CASE("interpolate: forward and backward match PyTorch", "[autograd][interpolate]") {
  struct Case {
    const char* name;
    std::int64_t h, w;
    InterpolateOptions opt;
  };
  for (const Case& c :
       {Case{"bilinear_up", 5, 7, kBilinear}, Case{"bilinear_up_align", 5, 7, kAligned},
        Case{"bilinear_down", 4, 3, kBilinear}, Case{"bilinear_down_align", 4, 1, kAligned},
        Case{"bilinear_2x", 6, 8, kBilinear}, Case{"nearest_up", 7, 9, kNearest},
        Case{"nearest_down", 3, 4, kNearest}})
    testing::check_against_torch(
        kFile, c.name, [&](const Vars<float>& v) { return interpolate(v[0], c.h, c.w, c.opt); });
}

TEST_CASE("interpolate: rejects non-4-D inputs and empty sizes", "[autograd][interpolate]") {
  REQUIRE_THROWS_AS(interpolate(Var<float>(Tensor<float>::zeros({2, 3, 4})), 2, 2), Error);
  REQUIRE_THROWS_AS(interpolate(Var<float>(Tensor<float>::zeros({1, 1, 3, 4})), 0, 2), Error);
}
