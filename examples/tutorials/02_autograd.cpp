// examples/tutorials/02_autograd.cpp — the program of docs/tutorials/02_autograd.md: a new
// differentiable op (swish, x * sigmoid(x)) with its forward and hand-written backward, checked
// against central finite differences with the test suite's checker, then a small MLP built on
// it, trained with AdamW to tell points inside a ring from points outside. Writes the loss
// curve and the learned decision map.
// Depends on: psalm/autograd.hpp, psalm/optim.hpp, train/plot.hpp, io/image.hpp and the
// finite-difference helper of tests/support/gradcheck.hpp.
// Usage: tutorial_02_autograd OUT_DIR   (PSALM_TUTORIAL_SHORT=1: 40 steps instead of 400)
// Test: the test tutorial_02_autograd (tests/CMakeLists.txt) runs it as the page says.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/io/image.hpp"
#include "psalm/optim.hpp"
#include "psalm/train/plot.hpp"
#include "support/gradcheck.hpp"

using namespace psalm;
using autograd::Var;

// [snippet:op]
/// What swish's backward needs: where to send the gradient, and the input.
template <autograd::Real T, Device Dev>
struct SwishContext {
  autograd::GradRef<T, Dev> x;
  Tensor<T, Dev> x_value;
};

/// swish(x) = x * sigmoid(x); d_x = d_y * s * (1 + x * (1 - s)) with s = sigmoid(x).
/// One tape entry instead of two (mul and sigmoid), one saved tensor.
template <autograd::Real T, Device Dev>
Var<T, Dev> swish(const Var<T, Dev>& x) {
  const Tensor<T, Dev>& v = x.value();
  Tensor<T, Dev> y = v * sigmoid(v);  // same shape as x, one pass
  return autograd::record(
      y, autograd::should_record(x), SwishContext<T, Dev>{x.grad_ref(), v},
      [](SwishContext<T, Dev>& c, const Tensor<T, Dev>& d_y) {
        const Tensor<T, Dev> s = sigmoid(c.x_value);  // recomputed, not saved
        c.x.accumulate(Tensor<T, Dev>(d_y * s * (T(1) + c.x_value * (T(1) - s))));
      });
}
// [/snippet:op]

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tutorial_02_autograd OUT_DIR\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  const bool short_run = std::getenv("PSALM_TUTORIAL_SHORT") != nullptr;
  try {
    // [snippet:check]
    // The gradient of L(x) = sum(swish(x) * w) by backward, against central differences.
    const Tensor<double> x0 = Tensor<double>::randn({3, 4}, /*seed=*/1) * 3.0;  // (3, 4)
    const auto w = Tensor<double>::randn({3, 4}, /*seed=*/2);                   // (3, 4)
    auto x = Var<double>::parameter(x0);
    autograd::backward(swish(x), w);  // x.grad(): (3, 4)
    const auto loss_of = [&](const std::vector<double>& flat) {
      autograd::NoGrad no_tape;
      const auto v = Tensor<double>::from_data(std::span<const double>(flat), {3, 4});
      return sum(Tensor<double>(swish(Var<double>(v)).value() * w)).item();
    };
    const std::vector<double> numeric = testing::numeric_gradient(loss_of, x0.to_vector());
    const std::vector<double> analytic = x.grad().to_vector();
    double worst = 0;
    for (std::size_t i = 0; i < numeric.size(); ++i)
      worst = std::max(worst, std::fabs(numeric[i] - analytic[i]));
    std::printf("swish backward vs finite differences: max |difference| %.2e\n", worst);
    PSALM_CHECK(worst < 1e-7, "swish's backward is wrong: ", worst);
    // [/snippet:check]

    // [snippet:data]
    // 512 points in [-1, 1]^2; label 1 inside the ring 0.35 < r < 0.75.
    const std::int64_t n = 512;
    const Tensor<float> points = Tensor<float>::rand({n, 2}, /*seed=*/3) * 2.0f - 1.0f;  // (n, 2)
    auto labels = Tensor<float>::zeros({n, 1});                                          // (n, 1)
    for (std::int64_t i = 0; i < n; ++i) {
      const float r = std::hypot(points.item({i, 0}), points.item({i, 1}));
      labels.data()[i] = (r > 0.35f && r < 0.75f) ? 1.0f : 0.0f;
    }
    // [/snippet:data]

    // [snippet:model]
    // A 2 -> 32 -> 32 -> 1 MLP; parameters are leaves that require gradients.
    auto param = [](Shape shape, std::uint64_t seed, float scale) {
      return Var<float>::parameter(Tensor<float>(Tensor<float>::randn(shape, seed) * scale));
    };
    std::vector<Var<float>> params{param({32, 2}, 10, 0.7f),  param({32}, 11, 0.1f),
                                   param({32, 32}, 12, 0.2f), param({32}, 13, 0.1f),
                                   param({1, 32}, 14, 0.2f),  param({1}, 15, 0.0f)};
    auto mlp = [&](const Var<float>& in) {                         // in: (N, 2)
      auto h = swish(autograd::linear(in, params[0], params[1]));  // (N, 32)
      h = swish(autograd::linear(h, params[2], params[3]));        // (N, 32)
      return autograd::linear(h, params[4], params[5]);            // (N, 1) logits
    };
    // [/snippet:model]

    // [snippet:train]
    optim::AdamW<float> opt({{.params = params, .lr = 1e-2, .weight_decay = 0.0}});
    const int steps = short_run ? 40 : 400;
    std::vector<double> xs, losses;
    for (int step = 0; step < steps; ++step) {
      opt.zero_grad();
      const Var<float> loss =
          autograd::binary_cross_entropy_with_logits(mlp(Var<float>(points)), labels);
      autograd::backward(loss);
      opt.step();
      xs.push_back(step);
      losses.push_back(loss.value().item());
    }
    // [/snippet:train]

    // [snippet:result]
    autograd::NoGrad no_tape;  // evaluation only: record nothing
    const Tensor<float> logits = mlp(Var<float>(points)).value();        // (n, 1)
    const Tensor<float> correct = ((logits > 0.0f) == (labels > 0.5f));  // (n, 1), 0 / 1
    std::printf("after %d steps: loss %.4f, training accuracy %.1f %%\n", steps, losses.back(),
                100.0 * mean(correct).item());
    // The decision map on a 128 x 128 grid, with the training points drawn on it.
    const std::int64_t g = 128;
    auto grid = Tensor<float>::empty({g * g, 2});  // (g*g, 2)
    for (std::int64_t i = 0; i < g * g; ++i) {
      grid.data()[2 * i] = (i % g + 0.5f) / g * 2 - 1;
      grid.data()[2 * i + 1] = (i / g + 0.5f) / g * 2 - 1;
    }
    const Tensor<float> p = sigmoid(mlp(Var<float>(grid)).value());  // (g*g, 1)
    auto map = Tensor<std::uint8_t>::empty({g, g, 3});               // (H, W, C)
    for (std::int64_t i = 0; i < g * g; ++i) {
      const float v = p.data()[i];
      map.data()[3 * i] = std::uint8_t(60 + 180 * v);
      map.data()[3 * i + 1] = std::uint8_t(90 + 60 * v);
      map.data()[3 * i + 2] = std::uint8_t(220 - 180 * v);
    }
    for (std::int64_t i = 0; i < n; ++i) {
      const auto col = std::int64_t((points.item({i, 0}) + 1) / 2 * g);
      const auto row = std::int64_t((points.item({i, 1}) + 1) / 2 * g);
      const std::uint8_t ink = labels.data()[i] > 0.5f ? 255 : 0;
      for (int c = 0; c < 3; ++c)
        map.data()[3 * (std::min(row, g - 1) * g + std::min(col, g - 1)) + c] = ink;
    }
    std::filesystem::create_directories(out);
    io::save_png(out / "decision.png", map);
    io::save_png(out / "loss.png", train::plot_series({{.x = xs, .y = losses}}, 480, 240));
    std::printf("wrote %s and %s\n", (out / "decision.png").c_str(), (out / "loss.png").c_str());
    // [/snippet:result]
  } catch (const Error& e) {
    std::fprintf(stderr, "tutorial_02_autograd: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
