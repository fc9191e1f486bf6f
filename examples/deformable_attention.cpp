// examples/deformable_attention.cpp — multi-scale deformable attention inside a model of your
// own: a learned set of queries attends over a two-level synthetic feature pyramid (16 x 16 and
// 8 x 8) through models::deformable::MSDeformAttn and regresses where a bright blob sits; a few
// AdamW steps on the CPU bring the loss down. docs/deformable.md walks through it.
// Usage: example_deformable_attention [--steps N]
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/models/deformable/ms_deform_attn.hpp"
#include "psalm/nn.hpp"
#include "psalm/optim.hpp"

using namespace psalm;
using namespace psalm::autograd;
using models::deformable::LevelShapes;
using models::deformable::MSDeformAttn;
using models::deformable::MSDeformAttnConfig;

// Letters: B batch, N queries, S pyramid tokens (both levels), F input features, C width.

namespace {

constexpr std::int64_t kFeatures = 3, kWidth = 32, kQueries = 8;

/// Finds a blob: queries (learned, plus the pooled image content) sample the pyramid around
/// fixed reference points; a linear head reads every query's answer and they are averaged.
class BlobLocator : public nn::Module<float> {
 public:
  BlobLocator(const LevelShapes& shapes, nn::InitRng& rng)
      : queries(Var<float>::parameter(nn::init::normal<float>({1, kQueries, kWidth}, 0.5, rng))),
        input_proj(kFeatures, kWidth, rng),
        attn(MSDeformAttnConfig{.d_model = kWidth, .n_levels = 2, .n_heads = 4, .n_points = 4},
             rng),
        head(kWidth, 2, rng),
        shapes_(shapes) {}

  void visit(nn::ModuleVisitor<float>& v) override {
    v.parameter("queries", queries);
    v.child("input_proj", input_proj);
    v.child("attn", attn);
    v.child("head", head);
  }

  /// pyramid (B, S, F) -> predicted blob centre (B, 2) as (x, y) in [0, 1].
  Var<float> operator()(const Var<float>& pyramid) const {
    const std::int64_t b = pyramid.size(0);
    const Var<float> value = input_proj(pyramid);                             // (B, S, C)
    const Var<float> query = queries + mean(value, 1, true);                  // (B, N, C)
    const Var<float> out = attn(query, reference_points(b), value, shapes_);  // (B, N, C)
    return mean(head(out), 1);                                                // (B, 2)
  }

  Var<float> queries;  // (1, N, C)
  nn::Linear<float> input_proj;
  MSDeformAttn<float> attn;
  nn::Linear<float> head;

 private:
  /// Queries start on a 4 x 2 grid of the image, the same point on both levels: (B, N, 2, 2).
  Tensor<float> reference_points(std::int64_t b) const {
    std::vector<float> ref;
    for (std::int64_t n = 0; n < kQueries; ++n)
      for (int level = 0; level < 2; ++level) {
        ref.push_back((static_cast<float>(n % 4) + 0.5f) / 4.0f);
        ref.push_back((static_cast<float>(n / 4) + 0.5f) / 2.0f);
      }
    return Tensor<float>::from_data(std::span<const float>(ref), Shape{1, kQueries, 2, 2})
        .expand({b, kQueries, 2, 2})
        .contiguous();  // (B, N, L, 2)
  }

  LevelShapes shapes_;
};

/// A batch of pyramids, each with one Gaussian blob at a random centre; per pixel the features
/// are (blob, x * blob, y * blob) with a little noise. Returns (pyramid (B, S, F), centre (B, 2)).
std::pair<Tensor<float>, Tensor<float>> make_batch(const LevelShapes& shapes, std::int64_t b,
                                                   std::uint64_t step) {
  const CounterRng rng{1234, step};
  std::vector<float> feats, centres;
  std::uint64_t draw = 0;
  for (std::int64_t i = 0; i < b; ++i) {
    const float cx = 0.15f + 0.7f * static_cast<float>(rng.uniform(draw++));
    const float cy = 0.15f + 0.7f * static_cast<float>(rng.uniform(draw++));
    centres.insert(centres.end(), {cx, cy});
    for (const auto& [h, w] : shapes.hw)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
          const float px = (static_cast<float>(x) + 0.5f) / static_cast<float>(w);
          const float py = (static_cast<float>(y) + 0.5f) / static_cast<float>(h);
          const float d2 = (px - cx) * (px - cx) + (py - cy) * (py - cy);
          const float blob =
              std::exp(-d2 / (2 * 0.12f * 0.12f)) + 0.05f * static_cast<float>(rng.normal(draw++));
          feats.insert(feats.end(), {blob, px * blob, py * blob});
        }
  }
  return {
      Tensor<float>::from_data(std::span<const float>(feats), Shape{b, shapes.total(), kFeatures}),
      Tensor<float>::from_data(std::span<const float>(centres), Shape{b, 2})};
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 150;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--steps") steps = std::stoi(argv[i + 1]);
  try {
    const LevelShapes shapes{{{16, 16}, {8, 8}}};  // S = 320 tokens
    nn::InitRng init{7};
    BlobLocator model(shapes, init);
    optim::AdamW<float> opt(
        {{.params = model.trainable_parameters(), .lr = 3e-3, .weight_decay = 1e-4}});
    std::printf("BlobLocator: %lld parameters, MSDeformAttn over %lld tokens on 2 levels\n",
                static_cast<long long>(model.parameter_count()),
                static_cast<long long>(shapes.total()));
    double first = 0, last = 0;
    for (int step = 0; step < steps; ++step) {
      const auto [pyramid, centre] = make_batch(shapes, 16, static_cast<std::uint64_t>(step));
      const Var<float> pred = model(Var<float>(pyramid));  // (B, 2)
      const Var<float> err = pred - Var<float>(centre);    // (B, 2)
      const Var<float> loss = mean(err * err);             // ()
      opt.zero_grad();
      backward(loss);
      opt.step();
      const double value = loss.value().item();
      if (step == 0) first = value;
      last = value;
      if (step % 10 == 0 || step == steps - 1) std::printf("step %4d  loss %.5f\n", step, value);
    }
    std::printf("loss %.5f -> %.5f (%s)\n", first, last,
                last < first ? "went down" : "did not go down");
    return last < first ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
