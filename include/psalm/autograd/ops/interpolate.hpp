// psalm/autograd/ops/interpolate.hpp — differentiable resizing of NCHW maps to an output size
// (torch.nn.functional.interpolate with size=...): bilinear (align_corners true or false, no
// antialias) and nearest. Kernel bodies in kernels/interpolate.hpp; the gradient is an
// atomic scatter-add of d_out onto the taps each output read. The context holds only the
// sizes. Backward accumulates.
// Depends on: autograd/tape, kernels/interpolate. Test: tests/autograd/test_interpolate.cpp.
#pragma once

#include <cstdint>

#include "psalm/autograd/tape.hpp"
#include "psalm/kernels/interpolate.hpp"

namespace psalm::autograd {

// Letters: N batch, C channels, H W input plane, Ho Wo output plane, P = N C planes.

/// Interpolation modes of interpolate().
enum class InterpolateMode { bilinear, nearest };

/// Options of interpolate(), as the keyword arguments of F.interpolate.
struct InterpolateOptions {
  InterpolateMode mode = InterpolateMode::bilinear;
  bool align_corners = false;  ///< bilinear only
};

/// Context of interpolate: the sizes and the mode.
template <Real T, Device Dev>
struct InterpolateContext {
  GradRef<T, Dev> x;
  std::int64_t height, width, out_h, out_w;
  InterpolateOptions opt;
};

/// x (N, C, H, W) -> (N, C, out_h, out_w).
template <Real T, Device Dev>
Var<T, Dev> interpolate(const Var<T, Dev>& x, std::int64_t out_h, std::int64_t out_w,
                        const InterpolateOptions& opt = {}) {
  PSALM_CHECK(x.rank() == 4, "interpolate: input must be (N, C, H, W), got ", x.shape());
  PSALM_CHECK(out_h >= 1 && out_w >= 1, "interpolate: output size must be positive, got ", out_h,
              " x ", out_w);
  const std::int64_t h = x.size(2), w = x.size(3);
  PSALM_CHECK(h >= 1 && w >= 1, "interpolate: empty input plane in ", x.shape());
  const Tensor<T, Dev> src = x.value().contiguous();            // (N, C, H, W)
  Tensor<T, Dev> y(Shape{x.size(0), x.size(1), out_h, out_w});  // (N, C, Ho, Wo)
  if (y.numel() > 0) {
    if (opt.mode == InterpolateMode::bilinear)
      Executor<Dev>::launch(
          y.numel(), psalm::kernels::ResizeBilinear<T>{src.data(), y.data(), h, w, out_h, out_w,
                                                       opt.align_corners});
    else
      Executor<Dev>::launch(
          y.numel(), psalm::kernels::ResizeNearest<T>{src.data(), y.data(), h, w, out_h, out_w});
  }
  return record(std::move(y), should_record(x),
                InterpolateContext<T, Dev>{x.grad_ref(), h, w, out_h, out_w, opt},
                [](InterpolateContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
                  const Tensor<T, Dev> g = d_y.contiguous();
                  Tensor<T, Dev> d_x = Tensor<T, Dev>::zeros(c.x.shape());
                  if (g.numel() > 0) {
                    if (c.opt.mode == InterpolateMode::bilinear)
                      Executor<Dev>::launch(g.numel(), psalm::kernels::ResizeBilinearBackward<T>{
                                                           g.data(), d_x.data(), c.height, c.width,
                                                           c.out_h, c.out_w, c.opt.align_corners});
                    else
                      Executor<Dev>::launch(g.numel(), psalm::kernels::ResizeNearestBackward<T>{
                                                           g.data(), d_x.data(), c.height, c.width,
                                                           c.out_h, c.out_w});
                  }
                  c.x.accumulate(std::move(d_x));
                });
}

}  // namespace psalm::autograd
