// examples/tutorials/03_own_segmenter.cpp — docs/tutorials/03_own_segmenter.md's program:
// Mask2Former without the language model (Swin, pixel decoder, masked-attention decoder,
// matcher, criterion; learned queries and class embeddings) trained on synthetic scenes.
// Depends on: models/*, psalm/{config,criterion}, data/synthetic, optim, io/image.
// Usage: tutorial_03_own_segmenter OUT_DIR (PSALM_TUTORIAL_SHORT=1: 3 steps, not 600).
// Test: the test tutorial_03_own_segmenter (tests/CMakeLists.txt) runs it as the page says.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "psalm/data/synthetic.hpp"
#include "psalm/io/image.hpp"
#include "psalm/models/deformable.hpp"
#include "psalm/models/mask2former.hpp"
#include "psalm/models/swin.hpp"
#include "psalm/optim.hpp"
#include "psalm/psalm/config.hpp"
#include "psalm/psalm/criterion.hpp"
#include "psalm/tensor.hpp"

using namespace psalm;
using autograd::Var;
namespace syn = data::synthetic;
namespace m2f = models::mask2former;

// [snippet:model]
/// Swin -> pixel decoder -> masked-attention decoder; the decoder's queries are learned, and
/// its class logits are query-embedding dot products with one learned vector per class.
struct Segmenter : nn::Module<float> {
  Segmenter(const PsalmConfig& c, std::int64_t classes, nn::InitRng& rng)
      : swin(c.swin, rng),
        pixel_decoder(c.pixel_decoder, rng),
        decoder(c.mask_decoder, rng),
        class_embed(classes, c.mask_decoder.hidden_dim, rng) {}
  void visit(nn::ModuleVisitor<float>& v) override {
    v.child("swin", swin);
    v.child("pixel_decoder", pixel_decoder);
    v.child("decoder", decoder);
    v.child("class_embed", class_embed);
  }
  /// pixels (B, 3, T, T) -> one prediction set per decoder layer (deep supervision).
  std::vector<m2f::Prediction<float>> operator()(const Tensor<float>& pixels) {
    const auto features = swin(Var<float>(pixels));  // res2 .. res5
    const auto pixel = pixel_decoder(features);      // 3 maps + masks
    m2f::Conditions<float> classes;
    classes.class_conditions = autograd::stack(
        std::vector<Var<float>>(pixels.size(0), class_embed.weight), 0);  // (B, C, D)
    const Var<float> queries = autograd::stack(
        std::vector<Var<float>>(pixels.size(0), decoder.query_feat.weight), 0);  // (B, Q, D)
    return decoder(queries, pixel.multi_scale, pixel.mask_features, classes).predictions;
  }
  models::swin::SwinBackbone<float> swin;
  models::deformable::PixelDecoder<float> pixel_decoder;
  m2f::MaskedAttentionDecoder<float> decoder;
  nn::Embedding<float> class_embed;
};
// [/snippet:model]

// [snippet:data]
constexpr std::int64_t kSide = 128, kClasses = 18;  // 12 shapes + 6 stuff kinds; + background

