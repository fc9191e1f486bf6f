// psalm/models/deformable/pixel_decoder.hpp — MSDeformAttnPixelDecoder as PSALM configures it
// (`pixel_decoder.*`): res3..res5 projected and encoded by the deformable transformer into three
// multi-scale maps (1/32, 1/16, 1/8), an FPN step onto res2, a 1x1 conv into `mask_features`;
// loading with Mask2Former's names. Depends on: models/deformable/encoder, nn, io/json_config.
// Test: tests/pixel_decoder/test_pixel_decoder.cpp. Doc: docs/pixel_decoder.md.
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
#include "psalm/nn/group_norm.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/module.hpp"
#include "psalm/nn/position_encoding.hpp"
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
  static PixelDecoderConfig from_config(const io::ConfigReader& r) {
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

/// The backbone levels the pixel decoder reads (Swin's res2..res5, strides 4, 8, 16, 32).
template <Real T, Device Dev = cpu>
struct PixelDecoderInput {
  Var<T, Dev> res2;  // (B, Ci2, H4, W4)
  Var<T, Dev> res3;  // (B, Ci3, H8, W8)
  Var<T, Dev> res4;  // (B, Ci4, H16, W16)
  Var<T, Dev> res5;  // (B, Ci5, H32, W32)
};

/// What the pixel decoder returns (PSALM's forward_features returns these plus out[0]).
template <Real T, Device Dev = cpu>
struct PixelDecoderOutput {
  Var<T, Dev> mask_features;               // (B, Cm, H4, W4)
  std::array<Var<T, Dev>, 3> multi_scale;  // (B, C, H32, W32), (B, C, H16, W16), (B, C, H8, W8)
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

  /// The backbone levels -> mask_features (B, Cm, H4, W4) and the multi-scale maps
  /// (1/32, 1/16, 1/8), each (B, C, H, W).
  PixelDecoderOutput<T, Dev> operator()(const PixelDecoderInput<T, Dev>& in) const {
    using namespace autograd;
    const std::int64_t c = config_.conv_dim;
    const std::array<const Var<T, Dev>*, 4> levels{&in.res2, &in.res3, &in.res4, &in.res5};
    const char* names[4] = {"res2", "res3", "res4", "res5"};
    for (std::size_t i = 0; i < 4; ++i) {
      const Var<T, Dev>& x = *levels[i];
      PSALM_CHECK(x.defined() && x.rank() == 4 && x.size(1) == config_.in_channels[i] &&
                      x.size(0) == in.res2.size(0),
                  "PixelDecoder: ", names[i], " must be (B, ", config_.in_channels[i],
                  ", H, W) with the batch of res2, got ", x.defined() ? x.shape() : Shape{});
    }
    // 1. project res5, res4, res3 (low to high resolution) and their sine positions
    std::vector<Var<T, Dev>> srcs;
    std::vector<Tensor<T, Dev>> pos;
    for (std::size_t l = 0; l < 3; ++l) {
      const Var<T, Dev>& x = *levels[3 - l];
      srcs.push_back(input_proj[l](x));  // (B, C, H_l, W_l)
      pos.push_back(nn::sine_position_encoding<T, Dev>(x.size(2), x.size(3),
                                                       c / 2));  // (1, C, H_l, W_l)
    }
    // 2. the deformable encoder over all three levels at once
    const EncoderOutput<T, Dev> encoded = transformer(srcs, pos);  // (B, S, C)
    // 3. split the tokens back into maps
    PixelDecoderOutput<T, Dev> out;
    const std::int64_t b = in.res2.size(0);
    std::int64_t start = 0;
    for (std::size_t l = 0; l < 3; ++l) {
      const auto [h, w] = encoded.shapes.hw[l];
      const Var<T, Dev> part = slice(encoded.memory, 1, start, start + h * w);  // (B, HW, C)
      out.multi_scale[l] = reshape(transpose(part, 1, 2), {b, c, h, w});        // (B, C, H, W)
      start += h * w;
    }
    // 4. FPN on res2: lateral 1x1 conv + upsampled 1/8 map, then a 3x3 conv
    const Var<T, Dev> lateral = adapter_1(in.res2);  // (B, C, H4, W4)
    const Var<T, Dev> upsampled =
        interpolate(out.multi_scale[2], lateral.size(2), lateral.size(3),
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

/// Whose parameter names a checkpoint uses for the FPN convs.
enum class PixelDecoderNames {
  psalm,       ///< `adapter_1.{0,1}.*`, `layer_1.{0,1}.*` (nn.Sequential), conv biases present
  mask2former  ///< `adapter_1.{weight, norm.*}`, `layer_1.{weight, norm.*}` (detectron2 Conv2d
               ///< with norm, no bias): renamed as PSALM does, absent conv biases set to 0
};

/// Options of load_pixel_decoder.
struct PixelDecoderLoadOptions {
  std::string prefix{};  ///< e.g. "pixel_decoder." or "sem_seg_head.pixel_decoder."
  PixelDecoderNames names = PixelDecoderNames::psalm;
  bool strict = true;  ///< missing / unexpected tensors under `prefix` are errors
};

/// A weight source seen through PSALM's renames of Mask2Former's FPN names (spec §7.3):
/// `<p>adapter_1.weight` -> `<p>adapter_1.0.weight`, `<p>adapter_1.norm.{weight,bias}` ->
/// `<p>adapter_1.1.*`, `<p>adapter_1.bias` (if any) -> `<p>adapter_1.0.bias`; `layer_1` alike.
/// Every other name passes through. Holds a reference: `source` must outlive it.
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
  }
  std::vector<std::string> names() const { return names_; }
  bool contains(std::string_view name) const { return to_source_.contains(std::string(name)); }
  decltype(auto) shape(std::string_view name) const { return source_.shape(source_name(name)); }
  template <Scalar U>
  Tensor<U> load(std::string_view name) const {
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
  std::map<std::string, std::string> to_source_;  // renamed -> name in source
  std::vector<std::string> names_;
};

/// Loads a PixelDecoder from a StateDict, io::SafetensorsFile or io::SafetensorsCheckpoint,
/// strictly by default. With PixelDecoderNames::mask2former, the FPN names are renamed as PSALM
/// does when it starts from a Mask2Former checkpoint, and the FPN conv biases, absent there,
/// are set to 0 (every other tensor is required as usual).
template <Real T, Device Dev, nn::WeightSource S>
nn::LoadReport load_pixel_decoder(PixelDecoder<T, Dev>& decoder, const S& source,
                                  const PixelDecoderLoadOptions& options = {}) {
  nn::LoadOptions load{.prefix = options.prefix, .strict = options.strict};
  if (options.names == PixelDecoderNames::psalm) return nn::load_state_dict(decoder, source, load);
  const Mask2FormerPixelDecoderNames<S> renamed(source, options.prefix);
  for (auto* conv : {&decoder.adapter_1.conv, &decoder.layer_1.conv}) {
    const std::string name =
        conv == &decoder.adapter_1.conv ? "adapter_1.0.bias" : "layer_1.0.bias";
    if (renamed.contains(options.prefix + name)) continue;
    conv->bias.value().fill(T{0});
    load.allow_missing.push_back(name);
  }
  return nn::load_state_dict(decoder, renamed, load);
}

}  // namespace psalm::models::deformable
