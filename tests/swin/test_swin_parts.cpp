// Tests of the Swin pieces (include/psalm/models/swin/{config, window (autograd/ops/window*),
// window_attention, patch_merging}.hpp): the HF config is read with its field names; window
// partition / reverse equal a literal pad + roll + partition and invert each other; the
// shifted-window mask equals Mask2Former's slice construction on the padded size; the relative
// position index has its known values; the fused window attention equals the same maths
// composed from autograd ops, and its gradients, and those of the window ops, match finite
// differences in double; patch merging gathers in the upstream order.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "psalm/models/swin.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::models::swin;
using autograd::Var;

namespace {

const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/swin/";

std::vector<double> values_of(const Tensor<double>& t) { return t.contiguous().to_vector(); }

Tensor<double> tensor_of(const std::vector<double>& v, const Shape& shape) {
  return Tensor<double>::from_data(v, shape);
}

/// The literal upstream recipe on (B, H, W, C): F.pad to Hp x Wp, torch.roll by -shift,
/// window_partition -> (B * nW, N, C), written with plain loops.
std::vector<double> literal_partition(const std::vector<double>& x, std::int64_t b,
                                      const WindowGrid& g, std::int64_t c) {
  const std::int64_t hp = g.padded_height, wp = g.padded_width, w = g.window;
  std::vector<double> padded(b * hp * wp * c, 0.0), rolled(padded.size());
  for (std::int64_t n = 0; n < b; ++n)
    for (std::int64_t y = 0; y < g.height; ++y)
      for (std::int64_t xx = 0; xx < g.width; ++xx)
        for (std::int64_t k = 0; k < c; ++k)
          padded[((n * hp + y) * wp + xx) * c + k] = x[((n * g.height + y) * g.width + xx) * c + k];
  for (std::int64_t n = 0; n < b; ++n)  // roll(-shift): out[i] = in[(i + shift) mod size]
    for (std::int64_t y = 0; y < hp; ++y)
      for (std::int64_t xx = 0; xx < wp; ++xx)
        for (std::int64_t k = 0; k < c; ++k)
          rolled[((n * hp + y) * wp + xx) * c + k] =
              padded[((n * hp + (y + g.shift) % hp) * wp + (xx + g.shift) % wp) * c + k];
  std::vector<double> out;
  for (std::int64_t n = 0; n < b; ++n)
    for (std::int64_t wy = 0; wy < hp / w; ++wy)
      for (std::int64_t wx = 0; wx < wp / w; ++wx)
        for (std::int64_t iy = 0; iy < w; ++iy)
          for (std::int64_t ix = 0; ix < w; ++ix)
            for (std::int64_t k = 0; k < c; ++k)
              out.push_back(rolled[((n * hp + wy * w + iy) * wp + wx * w + ix) * c + k]);
  return out;
}

/// Mask2Former's BasicLayer mask: img_mask regions by the slices (0, -w), (-w, -s), (-s, None)
/// of the padded map, window-partitioned, -100 where two tokens' region counters differ.
std::vector<float> literal_mask(const WindowGrid& g) {
  const std::int64_t hp = g.padded_height, wp = g.padded_width, w = g.window, s = g.shift;
  std::vector<int> img(hp * wp, 0);
  const std::int64_t hb[4] = {0, hp - w, hp - s, hp}, wb[4] = {0, wp - w, wp - s, wp};
  int cnt = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j, ++cnt)
      for (std::int64_t y = std::max<std::int64_t>(hb[i], 0); y < hb[i + 1]; ++y)
        for (std::int64_t x = std::max<std::int64_t>(wb[j], 0); x < wb[j + 1]; ++x)
          img[y * wp + x] = cnt;
  std::vector<float> out;
  for (std::int64_t wy = 0; wy < hp / w; ++wy)
    for (std::int64_t wx = 0; wx < wp / w; ++wx)
      for (std::int64_t i = 0; i < w * w; ++i)
        for (std::int64_t j = 0; j < w * w; ++j) {
          const int a = img[(wy * w + i / w) * wp + wx * w + i % w];
          const int b = img[(wy * w + j / w) * wp + wx * w + j % w];
          out.push_back(a == b ? 0.0f : -100.0f);
        }
  return out;
}

