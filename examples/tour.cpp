// examples/tour.cpp — a guided tour of what psalm can do today, and the README's main job
// until the segmentation model lands: tensors and fused expressions, a Swin-sized batched
// matmul, PSALM's tokenizer on a real prompt, the Hungarian assignment PSALM's matcher uses,
// and referring-segmentation metrics on two masks.
// Usage: example_tour [--gpt2 DIR]   (DIR holds encoder.json and vocab.bpe; default: the
//        repository's third_party/gpt2-bpe, PSALM_GPT2_DIR from examples/CMakeLists.txt)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "psalm/eval/referring.hpp"
#include "psalm/io/tokenizer.hpp"
#include "psalm/psalm/linear_assignment.hpp"
#include "psalm/tensor.hpp"

using namespace psalm;

int main(int argc, char** argv) {
  std::filesystem::path gpt2 = PSALM_GPT2_DIR;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--gpt2") gpt2 = argv[i + 1];

  try {
    // 1. Tensors: views share storage, expressions fuse into one pass.
    const auto x = Tensor<float>::randn({4, 6}, /*seed=*/0);  // (4, 6)
    const auto bias = Tensor<float>::arange(6);               // (6,)
    const Tensor<float> y = gelu(x * 2.0f + bias) - 1.0f;     // (4, 6), one pass
    std::printf("1. fused expression   %s\n", to_string(y, 4).c_str());
    std::printf("   row means          %s\n", to_string(mean(y, 1)).c_str());

    // 2. Window attention scores as one batched GEMM: 484 windows of 144 tokens, head dim 32.
    const auto q = Tensor<float>::randn({484, 144, 32}, 1),
               k = Tensor<float>::randn({484, 144, 32}, 2);
    const auto start = std::chrono::steady_clock::now();
    const auto scores =
        matmul(q, k, {.transpose_b = true, .alpha = 1.0 / std::sqrt(32.0)});  // (484, 144, 144)
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("2. batched matmul     %s in %.1f ms (%.1f GFLOP/s)\n",
                scores.shape().to_string().c_str(), ms, 2.0 * 484 * 144 * 144 * 32 / (ms * 1e6));

    // 3. PSALM's tokenizer (GPT-2 BPE + Phi-1.5 whitespace tokens + [PAD], [SEG]).
    const auto tok = io::Tokenizer::phi_1_5_psalm(gpt2);
    const std::string prompt = "Please segment the person on the left. [SEG]";
    const std::vector<std::int32_t> ids = tok.encode(prompt);
    std::printf("3. tokenizer          \"%s\" -> %zu ids:", prompt.c_str(), ids.size());
    for (auto id : ids) std::printf(" %d", id);
    std::printf("\n   decodes back       \"%s\"\n", tok.decode(ids).c_str());

    // 4. Matching 5 predictions to 3 targets at minimum total cost (PSALM's Hungarian matcher).
    const auto cost = Tensor<double>::rand({5, 3}, 3).to_vector();
    const Assignment match = linear_sum_assignment(cost, 5, 3);
    std::printf("4. assignment         total cost %.4f:", match.total_cost);
    for (std::size_t i = 0; i < match.rows.size(); ++i)
      std::printf(" q%lld->t%lld", (long long)match.rows[i], (long long)match.cols[i]);
    std::printf("\n");

    // 5. Referring metrics on a predicted and a true square mask (8x8 image).
    std::vector<std::uint8_t> pred(64, 0), gt(64, 0);
    for (int r = 2; r < 6; ++r)
      for (int c = 2; c < 6; ++c) gt[r * 8 + c] = 1;
    for (int r = 3; r < 7; ++r)
      for (int c = 2; c < 6; ++c) pred[r * 8 + c] = 1;
    eval::ReferringEvaluator referring;
    referring.add(eval::MaskView{pred.data(), 8, 8}, eval::MaskView{gt.data(), 8, 8});
    std::printf("5. referring metrics  %s\n", referring.result().to_string().c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "example_tour: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
