// psalm/models/deformable/pixel_decoder.hpp — MSDeformAttnPixelDecoder as PSALM configures it
// (`pixel_decoder.*`): res3..res5 projected and encoded by the deformable transformer into three
// multi-scale maps (1/32, 1/16, 1/8), an FPN step onto res2, a 1x1 conv into `mask_features`;
// a weight-source view for Mask2Former's FPN names. Depends on: models/deformable/encoder, nn,
// io/json_config. Test: tests/pixel_decoder/test_pixel_decoder.cpp. Doc: docs/pixel_decoder.md.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "psalm/autograd/ops/activation.hpp"
#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/autograd/ops/interpolate.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/models/deformable/encoder.hpp"
#include "psalm/nn/conv2d.hpp"
#include "psalm/nn/feature_maps.hpp"
#include "psalm/nn/group_norm.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/map_tokens.hpp"
#include "psalm/nn/module.hpp"
#include "psalm/nn/state_dict.hpp"

namespace psalm::models::deformable {

// Letters: B batch, Ci input channels of a backbone level, C conv_dim, Cm mask_dim,
// H4 W4 / H8 W8 / H16 W16 / H32 W32 the planes of res2 / res3 / res4 / res5.

/// Hyper-parameters, named as the arguments of PSALM's MSDeformAttnPixelDecoder (and
/// `enc_n_points` of MSDeformAttnTransformerEncoderOnly). The structure is PSALM's: three
/// transformer levels (res3, res4, res5) and one FPN level (res2).
struct PixelDecoderConfig {
  std::array<std::int64_t, 4> in_channels{128, 256, 512, 1024};  // res2, res3, res4, res5
  std::int64_t conv_dim = 256;
  std::int64_t mask_dim = 256;
  std::int64_t transformer_enc_layers = 6;
  std::int64_t transformer_nheads = 8;
  std::int64_t transformer_dim_feedforward = 1024;
  std::int64_t enc_n_points = 4;
  std::int64_t norm_groups = 32;  // every GroupNorm

  /// PSALM's pixel decoder on Swin-B features (spec §3.1).
  static PixelDecoderConfig psalm_swin_b() { return {}; }
  /// A small config for tests and examples.
  static PixelDecoderConfig tiny() {
    return {.in_channels = {8, 12, 16, 20},
            .conv_dim = 32,
            .mask_dim = 24,
            .transformer_enc_layers = 2,
            .transformer_nheads = 4,
            .transformer_dim_feedforward = 64,
            .enc_n_points = 2,
            .norm_groups = 8};
  }

  /// From a JSON config with these field names (docs/pixel_decoder.md); absent fields keep
  /// PSALM's values. Errors name the file and field.
  static PixelDecoderConfig from_json(const io::ConfigReader& r) {
    PixelDecoderConfig c;
    if (r.has("in_channels")) {
      const auto in = r.required<std::vector<std::int64_t>>("in_channels");
      PSALM_CHECK(in.size() == 4, r.source(), ": in_channels must list 4 values (res2, res3, ",
                  "res4, res5), got ", in.size());
      std::copy(in.begin(), in.end(), c.in_channels.begin());
    }
    r.read("conv_dim", c.conv_dim);
    r.read("mask_dim", c.mask_dim);
    r.read("transformer_enc_layers", c.transformer_enc_layers);
    r.read("transformer_nheads", c.transformer_nheads);
    r.read("transformer_dim_feedforward", c.transformer_dim_feedforward);
    r.read("enc_n_points", c.enc_n_points);
    r.read("norm_groups", c.norm_groups);
    return c;
  }

  EncoderLayerConfig encoder_layer() const {
    return {conv_dim, transformer_dim_feedforward, 3, transformer_nheads, enc_n_points};
  }
};

/// nn.Sequential(Conv2d, GroupNorm[, ReLU]): state-dict entries `0.*` (conv) and `1.*` (norm).
template <Real T, Device Dev = cpu>
class ConvGroupNorm : public nn::Module<T, Dev> {
 public:
  ConvGroupNorm() = default;
  ConvGroupNorm(nn::Conv2d<T, Dev> conv, std::int64_t groups, bool relu)
      : conv(std::move(conv)), norm(groups, this->conv.weight.size(0)), relu(relu) {}

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("0", conv);
    v.child("1", norm);
  }

