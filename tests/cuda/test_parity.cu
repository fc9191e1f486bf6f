// CPU-vs-CUDA parity for every kernel body: the same functor runs through the host emulator
// (on the CPU) and through Executor<cuda> (on the GPU), and the results are compared; main()
// also runs the autograd op suite (test_autograd_parity.cu).
// Returns 77 (CTest: skipped) when the machine has no CUDA device.
#include <cmath>
#include <cstdio>
#include <vector>

#include "cuda/parity.cuh"
#include "psalm/backend/cpu/emulate.hpp"
#include "psalm/cuda.cuh"
#include "psalm/kernels/attention.hpp"
#include "psalm/kernels/bilinear.hpp"
#include "psalm/kernels/elementwise.hpp"
#include "psalm/kernels/fast_math.hpp"
#include "psalm/kernels/interpolate.hpp"
#include "psalm/kernels/layer_norm.hpp"
#include "psalm/kernels/rotary.hpp"
#include "psalm/kernels/softmax.hpp"
#include "psalm/kernels/window.hpp"

using namespace psalm;

namespace {

using parity::expect_close;

/// Runs a body for n elements on the host emulator (grid 3, block 7: uneven on purpose).
template <class Body>
void run_host(std::int64_t n, const Body& body) {
  cpu_backend::emulate_launch(3, 7, kernels::GridStride<Body>{n, body});
}

/// Gradient of one bilinear sample per index (kernel types must live at namespace scope).
struct BilinearBackwardAt {
  const float *plane, *xs, *ys;
  float *d_plane, *dxy;
  std::int64_t h, w;
  PSALM_HD void operator()(std::int64_t i) const {
    kernels::bilinear_sample_backward<float>(plane, d_plane, h, w, w, 1, xs[i], ys[i], 1.0f,
                                             dxy + 2 * i, dxy + 2 * i + 1);
  }
};

/// The vectorisable float functions of kernels/fast_math.hpp and the activations built on them,
/// five values per input.
struct FastMathAt {
  const float* x;
  float* y;
  PSALM_HD void operator()(std::int64_t i) const {
    y[5 * i + 0] = kernels::exp_f32(x[i]);
    y[5 * i + 1] = kernels::normal_cdf_f32(x[i]);
    y[5 * i + 2] = kernels::GeluErfGrad{}(x[i]);
    y[5 * i + 3] = kernels::GeluTanh{}(x[i]);
    y[5 * i + 4] = kernels::GeluTanhGrad{}(x[i]);
  }
};

std::vector<float> host_random(std::int64_t n, std::uint64_t seed) {
  return Tensor<float, cuda>::randn({n}, seed).to_vector();
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("no CUDA device: skipping\n");
    return 77;
  }
  try {
    // Random streams: the same numbers on both devices.
    {
      std::vector<float> want(1000);
      for (std::int64_t i = 0; i < 1000; ++i)
        want[i] = static_cast<float>(CounterRng{7, 0}.normal(static_cast<std::uint64_t>(i)));
      expect_close("randn matches the host Philox stream", host_random(1000, 7), want, 1e-6f);
    }
    // Elementwise expression, dense and broadcast/strided.
    {
      const std::vector<float> a = host_random(6 * 5, 1), b = host_random(5, 2);
      auto ga = Tensor<float, cuda>::from_data(a, {6, 5});
      auto gb = Tensor<float, cuda>::from_data(b, {5});
      Tensor<float, cuda> gy = ga * gb + exp(ga) - 2.0f;
      Tensor<float, cuda> gt = gelu(ga.transpose(0, 1)) * sigmoid(ga.transpose(0, 1));
      std::vector<float> y(30), t(30);
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 5; ++j) {
          y[i * 5 + j] = a[i * 5 + j] * b[j] + std::exp(a[i * 5 + j]) - 2.0f;
          t[j * 6 + i] = kernels::GeluErf{}(a[i * 5 + j]) * kernels::Sigmoid{}(a[i * 5 + j]);
        }
      expect_close("expression with broadcasting", gy.to_vector(), y);
      expect_close("expression over a transposed view", gt.to_vector(), t);
    }
    // Reductions.
    {
      const std::vector<float> a = host_random(4 * 300, 3);
      auto ga = Tensor<float, cuda>::from_data(a, {4, 300});
      std::vector<float> s(4, 0.f), m(4, -1e30f);
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 300; ++j) {
          s[i] += a[i * 300 + j];
          m[i] = std::max(m[i], a[i * 300 + j]);
        }
      expect_close("sum along an axis", sum(ga, 1).to_vector(), s, 1e-4f);
      expect_close("max along an axis", max(ga, 1).to_vector(), m);
    }
    // Row kernels: softmax and layer norm, host emulation vs CUDA.
    {
      const std::int64_t rows = 9, cols = 37;
      const std::vector<float> x = host_random(rows * cols, 4), w = host_random(cols, 5),
                               bias = host_random(cols, 6);
      std::vector<float> y_host(x.size()), ln_host(x.size()), mean(rows), rstd(rows);
      run_host(rows, kernels::SoftmaxRows<float>{x.data(), y_host.data(), nullptr, cols, 1, false});
      run_host(rows, kernels::LayerNormRows<float>{x.data(), w.data(), bias.data(), ln_host.data(),
                                                   mean.data(), rstd.data(), cols, 1e-5f});
      auto gx = Tensor<float, cuda>::from_data(x, {rows, cols});
      auto gw = Tensor<float, cuda>::from_data(w, {cols});
      auto gb = Tensor<float, cuda>::from_data(bias, {cols});
      Tensor<float, cuda> gy({rows, cols}), gln({rows, cols}), gm({rows}), gr({rows});
      Executor<cuda>::launch(
          rows, kernels::SoftmaxRows<float>{gx.data(), gy.data(), nullptr, cols, 1, false});
      Executor<cuda>::launch(
          rows, kernels::LayerNormRows<float>{gx.data(), gw.data(), gb.data(), gln.data(),
                                              gm.data(), gr.data(), cols, 1e-5f});
      expect_close("softmax rows", gy.to_vector(), y_host);
      expect_close("layer norm rows", gln.to_vector(), ln_host);
      // Backward bodies.
      const std::vector<float> d_y = host_random(rows * cols, 12);
      std::vector<float> dx_soft(x.size()), dx_ln(x.size());
      run_host(rows, kernels::SoftmaxRowsBackward<float>{y_host.data(), d_y.data(), dx_soft.data(),
                                                         cols, false});
      run_host(rows,
               kernels::LayerNormRowsBackward<float>{x.data(), w.data(), d_y.data(), mean.data(),
                                                     rstd.data(), dx_ln.data(), cols});
      auto gdy = Tensor<float, cuda>::from_data(d_y, {rows, cols});
      Tensor<float, cuda> gdx({rows, cols}), gdx_ln({rows, cols});
      Executor<cuda>::launch(rows, kernels::SoftmaxRowsBackward<float>{gy.data(), gdy.data(),
                                                                       gdx.data(), cols, false});
      Executor<cuda>::launch(
          rows, kernels::LayerNormRowsBackward<float>{gx.data(), gw.data(), gdy.data(), gm.data(),
                                                      gr.data(), gdx_ln.data(), cols});
      expect_close("softmax rows backward", gdx.to_vector(), dx_soft, 1e-4f);
      expect_close("layer norm rows backward", gdx_ln.to_vector(), dx_ln, 1e-4f);
    }
    // Fast float math: wide range, tails, infinities and NaN.
    {
      std::vector<float> x = host_random(3000, 15);
      for (float& v : x) v *= 30.0f;
      x.insert(x.end(), {0.0f, -0.0f, 88.7f, 88.8f, -103.0f, -110.0f, INFINITY, -INFINITY, NAN});
      const auto n = static_cast<std::int64_t>(x.size());
      std::vector<float> y_host(5 * x.size());
      run_host(n, FastMathAt{x.data(), y_host.data()});
      auto gx = Tensor<float, cuda>::from_data(x, {n});
      Tensor<float, cuda> gy({5 * n});
      Executor<cuda>::launch(n, FastMathAt{gx.data(), gy.data()});
      expect_close("fast exp, normal cdf, gelu derivatives", gy.to_vector(), y_host, 1e-5f);
    }
    // Layer-norm weight / bias gradients by column blocks (GPU: 1 column per thread).
    {
      const std::int64_t rows = 13, cols = 70;
      const std::vector<float> x = host_random(rows * cols, 16), g = host_random(rows * cols, 17);
      std::vector<float> mean(rows), rstd(rows), dw_host(cols), db_host(cols);
      for (std::int64_t r = 0; r < rows; ++r) {
        mean[r] = 0.1f * static_cast<float>(r);
        rstd[r] = 1.0f + 0.05f * static_cast<float>(r);
      }
      run_host(cols / 16 + 1,
               kernels::LayerNormParamGrad<float>{x.data(), g.data(), mean.data(), rstd.data(),
                                                  dw_host.data(), db_host.data(), rows, cols, 16});
      auto gx = Tensor<float, cuda>::from_data(x, {rows, cols});
      auto gg = Tensor<float, cuda>::from_data(g, {rows, cols});
      auto gm = Tensor<float, cuda>::from_data(mean, {rows});
      auto gr = Tensor<float, cuda>::from_data(rstd, {rows});
      Tensor<float, cuda> gdw({cols}), gdb({cols});
      Executor<cuda>::launch(
          cols, kernels::LayerNormParamGrad<float>{gx.data(), gg.data(), gm.data(), gr.data(),
                                                   gdw.data(), gdb.data(), rows, cols, 1});
      expect_close("layer norm weight gradient (column blocks)", gdw.to_vector(), dw_host, 1e-4f);
      expect_close("layer norm bias gradient (column blocks)", gdb.to_vector(), db_host, 1e-4f);
    }
    // Bilinear grid sampling.
    {
      const std::int64_t n = 2, c = 3, h = 5, w = 7, ho = 4, wo = 6;
      const std::vector<float> in = host_random(n * c * h * w, 8);
      std::vector<float> grid = host_random(n * ho * wo * 2, 9);
      std::vector<float> out_host(n * c * ho * wo);
      for (bool align : {false, true}) {
        run_host(n * c * ho * wo,
                 kernels::GridSampleBilinear<float>{in.data(), grid.data(), out_host.data(), c, h,
                                                    w, ho, wo, align});
        auto gin = Tensor<float, cuda>::from_data(in, {n, c, h, w});
        auto gg = Tensor<float, cuda>::from_data(grid, {n, ho, wo, 2});
        Tensor<float, cuda> gout({n, c, ho, wo});
        Executor<cuda>::launch(
            gout.numel(), kernels::GridSampleBilinear<float>{gin.data(), gg.data(), gout.data(), c,
                                                             h, w, ho, wo, align});
        expect_close(align ? "grid sample, align_corners" : "grid sample", gout.to_vector(),
                     out_host);
      }
    }
    // Bilinear backward: scatter-adds into the input with atomics, many samples per pixel.
    {
      const std::int64_t h = 6, w = 5, samples = 4000;
      const std::vector<float> plane = host_random(h * w, 13);
      std::vector<float> xs(samples), ys(samples);
      for (std::int64_t i = 0; i < samples; ++i) {
        xs[i] = CounterRng{14, 0}.uniform(i) * (w + 1) - 1;
        ys[i] = CounterRng{14, 1}.uniform(i) * (h + 1) - 1;
      }
      std::vector<float> d_plane_host(h * w, 0.f), dxy_host(2 * samples);
      run_host(samples, BilinearBackwardAt{plane.data(), xs.data(), ys.data(), d_plane_host.data(),
                                           dxy_host.data(), h, w});
      auto gp = Tensor<float, cuda>::from_data(plane, {h, w});
      auto gxs = Tensor<float, cuda>::from_data(xs, {samples}),
           gys = Tensor<float, cuda>::from_data(ys, {samples});
      auto gd = Tensor<float, cuda>::zeros({h, w});
      Tensor<float, cuda> gdxy({2 * samples});
      Executor<cuda>::launch(samples, BilinearBackwardAt{gp.data(), gxs.data(), gys.data(),
                                                         gd.data(), gdxy.data(), h, w});
      expect_close("bilinear backward (atomic scatter)", gd.to_vector(), d_plane_host, 1e-4f);
      expect_close("bilinear backward (coordinates)", gdxy.to_vector(), dxy_host, 1e-4f);
    }
    // Swin's window gathers: partition (pad, roll by -shift, cut) and its inverse, exact.
    {
      const std::int64_t b = 2, h = 5, w = 7, c = 3, win = 3, shift = 1, hp = 6, wp = 9;
      const std::int64_t rows = b * (hp / win) * (wp / win) * win * win;
      const std::vector<float> map = host_random(b * h * w * c, 18);
      std::vector<float> win_host(rows * c), back_host(map.size());
      const kernels::WindowLayout at{c, h, w, win, shift, hp, wp};
      run_host(rows, kernels::WindowPartitionRows<float>{map.data(), win_host.data(), at});
      run_host(b * h * w, kernels::WindowReverseRows<float>{win_host.data(), back_host.data(), at});
      auto gmap = Tensor<float, cuda>::from_data(map, {b, h, w, c});
      Tensor<float, cuda> gwin({rows, c}), gback({b, h, w, c});
      Executor<cuda>::launch(rows,
                             kernels::WindowPartitionRows<float>{gmap.data(), gwin.data(), at});
      Executor<cuda>::launch(b * h * w,
                             kernels::WindowReverseRows<float>{gwin.data(), gback.data(), at});
      expect_close("window partition rows (shifted, padded)", gwin.to_vector(), win_host, 0.0f);
      expect_close("window reverse rows", gback.to_vector(), back_host, 0.0f);
    }
    // Swin's window-attention softmax rows: relative position bias and the -100 region mask.
    {
      const std::int64_t nw = 2, bw = 4, heads = 2, n = 9, rows = bw * heads * n;
      const std::vector<float> s = host_random(rows * n, 19), bias = host_random(heads * n * n, 20);
      std::vector<std::uint8_t> regions(nw * n);
      for (std::int64_t i = 0; i < nw * n; ++i)
        regions[i] = static_cast<std::uint8_t>((i * 7 / 5) % 3);
      auto gbias = Tensor<float, cuda>::from_data(bias, {heads, n, n});
      auto greg = Tensor<std::uint8_t, cuda>::from_data(regions, {nw, n});
      for (bool shifted : {false, true}) {
        std::vector<float> p_host = s;
        run_host(rows,
                 kernels::WindowSoftmaxRows<float>{
                     p_host.data(), bias.data(), shifted ? regions.data() : nullptr, heads, n, nw});
        auto gp = Tensor<float, cuda>::from_data(s, {rows, n});
        Executor<cuda>::launch(
            rows, kernels::WindowSoftmaxRows<float>{gp.data(), gbias.data(),
                                                    shifted ? greg.data() : nullptr, heads, n, nw});
        expect_close(shifted ? "window softmax rows, shifted-window mask" : "window softmax rows",
                     gp.to_vector(), p_host);
      }
    }
    // Rotary position embedding, forward and inverse rotation (partial: 6 of 8 features).
    {
      const std::int64_t b = 2, l = 5, heads = 3, hd = 8, r = 6, n = b * l * heads * hd;
      const std::vector<float> x = host_random(n, 21), cos = host_random(l * r / 2, 22),
                               sin = host_random(l * r / 2, 23);
      auto gx = Tensor<float, cuda>::from_data(x, {b, l, heads, hd});
      auto gc = Tensor<float, cuda>::from_data(cos, {l, r / 2}),
           gs = Tensor<float, cuda>::from_data(sin, {l, r / 2});
      for (float sign : {1.0f, -1.0f}) {
        std::vector<float> y_host(n);
        run_host(n, kernels::RotaryBody<float>{x.data(), y_host.data(), cos.data(), sin.data(), l,
                                               heads, hd, r, sign});
        Tensor<float, cuda> gy({b, l, heads, hd});
        Executor<cuda>::launch(n, kernels::RotaryBody<float>{gx.data(), gy.data(), gc.data(),
                                                             gs.data(), l, heads, hd, r, sign});
        expect_close(sign > 0 ? "rotary body" : "rotary body, inverse rotation", gy.to_vector(),
                     y_host);
      }
    }
    // Bilinear resize fused with a top-left crop (post-processing), both corner conventions.
    {
      const std::int64_t p = 3, h = 7, w = 5, oh = 16, ow = 12, wh = 11, ww = 9;
      const std::vector<float> in = host_random(p * h * w, 24);
      auto gin = Tensor<float, cuda>::from_data(in, {p, h, w});
      for (bool align : {false, true}) {
        std::vector<float> out_host(p * wh * ww);
        run_host(p * wh * ww, kernels::ResizeBilinearWindow<float>{in.data(), out_host.data(), h, w,
                                                                   oh, ow, wh, ww, align});
        Tensor<float, cuda> gout({p, wh, ww});
        Executor<cuda>::launch(
            gout.numel(), kernels::ResizeBilinearWindow<float>{gin.data(), gout.data(), h, w, oh,
                                                               ow, wh, ww, align});
        expect_close(align ? "bilinear resize window, align_corners" : "bilinear resize window",
                     gout.to_vector(), out_host);
      }
    }
    // GEMM: f32, bf16 (f32 accumulate) and a transposed batched case against a naive product.
    {
      const std::int64_t b = 3, m = 17, k = 33, n = 9;
      const std::vector<float> a = host_random(b * m * k, 10), bb = host_random(b * k * n, 11);
      std::vector<float> want(b * m * n, 0.f);
      for (int i = 0; i < b; ++i)
        for (int r = 0; r < m; ++r)
          for (int s = 0; s < n; ++s)
            for (int q = 0; q < k; ++q)
              want[(i * m + r) * n + s] += a[(i * m + r) * k + q] * bb[(i * k + q) * n + s];
      auto ga = Tensor<float, cuda>::from_data(a, {b, m, k});
      auto gb = Tensor<float, cuda>::from_data(bb, {b, k, n});
      expect_close("batched matmul f32", matmul(ga, gb).to_vector(), want, 1e-4f);
      const Tensor<float, cuda> gbt = gb.transpose(1, 2).contiguous();
      expect_close("batched matmul with transposed B",
                   matmul(ga, gbt, {.transpose_b = true}).to_vector(), want, 1e-4f);
      Tensor<bf16, cuda> ha = cast<bf16>(ga), hb = cast<bf16>(gb);
      expect_close("batched matmul bf16", matmul(ha, hb).to_vector(), want, 3e-2f);
    }
    parity::run_autograd_cases();
    parity::run_ms_deform_attn_cases();
    parity::run_model_cases();
    parity::run_postprocess_cases();
  } catch (const psalm::Error& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
  std::printf("%d failed\n", parity::failures());
  return parity::failures() == 0 ? 0 : 1;
}
