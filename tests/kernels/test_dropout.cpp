// Tests for psalm/kernels/dropout.hpp: the mask is a function of (seed, stream, index) only —
// the OpenMP executor and an emulated CUDA grid-stride launch draw the same one — the keep
// rate is 1 - p, and group > 1 keeps or drops whole groups.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "psalm/backend/cpu/emulate.hpp"
#include "psalm/kernels/dropout.hpp"
#include "psalm/kernels/launch.hpp"
#include "psalm/tensor.hpp"

using namespace psalm;

TEST_CASE("dropout kernel: same mask on the executor and an emulated GPU launch",
          "[kernels][dropout]") {
  const std::int64_t n = 10007;
  const Tensor<float> x = Tensor<float>::ones({n});
  Tensor<float> a(x.shape()), b(x.shape());
  const CounterRng rng{1234, 7};
  Executor<cpu>::launch(n, kernels::DropoutMask<float>{x.data(), a.data(), rng, 0.3f, 1 / 0.7f, 1},
                        64);
  cpu_backend::emulate_launch(
      13, 32,
      kernels::GridStride<kernels::DropoutMask<float>>{
          n, kernels::DropoutMask<float>{x.data(), b.data(), rng, 0.3f, 1 / 0.7f, 1}});
  REQUIRE(a.to_vector() == b.to_vector());
  // Keep rate 1 - p within 5 standard deviations; kept values are exactly 1 / (1 - p).
  std::int64_t kept = 0;
  for (float v : a.to_vector()) {
    REQUIRE((v == 0.0f || v == 1 / 0.7f));
    kept += v != 0.0f;
  }
  const double sd = std::sqrt(n * 0.3 * 0.7);
  REQUIRE(std::fabs(static_cast<double>(kept) - 0.7 * n) < 5 * sd);
  // Another stream gives another mask.
  Tensor<float> c(x.shape());
  Executor<cpu>::launch(
      n, kernels::DropoutMask<float>{x.data(), c.data(), CounterRng{1234, 8}, 0.3f, 1 / 0.7f, 1});
  REQUIRE(c.to_vector() != a.to_vector());
}

TEST_CASE("dropout kernel: groups are kept or dropped whole", "[kernels][dropout]") {
  const std::int64_t groups = 64, size = 5;
  const Tensor<double> x = Tensor<double>::randn({groups, size}, 3);
  Tensor<double> y(x.shape());
  Executor<cpu>::launch(x.numel(), kernels::DropoutMask<double>{x.data(), y.data(),
                                                                CounterRng{9, 0}, 0.5f, 2.0, size});
  int dropped = 0;
  for (std::int64_t gi = 0; gi < groups; ++gi) {
    const bool zero = y.item({gi, 0}) == 0.0;
    dropped += zero;
    for (std::int64_t j = 0; j < size; ++j)
      REQUIRE(y.item({gi, j}) == (zero ? 0.0 : 2.0 * x.item({gi, j})));
  }
  REQUIRE((dropped > 0 && dropped < groups));
}