  /// x (B, Ci, H, W) -> (B, O, H, W).
  Var<T, Dev> operator()(const Var<T, Dev>& x) const {
    const Var<T, Dev> y = norm(conv(x));  // (B, O, H, W)
    return relu ? autograd::relu(y) : y;
  }

  nn::Conv2d<T, Dev> conv;
  nn::GroupNorm<T, Dev> norm;
  bool relu = false;
};

/// What the pixel decoder returns (PSALM's forward_features returns these plus out[0]).
template <Real T, Device Dev = cpu>
struct PixelDecoderOutput {
  Var<T, Dev> mask_features;  // (B, Cm, H4, W4)
  /// The encoded maps res5 (B, C, H32, W32), res4 (B, C, H16, W16), res3 (B, C, H8, W8); the
  /// mask decoder reads them coarsest first (upstream's multi_scale_features order).
  nn::FeatureMaps<T, Dev> multi_scale;
};

/// MSDeformAttnPixelDecoder (Mask2Former) with PSALM's FPN convs (both with a bias).
/// ref: PSALM psalm/model/mask_decoder/Mask2Former_Simplify/modeling/pixel_decoder/
/// msdeformattn.py; Mask2Former mask2former/modeling/pixel_decoder/msdeformattn.py.
template <Real T, Device Dev = cpu>
class PixelDecoder : public nn::Module<T, Dev> {
 public:
  PixelDecoder() = default;
  /// Initialised as upstream: input_proj convs xavier_uniform with zero bias; the transformer as
  /// DeformableEncoder; mask_features, adapter_1 and layer_1 convs by c2_xavier_fill
  /// (kaiming_uniform(a=1): U(-sqrt(3 / fan_in), sqrt(3 / fan_in))) with zero bias; GroupNorms
  /// weight 1, bias 0.
  PixelDecoder(const PixelDecoderConfig& config, nn::InitRng& rng) : config_(config) {
    const std::int64_t c = config.conv_dim;
    PSALM_CHECK(c > 0 && c % 2 == 0 && config.mask_dim > 0, "PixelDecoder: conv_dim (", c,
                ") must be positive and even, mask_dim (", config.mask_dim, ") positive");
    PSALM_CHECK(config.norm_groups >= 1 && c % config.norm_groups == 0,
                "PixelDecoder: ", config.norm_groups, " GroupNorm groups do not divide conv_dim ",
                c);
    for (std::int64_t ci : config.in_channels)
      PSALM_CHECK(ci > 0, "PixelDecoder: in_channels must be positive, got ", ci);
    // input_proj[0] = res5, [1] = res4, [2] = res3: low to high resolution
    for (int level : {3, 2, 1}) {
      const std::int64_t ci = config.in_channels[static_cast<std::size_t>(level)];
      nn::Conv2d<T, Dev> conv(ci, c, {1, 1}, rng);
      conv.weight = Var<T, Dev>::parameter(
          nn::init::xavier_uniform<T, Dev>({c, ci, 1, 1}, ci, c, rng));  // (C, Ci, 1, 1)
      conv.bias = Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({c}));    // (C)
      input_proj.emplace_back(std::move(conv), config.norm_groups, false);
    }
    transformer =
        DeformableEncoder<T, Dev>(config.encoder_layer(), config.transformer_enc_layers, rng);
    mask_features = c2_xavier_conv(c, config.mask_dim, 1, rng);
    adapter_1 = ConvGroupNorm<T, Dev>(c2_xavier_conv(config.in_channels[0], c, 1, rng),
                                      config.norm_groups, true);
    layer_1 = ConvGroupNorm<T, Dev>(c2_xavier_conv(c, c, 3, rng), config.norm_groups, true);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.children("input_proj", input_proj);
    v.child("transformer", transformer);
    v.child("mask_features", mask_features);
    v.child("adapter_1", adapter_1);
    v.child("layer_1", layer_1);
  }

  /// The backbone levels res2..res5 (B, Ci_k, H_k, W_k) -> mask_features (B, Cm, H4, W4) and
  /// the encoded maps res3..res5, each (B, C, H_k, W_k).
  PixelDecoderOutput<T, Dev> operator()(const nn::FeatureMaps<T, Dev>& in) const {
    using namespace autograd;
    for (int k = 2; k <= 5; ++k) {
      const std::int64_t ci = config_.in_channels[static_cast<std::size_t>(k - 2)];
      PSALM_CHECK(in.has(k) && in.res(k).size(1) == ci, "PixelDecoder: res", k, " must be (B, ", ci,
                  ", H, W), got ", in.has(k) ? in.res(k).shape() : Shape{},
                  " (present: ", in.names(), ")");
    }
    // 1. project res5, res4, res3 (input_proj[0] is res5's)
    nn::FeatureMaps<T, Dev> projected;
    for (int k = 5; k >= 3; --k)
      projected.set(k, input_proj[static_cast<std::size_t>(5 - k)](in.res(k)));  // (B, C, H, W)
    // 2. the deformable encoder over all three levels at once, coarsest first
    const EncoderOutput<T, Dev> encoded = transformer(projected);  // (B, S, C)
    // 3. split the tokens back into maps
    PixelDecoderOutput<T, Dev> out;
    std::int64_t start = 0;
    for (std::size_t l = 0; l < 3; ++l) {
      const auto [h, w] = encoded.shapes.hw[l];
      const Var<T, Dev> part = slice(encoded.memory, 1, start, start + h * w);      // (B, HW, C)
      out.multi_scale.set(5 - static_cast<int>(l), nn::tokens_to_map(part, h, w));  // (B, C, H, W)
      start += h * w;
    }
    // 4. FPN on res2: lateral 1x1 conv + upsampled 1/8 map, then a 3x3 conv
    const Var<T, Dev> lateral = adapter_1(in.res(2));  // (B, C, H4, W4)
    const Var<T, Dev> upsampled =
        interpolate(out.multi_scale.res(3), lateral.size(2), lateral.size(3),
                    {.mode = InterpolateMode::bilinear, .align_corners = false});  // (B, C, H4, W4)
    const Var<T, Dev> fpn = layer_1(lateral + upsampled);                          // (B, C, H4, W4)
    out.mask_features = mask_features(fpn);  // (B, Cm, H4, W4)
    return out;
  }

  const PixelDecoderConfig& config() const { return config_; }

  std::vector<ConvGroupNorm<T, Dev>> input_proj;  // res5, res4, res3: Ci -> C
  DeformableEncoder<T, Dev> transformer;
  nn::Conv2d<T, Dev> mask_features;  // 1x1, C -> Cm
  ConvGroupNorm<T, Dev> adapter_1;   // 1x1, Ci2 -> C, ReLU
  ConvGroupNorm<T, Dev> layer_1;     // 3x3 pad 1, C -> C, ReLU

 private:
  /// A k x k conv (padding k / 2) initialised by fvcore's c2_xavier_fill.
  static nn::Conv2d<T, Dev> c2_xavier_conv(std::int64_t in, std::int64_t out, std::int64_t k,
                                           nn::InitRng& rng) {
    nn::Conv2d<T, Dev> conv(in, out, {k, k}, rng, {.padding = {k / 2, k / 2}});
    const double bound = std::sqrt(3.0 / static_cast<double>(in * k * k));
    conv.weight = Var<T, Dev>::parameter(
        nn::init::uniform<T, Dev>({out, in, k, k}, -bound, bound, rng));  // (O, I, k, k)
    conv.bias = Var<T, Dev>::parameter(Tensor<T, Dev>::zeros({out}));     // (O)
    return conv;
  }

  PixelDecoderConfig config_;
};

