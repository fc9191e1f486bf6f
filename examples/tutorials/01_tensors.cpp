// examples/tutorials/01_tensors.cpp — the program of docs/tutorials/01_tensors.md: tensors,
// views that share storage, fused elementwise expressions, reductions and a matrix product on
// the CPU, ending with an image drawn by one fused expression.
// Depends on: psalm/tensor.hpp, psalm/io/image.hpp.
// Usage: tutorial_01_tensors OUT_DIR   (writes OUT_DIR/blobs.png)
// Test: the test tutorial_01_tensors (tests/CMakeLists.txt) runs it as the page says.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "psalm/io/image.hpp"
#include "psalm/tensor.hpp"

using namespace psalm;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tutorial_01_tensors OUT_DIR\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  try {
    // [snippet:build]
    auto a = Tensor<float>::arange(6).reshape({2, 3});   // (2, 3): 0 1 2 / 3 4 5
    auto z = Tensor<float>::zeros({2, 3});               // (2, 3)
    auto r = Tensor<float>::randn({2, 3}, /*seed=*/7);   // (2, 3), N(0, 1), reproducible
    auto w = Tensor<float>::from_data({1, -1, 2}, {3});  // (3,)
    std::printf("a = %s\n", to_string(a).c_str());
    // [/snippet:build]
    std::printf("z = %s\nr = %s\nw = %s\n", to_string(z).c_str(), to_string(r).c_str(),
                to_string(w).c_str());

    // [snippet:view]
    auto at = a.transpose(0, 1);  // (3, 2): a view, no copy
    auto col = a.select(1, 2);    // (2,): column 2 of a, a view
    col.fill(-1.0f);              // writes through to a
    std::printf("a after col.fill(-1) = %s\n", to_string(a).c_str());
    std::printf("a^T = %s, contiguous: %d\n", to_string(at).c_str(), at.is_contiguous());
    // [/snippet:view]

    // [snippet:fuse]
    // One pass over the elements, no temporaries: the right-hand side is an expression tree.
    Tensor<float> y = relu(a * 2.0f + w) - exp(-abs(a));  // (2, 3); w broadcasts over rows
    y.assign(y * 0.5f);                                   // in place, still one pass
    std::printf("y = %s\n", to_string(y).c_str());
    // [/snippet:fuse]

    // [snippet:reduce]
    const auto row_sums = sum(y, /*axis=*/1);               // (2,)
    const auto best = argmax(y, /*axis=*/1);                // (2,) int64
    const auto gram = matmul(y, y, {.transpose_b = true});  // (2, 2)
    std::printf("row sums %s, argmax %s\ngram %s\n", to_string(row_sums).c_str(),
                to_string(best).c_str(), to_string(gram).c_str());
    // [/snippet:reduce]

    // [snippet:timing]
    const auto big = Tensor<float>::randn({2048, 2048}, 1);  // (2048, 2048)
    auto time_ms = [](auto&& f) {
      const auto t0 = std::chrono::steady_clock::now();
      f();
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
          .count();
    };
    const double fused = time_ms([&] {
      Tensor<float> o = sigmoid(big * 3.0f + 1.0f) * big;  // one pass
    });
    const double unfused = time_ms([&] {
      Tensor<float> t1 = big * 3.0f;  // three passes,
      Tensor<float> t2 = t1 + 1.0f;   // two temporaries
      Tensor<float> o = sigmoid(t2) * big;
    });
    std::printf("fused %.1f ms, step by step %.1f ms\n", fused, unfused);
    // [/snippet:timing]

    // [snippet:image]
    // An image from one expression: three Gaussian blobs on a 256 x 256 grid, one per colour.
    const std::int64_t n = 256;
    const Tensor<float> xs = Tensor<float>::arange(n).reshape({1, n}) / float(n);  // (1, 256)
    const Tensor<float> ys = Tensor<float>::arange(n).reshape({n, 1}) / float(n);  // (256, 1)
    auto image = Tensor<std::uint8_t>::zeros({n, n, 3});                           // (H, W, C)
    const float cx[3] = {0.35f, 0.65f, 0.5f}, cy[3] = {0.4f, 0.4f, 0.68f};
    for (int c = 0; c < 3; ++c) {
      const Tensor<float> dx = xs - cx[c];  // (1, 256)
      const Tensor<float> dy = ys - cy[c];  // (256, 1)
      // (256, 256) by broadcasting, cast to bytes, written into one channel (a strided view).
      image.select(2, c).assign(cast<std::uint8_t>(255.0f * exp((dx * dx + dy * dy) * -30.0f)));
    }
    std::filesystem::create_directories(out);
    io::save_png(out / "blobs.png", image);
    std::printf("wrote %s\n", (out / "blobs.png").c_str());
    // [/snippet:image]
  } catch (const Error& e) {
    std::fprintf(stderr, "tutorial_01_tensors: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