/// softmax(q k^T * scale + bias + mask) v composed from autograd ops, (Bw, N, 3C) -> (Bw, N, C).
Var<double> composed_attention(const Var<double>& qkv, const Var<double>& bias,
                               const Tensor<double>& mask, std::int64_t heads) {
  const std::int64_t bw = qkv.size(0), n = qkv.size(1), c = qkv.size(2) / 3, d = c / heads;
  const Var<double> parts = autograd::permute(autograd::reshape(qkv, {bw, n, 3, heads, d}),
                                              {2, 0, 3, 1, 4});  // (3, Bw, H, N, D)
  auto part = [&](int i) {
    return autograd::reshape(autograd::slice(parts, 0, i, i + 1), {bw, heads, n, d});
  };
  Var<double> s = autograd::scale(autograd::matmul(part(0), autograd::transpose(part(1), 2, 3)),
                                  1.0 / std::sqrt(static_cast<double>(d)));  // (Bw, H, N, N)
  s = s + autograd::unsqueeze(bias, 0);
  if (mask.defined()) {
    const std::int64_t nw = mask.size(0);
    s = autograd::reshape(
        autograd::reshape(s, {bw / nw, nw, heads, n, n}) + Var<double>(mask.view({1, nw, 1, n, n})),
        {bw, heads, n, n});
  }
  const Var<double> y = autograd::matmul(autograd::softmax(s), part(2));  // (Bw, H, N, D)
  return autograd::reshape(autograd::permute(y, {0, 2, 1, 3}), {bw, n, c});
}

}  // namespace

TEST_CASE("SwinConfig: reads a Hugging Face SwinConfig JSON by its field names", "[swin]") {
  const SwinConfig c =
      SwinConfig::from_json(io::ConfigReader::from_file(kDir + "tiny_config.json"));
  CHECK(c.embed_dim == 6);
  CHECK(c.patch_size == 2);
  CHECK(c.depths == std::vector<std::int64_t>{2, 2, 2, 2});
  CHECK(c.num_heads == std::vector<std::int64_t>{1, 2, 2, 4});
  CHECK(c.window_size == 3);
  CHECK(c.out_indices == std::vector<std::int64_t>{1, 2, 3, 4});
  CHECK(c.layer_norm_eps == Approx(1e-5));
  const SwinConfig b = SwinConfig::swin_b_384();
  CHECK(b.stage_dim(3) == 1024);
  CHECK(b.total_blocks() == 24);
  CHECK(b.drop_path_rate == Approx(0.3));
  auto from = [](const std::string& json) {
    return SwinConfig::from_json(io::ConfigReader::from_text(json, "cfg.json"));
  };
  CHECK(from(R"({"out_features": ["stage2", "stage4"]})").out_indices ==
        std::vector<std::int64_t>{2, 4});
  CHECK_THROWS_WITH(from(R"({"embed_dim": 96, "num_heads": [5, 6, 12, 24]})"),
                    Catch::Contains("cfg.json") && Catch::Contains("num_heads[0]"));
  CHECK_THROWS_WITH(from(R"({"use_absolute_embeddings": true})"),
                    Catch::Contains("use_absolute_embeddings"));
  CHECK_THROWS_WITH(from(R"({"out_indices": [0, 1]})"), Catch::Contains("out_indices"));
  CHECK_THROWS_WITH(from(R"({"depths": [2, 2], "num_heads": [3]})"), Catch::Contains("depths"));
}

TEST_CASE("window_partition: equals pad + roll(-shift) + partition, and window_reverse inverts it",
          "[swin]") {
  for (const auto& [h, w, win, shift] : std::vector<std::array<std::int64_t, 4>>{
           {7, 8, 3, 0}, {7, 8, 3, 1}, {6, 6, 3, 1}, {4, 5, 6, 3}, {12, 12, 4, 2}}) {
    INFO("map " << h << "x" << w << ", window " << win << ", shift " << shift);
    const WindowGrid g(h, w, win, shift);
    const std::int64_t b = 2, c = 3;
    const Tensor<double> x = Tensor<double>::randn({b, h, w, c}, 5);
    const Var<double> windows = window_partition(Var<double>(x), g);  // (B*nW, N, C)
    CHECK(windows.shape() == Shape{b * g.num_windows(), win * win, c});
    CHECK(values_of(windows.value()) == literal_partition(values_of(x), b, g, c));
    testing::require_close(window_reverse(windows, g).value(), x, 0.0, 0.0);
  }
  CHECK_THROWS_WITH(WindowGrid(4, 4, 3, 3), Catch::Contains("shift"));
}

