// psalm/autograd/ops/grid_sample.hpp — differentiable bilinear grid sampling with zero padding
// (torch.nn.functional.grid_sample, mode='bilinear', padding_mode='zeros', align_corners true
// or false), and Mask2Former's point_sample on top of it. Bodies: kernels/bilinear.hpp
// (forward) and kernels/grid_sample.hpp (backward: atomic scatter into the input gradient,
// per-point grid gradient). Backward accumulates.
// Depends on: autograd/tape, autograd/ops/{arithmetic,shape}, kernels/bilinear,
// kernels/grid_sample. Test: tests/autograd/test_grid_sample.cpp.
#pragma once

#include <algorithm>
#include <cstdint>

#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/bilinear.hpp"
#include "psalm/kernels/grid_sample.hpp"

namespace psalm::autograd {

// Letters: N batch, C channels, H W input plane, Ho Wo grid (output) plane, P points.

/// Context of grid_sample: the input when the grid needs a gradient, and the grid.
template <Real T, Device Dev>
struct GridSampleContext {
  GradRef<T, Dev> input, grid;
  Tensor<T, Dev> input_value;  // (N, C, H, W) contiguous, undefined unless the grid needs it
  Tensor<T, Dev> grid_value;   // (N, Ho, Wo, 2) contiguous
  bool align_corners;
};

/// input (N, C, H, W), grid (N, Ho, Wo, 2) holding (x, y) in [-1, 1] -> (N, C, Ho, Wo).
/// Points outside the input read zeros.
template <Real T, Device Dev>
Var<T, Dev> grid_sample(const Var<T, Dev>& input, const Var<T, Dev>& grid,
                        bool align_corners = false) {
  PSALM_CHECK(input.rank() == 4, "grid_sample: input must be (N, C, H, W), got ", input.shape());
  PSALM_CHECK(grid.rank() == 4 && grid.size(3) == 2 && grid.size(0) == input.size(0),
              "grid_sample: grid must be (", input.size(0), ", Ho, Wo, 2), got ", grid.shape());
  const std::int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
  const std::int64_t ho = grid.size(1), wo = grid.size(2);
  const Tensor<T, Dev> src = input.value().contiguous();
  const Tensor<T, Dev> g = grid.value().contiguous();
  Tensor<T, Dev> y(Shape{n, c, ho, wo});  // (N, C, Ho, Wo)
  if (y.numel() > 0)
    Executor<Dev>::launch(
        y.numel(), psalm::kernels::GridSampleBilinear<T>{src.data(), g.data(), y.data(), c, h, w,
                                                         ho, wo, align_corners});
  GridSampleContext<T, Dev> ctx{input.grad_ref(), grid.grad_ref(),
                                grid.requires_grad() ? src : Tensor<T, Dev>(), g, align_corners};
  return record(
      std::move(y), should_record(input, grid), std::move(ctx),
      [](GridSampleContext<T, Dev>& k, const Tensor<T, Dev>& d_y) {
        const Tensor<T, Dev> d = d_y.contiguous();  // (N, C, Ho, Wo)
        const Shape& in = k.input.needed() ? k.input.shape() : k.input_value.shape();
        const std::int64_t n = d.size(0), c = d.size(1), ho = d.size(2), wo = d.size(3);
        Tensor<T, Dev> d_input, d_grid;
        if (k.input.needed()) d_input = Tensor<T, Dev>::zeros(in);
        if (k.grid.needed()) d_grid = Tensor<T, Dev>(k.grid_value.shape());
        if (n * ho * wo > 0)
          Executor<Dev>::launch(
              n * ho * wo,
              psalm::kernels::GridSampleBilinearBackward<T>{
                  k.input_value.defined() ? k.input_value.data() : nullptr, k.grid_value.data(),
                  d.data(), d_input.defined() ? d_input.data() : nullptr,
                  d_grid.defined() ? d_grid.data() : nullptr, c, in[2], in[3], ho, wo,
                  k.align_corners},
              grain_for(c));
        if (k.input.needed()) k.input.accumulate(std::move(d_input));
        if (k.grid.needed()) k.grid.accumulate(std::move(d_grid));
      });
}

/// Mask2Former's point_sample: input (N, C, H, W) read at points (N, P, 2) holding (x, y) in
/// [0, 1] (align_corners false) -> (N, C, P).
/// ref: Mask2Former mask2former/modeling/criterion.py / detectron2 point_features.py
/// (point_sample: grid_sample(input, 2 * point_coords - 1) on an (N, P, 1, 2) grid).
template <Real T, Device Dev>
Var<T, Dev> point_sample(const Var<T, Dev>& input, const Var<T, Dev>& points) {
  PSALM_CHECK(points.rank() == 3 && points.size(2) == 2, "point_sample: points must be ",
              "(N, P, 2), got ", points.shape());
  const std::int64_t n = points.size(0), p = points.size(1);
  const Var<T, Dev> grid =
      reshape(add_scalar(scale(points, 2.0), -1.0), {n, p, 1, 2});         // (N, P, 1, 2)
  return reshape(grid_sample(input, grid, false), {n, input.size(1), p});  // (N, C, P)
}

}  // namespace psalm::autograd
