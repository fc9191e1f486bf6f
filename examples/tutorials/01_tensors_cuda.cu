// examples/tutorials/01_tensors_cuda.cu — the GPU part of docs/tutorials/01_tensors.md: the
// same tensor code with Tensor<float, psalm::cuda>, checked against plain host loops over the
// same random numbers. Built where nvcc is found (PSALM_WITH_CUDA); exits 77 without a GPU.
// Depends on: psalm/cuda.cuh.
// Usage: tutorial_01_tensors_cuda
// Test: the test tutorial_01_tensors_cuda (tests/CMakeLists.txt), skipped without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "psalm/cuda.cuh"

using namespace psalm;

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("no CUDA device: skipped\n");
    return 77;
  }
  try {
    // [snippet:cuda]
    const std::int64_t n = 1024;
    const auto x = Tensor<float, cuda>::randn({n, n}, /*seed=*/1);  // (n, n) drawn on the GPU
    const Tensor<float, cuda> y = sigmoid(x * 3.0f + 1.0f) * x;     // (n, n), one kernel
    const auto rows = sum(y, /*axis=*/1);                           // (n,)
    const auto gram = matmul(x, x, {.transpose_b = true});          // (n, n), cuBLAS
    const std::vector<float> got = rows.to_vector();                // copied to the host
    // The same numbers on the host: randn is Philox, a pure function of (seed, index).
    double worst = 0;
    for (std::int64_t r = 0; r < n; ++r) {
      double want = 0;
      for (std::int64_t c = 0; c < n; ++c) {
        const double v = CounterRng{1, 0}.normal(static_cast<std::uint64_t>(r * n + c));
        want += v / (1 + std::exp(-(3 * v + 1)));
      }
      worst = std::max(worst, std::fabs(want - got[r]) / (1 + std::fabs(want)));
    }
    std::printf("GPU row sums vs host loops: max relative difference %.1e; gram %s\n", worst,
                gram.shape().to_string().c_str());
    // [/snippet:cuda]
    return worst < 1e-4 ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "tutorial_01_tensors_cuda: error: %s\n", e.what());
    return 2;
  }
}