TEST_CASE("window_partition / window_reverse: gradients match finite differences", "[swin]") {
  const WindowGrid g(5, 4, 3, 1);
  const Tensor<double> x0 = Tensor<double>::randn({1, 5, 4, 2}, 7);
  const Tensor<double> probe = Tensor<double>::randn({g.num_windows(), 9, 2}, 8);  // (nW, N, C)
  const Tensor<double> probe2 = Tensor<double>::randn({1, 5, 4, 2}, 9);
  // loss = sum(partition(x) * probe) + sum(reverse(partition(x) * 3) ^ 2 * probe2)
  auto loss_of = [&](const Var<double>& x) {
    const Var<double> win = window_partition(x, g);
    const Var<double> back = window_reverse(autograd::scale(win, 3.0), g);
    return autograd::sum(win * Var<double>(probe)) +
           autograd::sum(back * back * Var<double>(probe2));
  };
  Var<double> x = Var<double>::parameter(x0.clone());
  autograd::backward(loss_of(x));
  const auto numeric = testing::numeric_gradient(
      [&](const std::vector<double>& v) {
        return loss_of(Var<double>(tensor_of(v, x0.shape()))).value().item();
      },
      values_of(x0));
  testing::require_gradients_match(values_of(x.grad()), numeric);
}

TEST_CASE("shifted_window_mask: Mask2Former's slice regions on the padded map, -100 across",
          "[swin]") {
  for (const auto& [h, w, win, shift] : std::vector<std::array<std::int64_t, 4>>{
           {6, 6, 3, 1}, {7, 8, 3, 1}, {29, 30, 12, 6}, {4, 4, 6, 3}, {8, 8, 4, 2}}) {
    INFO("map " << h << "x" << w << ", window " << win << ", shift " << shift);
    const WindowGrid g(h, w, win, shift);
    const Tensor<float> mask = shifted_window_mask(g);  // (nW, N, N)
    CHECK(mask.shape() == Shape{g.num_windows(), win * win, win * win});
    CHECK(mask.to_vector() == literal_mask(g));
  }
  // A 6x6 map, window 3, shift 1: the last window (bottom right) holds 4 regions of sizes
  // 2x2, 2x1, 1x2, 1x1, so 81 - (16 + 4 + 4 + 1) = 56 pairs are masked; the first has none.
  const Tensor<float> m = shifted_window_mask(WindowGrid(6, 6, 3, 1));
  const auto v = m.to_vector();
  auto masked_in = [&](int window) {
    int count = 0;
    for (int i = 0; i < 81; ++i) count += v[window * 81 + i] == -100.0f;
    return count;
  };
  CHECK(masked_in(0) == 0);
  CHECK(masked_in(3) == 56);
  CHECK(sum(shifted_window_mask(WindowGrid(6, 6, 3, 0))).item() == 0.0f);
}

TEST_CASE("relative_position_index: known values and the index saved by transformers", "[swin]") {
  CHECK(relative_position_index(2).to_vector() ==
        std::vector<std::int64_t>{4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4});
  const auto weights = io::SafetensorsFile::open(kDir + "tiny_weights.safetensors");
  const Tensor<std::int64_t> ref =
      weights.load<std::int64_t>("backbone.layers.0.blocks.1.attn.relative_position_index");
  CHECK(relative_position_index(3).to_vector() == ref.to_vector());
}

TEST_CASE("window_self_attention: equals the composed ops, with and without the shift mask",
          "[swin]") {
  const WindowGrid g(5, 6, 3, 1);  // 2 x 2 windows on the padded 6 x 6 map
  const std::int64_t b = 2, heads = 2, c = 4, n = 9, bw = b * g.num_windows();
  const Tensor<double> qkv = Tensor<double>::randn({bw, n, 3 * c}, 11);
  const Tensor<double> bias = Tensor<double>::randn({heads, n, n}, 12);
  const Tensor<std::uint8_t> regions = window_regions(g);
  const Tensor<double> mask = Tensor<double>(cast<double>(shifted_window_mask(g)));
  for (bool shifted : {false, true}) {
    INFO("shifted " << shifted);
    const Var<double> fused = window_self_attention(
        Var<double>(qkv), Var<double>(bias), shifted ? regions : Tensor<std::uint8_t>(), heads);
    const Var<double> composed = composed_attention(Var<double>(qkv), Var<double>(bias),
                                                    shifted ? mask : Tensor<double>(), heads);
    testing::require_close(fused.value(), composed.value(), 1e-12, 1e-12);
  }
}