/// A weight source seen with PSALM's names where it holds Mask2Former's FPN names (spec §7.3),
/// so that a Mask2Former checkpoint loads into a PixelDecoder with nn::load_state_dict:
///
///   nn::load_state_dict(decoder, Mask2FormerPixelDecoderNames(source, prefix),
///                       {.prefix = prefix});
///
/// Under `prefix`: `adapter_1.weight` -> `adapter_1.0.weight`, `adapter_1.norm.{weight,bias}` ->
/// `adapter_1.1.*`, `adapter_1.bias` (if any) -> `adapter_1.0.bias`; `layer_1` alike. Mask2Former's
/// FPN convs have no bias (detectron2 Conv2d with a norm), so where `<m>.0.bias` is absent it is
/// shown as zeros of the conv's output width, as PSALM initialises it. Every other name passes
/// through unchanged (a PSALM-named source loads the same through it). Holds a reference:
/// `source` must outlive it.
template <nn::WeightSource S>
class Mask2FormerPixelDecoderNames {
 public:
  Mask2FormerPixelDecoderNames(const S& source, const std::string& prefix) : source_(source) {
    for (const std::string& name : source.names()) {
      std::string renamed = name;
      if (name.starts_with(prefix)) {
        const std::string_view local = std::string_view(name).substr(prefix.size());
        for (const char* module : {"adapter_1.", "layer_1."}) {
          const std::string m(module);
          if (!local.starts_with(m)) continue;
          const std::string_view rest = local.substr(m.size());
          if (rest == "weight" || rest == "bias") renamed = prefix + m + "0." + std::string(rest);
          if (rest.starts_with("norm.")) renamed = prefix + m + "1." + std::string(rest.substr(5));
        }
      }
      PSALM_CHECK(!to_source_.contains(renamed), "Mask2Former pixel-decoder names: both \"",
                  to_source_[renamed], "\" and \"", name, "\" map to \"", renamed, "\"");
      to_source_[renamed] = name;
      names_.push_back(renamed);
    }
    for (const char* module : {"adapter_1.0.", "layer_1.0."}) {
      const std::string weight = prefix + module + "weight", bias = prefix + module + "bias";
      if (!to_source_.contains(weight) || to_source_.contains(bias)) continue;
      const auto& shape = source_.shape(to_source_.at(weight));  // (O, I, k, k)
      PSALM_CHECK(!shape.empty(), "Mask2Former pixel-decoder names: \"", to_source_.at(weight),
                  "\" has no output dimension");
      zero_biases_[bias] = static_cast<std::int64_t>(*shape.begin());
      names_.push_back(bias);
    }
  }
  std::vector<std::string> names() const { return names_; }
  bool contains(std::string_view name) const {
    return to_source_.contains(std::string(name)) || zero_biases_.contains(std::string(name));
  }
  std::vector<std::int64_t> shape(std::string_view name) const {
    if (auto it = zero_biases_.find(std::string(name)); it != zero_biases_.end())
      return {it->second};
    const auto& shape = source_.shape(source_name(name));
    return {shape.begin(), shape.end()};
  }
  template <Scalar U>
  Tensor<U> load(std::string_view name) const {
    if (auto it = zero_biases_.find(std::string(name)); it != zero_biases_.end())
      return Tensor<U>::zeros({it->second});  // (O)
    return source_.template load<U>(source_name(name));
  }

 private:
  const std::string& source_name(std::string_view name) const {
    auto it = to_source_.find(std::string(name));
    PSALM_CHECK(it != to_source_.end(), "Mask2Former pixel-decoder names: no tensor \"", name,
                "\"");
    return it->second;
  }

  const S& source_;
  std::map<std::string, std::string> to_source_;     // renamed -> name in source
  std::map<std::string, std::int64_t> zero_biases_;  // absent FPN conv bias -> its width
  std::vector<std::string> names_;
};

}  // namespace psalm::models::deformable