/// Scene `index` as a normalised image (3, T, T) and its panoptic segments as targets.
std::pair<Tensor<float>, SampleTargets<>> example(syn::Split split, std::uint64_t index) {
  const syn::Scene s =
      syn::generate_scene({.height = kSide, .width = kSide, .split = split}, index);
  std::vector<std::int32_t> ids;
  const auto segments = syn::panoptic_segments(s, &ids);
  SampleTargets<> t{Tensor<float>::zeros({std::int64_t(segments.size()), kSide, kSide}), {}};
  for (std::size_t n = 0; n < segments.size(); ++n) {
    t.labels.push_back(segments[n].category_id - 1);   // 0 .. 17
    float* mask = t.masks.data() + n * kSide * kSide;  // (T, T)
    for (std::int64_t p = 0; p < kSide * kSide; ++p) mask[p] = ids[p] == segments[n].id;
  }
  const Tensor<float> pixels = (cast<float>(s.image.permute({2, 0, 1})) / 255.0f - 0.45f) * 4.0f;
  return {pixels, t};  // (3, T, T)
}
// [/snippet:data]

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: tutorial_03_own_segmenter OUT_DIR\n"), 2;
  const std::filesystem::path out = argv[1];
  const int steps = std::getenv("PSALM_TUTORIAL_SHORT") ? 3 : 600;
  try {
    // [snippet:train]
    const PsalmConfig config = PsalmConfig::psalm_tiny();  // its Swin, decoders, loss weights
    nn::InitRng rng{.seed = 0};
    Segmenter model(config, kClasses + 1, rng);
    const Criterion<float> criterion(config.criterion, config.matcher);
    optim::AdamW<float> opt({{.params = model.trainable_parameters(), .lr = 3e-4}});
    PointSampler points(/*seed=*/1);
    const std::int64_t batch = 2;
    for (int step = 0; step < steps; ++step) {
      auto pixels = Tensor<float>::empty({batch, 3, kSide, kSide});  // (B, 3, T, T)
      std::vector<SampleTargets<>> targets;
      for (std::int64_t b = 0; b < batch; ++b) {
        auto [image, target] = example(syn::Split::train, step * batch + b);
        pixels.select(0, b).assign(image);
        targets.push_back(std::move(target));
      }
      opt.zero_grad();
      const auto loss = criterion(model(pixels), targets, Task::panoptic, points);
      autograd::backward(loss.total);
      opt.step();
      if (step % 50 == 0 || step + 1 == steps)
        std::printf("step %4d  loss %.3f\n", step, loss.total.value().item());
    }
    // [/snippet:train]
    // [snippet:result]
    // Per pixel of a held-out scene, argmax_c sum_q p(c | q) sigmoid(mask_q) (Mask2Former's).
    autograd::NoGrad no_tape;
    auto [image, target] = example(syn::Split::val, 7);
    const auto last = model(Tensor<float>(image.unsqueeze(0))).back();  // the last layer
    const Tensor<float> probs =
        autograd::softmax(last.class_logits).value().select(0, 0);         // (Q, C+1)
    const Tensor<float> masks = sigmoid(last.masks.value().select(0, 0));  // (Q, h, w)
    const std::int64_t q = masks.size(0), h = masks.size(1), w = masks.size(2);
    const Tensor<float> scores = matmul(probs.slice(1, 0, kClasses), masks.reshape({q, h * w}),
                                        {.transpose_a = true});  // (C, h*w)
    const auto label = argmax(scores, 0);                        // (h*w,) int64
    std::int64_t right = 0;
    auto picture = Tensor<std::uint8_t>::zeros({kSide, 3 * kSide, 3});  // image | pred | truth
    auto colour = [](std::int64_t k, int c) { return std::uint8_t(40 + 53 * (k * (c + 3) % 5)); };
    for (std::int64_t y = 0; y < kSide; ++y)
      for (std::int64_t x = 0; x < kSide; ++x) {
        const std::int64_t predicted = label.data()[(y * h / kSide) * w + x * w / kSide];
        std::int64_t truth = kClasses;
        for (std::int64_t n = 0; n < target.count(); ++n)
          if (target.masks.item({n, y, x}) > 0) truth = target.labels[n];
        right += predicted == truth;
        std::uint8_t* px = picture.data() + (y * 3 * kSide + x) * 3;
        for (int c = 0; c < 3; ++c) {
          px[c] = std::uint8_t(std::clamp((image.item({c, y, x}) / 4 + 0.45f) * 255, 0.0f, 255.0f));
          px[3 * kSide + c] = colour(predicted, c);
          px[6 * kSide + c] = colour(truth, c);
        }
      }
    std::printf("held-out scene: %.1f %% of pixels get the right class\n",
                100.0 * right / (kSide * kSide));
    std::filesystem::create_directories(out);
    io::save_png(out / "segmenter.png", picture);
    std::printf("wrote %s\n", (out / "segmenter.png").c_str());
    // [/snippet:result]
  } catch (const Error& e) {
    std::fprintf(stderr, "tutorial_03_own_segmenter: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
