// psalm/models/projector/swin_conv.hpp — PSALM's vision-language projector ("swin_conv",
// upstream ResNetSwin): one ResNet BasicBlock of stride 2 on Swin's res5, flattened row-major
// into tokens, then a Linear to the LLM width (PSALM_SPEC §1.3). Names as the upstream
// state_dict (layer1.0.conv1.weight, ..., fc.weight), loaded with prefix model.mm_projector.
// Depends on: nn (Conv2d, BatchNorm2d, Linear), models/projector/{base,config}.
// Test: tests/projector/test_swin_conv.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "psalm/autograd/ops/activation.hpp"
#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/models/projector/base.hpp"
#include "psalm/models/projector/config.hpp"
#include "psalm/nn/batch_norm.hpp"
#include "psalm/nn/conv2d.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/nn/map_tokens.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::models::projector {

// Letters: B batch, C input channels (1024), H W input map (32 x 32 at 1024^2), P block width
// (2048), h = ceil(H / 2), w = ceil(W / 2) (16 x 16), L = h w tokens (256), D output width (2048).

/// ResNet's BasicBlock with a stride-2 projection shortcut, as PSALM's builder.py runs it:
///
///   out = ReLU(bn1(conv1(x)))            conv1 3x3 stride 2 pad 1, no bias
///   out = bn2(conv2(conv2(out)))         conv2 3x3 pad 1, no bias, the SAME weights twice
///   out = ReLU(out + downsample(x))      downsample = 1x1 stride-2 conv (no bias) + BN
///
/// ref: zamling/PSALM psalm/model/multimodal_projector/builder.py, BasicBlock.forward: there
/// is no ReLU and no norm between the two conv2 calls; the second runs because `with_dcn` is
/// false. conv2_applied_twice = false gives the textbook block (one conv2).
template <nn::Real T, Device Dev = cpu>
class ProjectorBasicBlock : public nn::Module<T, Dev> {
 public:
  ProjectorBasicBlock() = default;
  /// Weights initialised as upstream ResNetSwin.__init__: conv ~ N(0, sqrt(2 / (k k out))),
  /// BN weight 1 and bias 0.
  ProjectorBasicBlock(std::int64_t in_channels, std::int64_t planes, nn::InitRng& rng,
                      bool conv2_applied_twice = true, double bn_eps = 1e-5,
                      double bn_momentum = 0.1)
      : conv1(in_channels, planes, {3, 3}, rng, {.stride = {2, 2}, .padding = {1, 1}}, false),
        bn1(planes, bn_eps, bn_momentum),
        conv2(planes, planes, {3, 3}, rng, {.padding = {1, 1}}, false),
        bn2(planes, bn_eps, bn_momentum),
        downsample_conv(in_channels, planes, {1, 1}, rng, {.stride = {2, 2}}, false),
        downsample_bn(planes, bn_eps, bn_momentum),
        conv2_applied_twice(conv2_applied_twice) {
    for (nn::Conv2d<T, Dev>* conv : {&conv1, &conv2, &downsample_conv}) {
      const Shape s = conv->weight.shape();  // (O, C, k, k)
      const double std = std::sqrt(2.0 / static_cast<double>(s[2] * s[3] * s[0]));
      conv->weight = nn::Var<T, Dev>::parameter(nn::init::normal<T, Dev>(s, std, rng));
    }
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.child("conv1", conv1);
    v.child("bn1", bn1);
    v.child("conv2", conv2);
    v.child("bn2", bn2);
    v.child("downsample.0", downsample_conv);  // upstream: nn.Sequential(conv, bn)
    v.child("downsample.1", downsample_bn);
  }

  /// x (B, C, H, W) -> (B, P, h, w).
  nn::Var<T, Dev> operator()(const nn::Var<T, Dev>& x) {
    nn::Var<T, Dev> out = autograd::relu(bn1(conv1(x)));  // (B, P, h, w)
    out = conv2(out);                                     // (B, P, h, w)
    if (conv2_applied_twice) out = conv2(out);            // (B, P, h, w), same weights
    out = bn2(out);                                       // (B, P, h, w)
    const nn::Var<T, Dev> shortcut = downsample_bn(downsample_conv(x));  // (B, P, h, w)
    return autograd::relu(out + shortcut);                               // (B, P, h, w)
  }

  nn::Conv2d<T, Dev> conv1;            // (P, C, 3, 3)
  nn::BatchNorm2d<T, Dev> bn1;         // (P)
  nn::Conv2d<T, Dev> conv2;            // (P, P, 3, 3)
  nn::BatchNorm2d<T, Dev> bn2;         // (P)
  nn::Conv2d<T, Dev> downsample_conv;  // (P, C, 1, 1)
  nn::BatchNorm2d<T, Dev> downsample_bn;
  bool conv2_applied_twice = true;
};

/// res5 (B, C, H, W) -> image tokens (B, h w, D): BasicBlock, flatten row-major (token index
/// = row * w + col), Linear(P -> D). BatchNorm follows the module's train / eval mode (batch
/// statistics and a running-statistics update in training, as PSALM's stage 2 runs it).
template <nn::Real T, Device Dev = cpu>
class SwinConvProjector : public Projector<T, Dev> {
 public:
  SwinConvProjector() = default;
  SwinConvProjector(const ProjectorConfig& config, nn::InitRng& rng) : config_(config) {
    config.validate();
    PSALM_CHECK(config.type() == ProjectorType::swin_conv,
                "SwinConvProjector: config has mm_projector_type \"", config.mm_projector_type,
                "\", not swin_conv");
    layer1.emplace_back(config.mm_input_embeds, config.swin_conv_planes, rng,
                        config.conv2_applied_twice, config.batch_norm_eps,
                        config.batch_norm_momentum);
    fc = nn::Linear<T, Dev>(config.swin_conv_planes, config.projector_outdim, rng);
  }

  void visit(nn::ModuleVisitor<T, Dev>& v) override {
    v.children("layer1", layer1);  // upstream: nn.Sequential holding one block
    v.child("fc", fc);
  }

  /// The block's output map: res5 (B, C, H, W) -> (B, P, h, w).
  nn::Var<T, Dev> feature_map(const nn::Var<T, Dev>& res5) {
    PSALM_CHECK(res5.rank() == 4 && res5.size(1) == config_.mm_input_embeds,
                "SwinConvProjector: input must be (B, ", config_.mm_input_embeds, ", H, W), got ",
                res5.shape());
    return layer1[0](res5);  // (B, P, h, w)
  }

  /// res5 (B, C, H, W) -> tokens (B, L, D).
  nn::Var<T, Dev> operator()(const nn::Var<T, Dev>& res5) override {
    const nn::Var<T, Dev> map = feature_map(res5);          // (B, P, h, w)
    const nn::Var<T, Dev> tokens = nn::map_to_tokens(map);  // (B, L, P)
    return fc(tokens);                                      // (B, L, D)
  }

  const ProjectorConfig& config() const { return config_; }

  std::vector<ProjectorBasicBlock<T, Dev>> layer1;  // one block
  nn::Linear<T, Dev> fc;                            // (D, P), (D)

 private:
  ProjectorConfig config_;
};

}  // namespace psalm::models::projector