TEST_CASE("window_self_attention: qkv and bias gradients match finite differences", "[swin]") {
  const WindowGrid g(4, 4, 3, 1);  // 2 x 2 windows, padded, shifted
  const std::int64_t heads = 2, c = 4, n = 9, bw = g.num_windows();
  const Tensor<double> qkv0 = Tensor<double>::randn({bw, n, 3 * c}, 21);
  const Tensor<double> bias0 = Tensor<double>::randn({heads, n, n}, 22);
  const Tensor<double> probe = Tensor<double>::randn({bw, n, c}, 23);
  const Tensor<std::uint8_t> regions = window_regions(g);
  auto loss_of = [&](const Var<double>& qkv, const Var<double>& bias) {
    return autograd::sum(window_self_attention(qkv, bias, regions, heads) * Var<double>(probe));
  };
  Var<double> qkv = Var<double>::parameter(qkv0.clone());
  Var<double> bias = Var<double>::parameter(bias0.clone());
  autograd::backward(loss_of(qkv, bias));
  testing::require_gradients_match(values_of(qkv.grad()),
                                   testing::numeric_gradient(
                                       [&](const std::vector<double>& v) {
                                         return loss_of(Var<double>(tensor_of(v, qkv0.shape())),
                                                        Var<double>(bias0))
                                             .value()
                                             .item();
                                       },
                                       values_of(qkv0)));
  testing::require_gradients_match(values_of(bias.grad()),
                                   testing::numeric_gradient(
                                       [&](const std::vector<double>& v) {
                                         return loss_of(Var<double>(qkv0),
                                                        Var<double>(tensor_of(v, bias0.shape())))
                                             .value()
                                             .item();
                                       },
                                       values_of(bias0)));
}

TEST_CASE("PatchMerging: gathers (0,0), (1,0), (0,1), (1,1) into 4C, padding odd maps", "[swin]") {
  nn::InitRng rng{1};
  PatchMerging<double> merge(2, 1e-5, rng);
  // Check the gather through the reduction: identity-like weights that pick channel block k.
  const Tensor<double> x = Tensor<double>::randn({1, 3, 3, 2}, 31);  // odd: padded to 4 x 4
  merge.norm = nn::LayerNorm<double>(8, 1e-5, /*affine=*/false);
  Tensor<double> pick = Tensor<double>::zeros({4, 8});
  for (int k = 0; k < 4; ++k) pick.data()[k * 8 + 2 * k] = 1.0;  // channel 0 of block k
  merge.reduction.weight = Var<double>(pick);
  const Var<double> y = merge(Var<double>(x));  // (1, 2, 2, 4)
  REQUIRE(y.shape() == Shape{1, 2, 2, 4});
  // The LayerNorm runs over the 8 gathered values of each output position; undo it by
  // comparing the sign pattern of normalised channel 0 of blocks (dy, dx) against x.
  const auto xv = x.to_vector();
  auto at = [&](std::int64_t r, std::int64_t col) {
    return r < 3 && col < 3 ? xv[(r * 3 + col) * 2] : 0.0;
  };
  const int offsets[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};  // (row, col) of x0..x3
  for (int oy = 0; oy < 2; ++oy)
    for (int ox = 0; ox < 2; ++ox) {
      std::vector<double> gathered;
      for (const auto& o : offsets)
        for (int ch = 0; ch < 2; ++ch) {
          const std::int64_t r = 2 * oy + o[0], col = 2 * ox + o[1];
          gathered.push_back(r < 3 && col < 3 ? xv[(r * 3 + col) * 2 + ch] : 0.0);
        }
      double mean = 0, var = 0;
      for (double v : gathered) mean += v / 8;
      for (double v : gathered) var += (v - mean) * (v - mean) / 8;
      for (int k = 0; k < 4; ++k) {
        const double want =
            (at(2 * oy + offsets[k][0], 2 * ox + offsets[k][1]) - mean) / std::sqrt(var + 1e-5);
        CHECK(y.value().item({0, oy, ox, k}) == Approx(want).epsilon(tol::f64_rtol));
      }
    }
}
