// psalm/models/projector/config.hpp — ProjectorConfig: which vision-language projector turns
// the image encoder's last map into LLM tokens, and its widths. Field names are the keys of
// PSALM's / LLaVA's config.json (mm_projector_type, mm_input_embeds, projector_outdim,
// mm_hidden_size, hidden_size), plus two psalm fields for what upstream hard-codes.
// Depends on: core/error, io/json_config. Test: tests/projector/test_projector.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "psalm/core/error.hpp"
#include "psalm/io/json_config.hpp"

namespace psalm::models::projector {

/// The projector kinds of psalm/model/multimodal_projector/builder.py that psalm builds.
enum class ProjectorType {
  swin_conv,  ///< ResNet BasicBlock (stride 2) on res5 + Linear: PSALM's released projector
  linear,     ///< one Linear (LLaVA-1)
  mlp_gelu,   ///< "mlp{N}x_gelu": Linear, then N-1 times (GELU, Linear) (LLaVA-1.5: N = 2)
  identity    ///< tokens pass unchanged
};

struct ProjectorConfig {
  /// "swin_conv", "linear", "mlp{N}x_gelu" (N >= 1) or "identity".
  std::string mm_projector_type = "swin_conv";

  // swin_conv: res5 (B, mm_input_embeds, H, W) -> (B, ceil(H/2) ceil(W/2), projector_outdim).
  std::int64_t mm_input_embeds = 1024;   ///< channels of the encoder map (Swin-B res5)
  std::int64_t projector_outdim = 2048;  ///< output width: Phi-1.5's hidden size
  /// Width of the BasicBlock (ResNet's `planes`); upstream hard-codes 2048. psalm field.
  std::int64_t swin_conv_planes = 2048;
  /// Apply conv2 twice with the same weights, as upstream BasicBlock.forward does (its
  /// `if not self.with_dcn: out = self.conv2(out)` after the first call); the released
  /// weights were trained that way. psalm field.
  bool conv2_applied_twice = true;
  double batch_norm_eps = 1e-5;  ///< torch.nn.BatchNorm2d defaults
  double batch_norm_momentum = 0.1;

  // linear / mlp{N}x_gelu: tokens (B, L, mm_hidden_size) -> (B, L, hidden_size).
  std::int64_t mm_hidden_size = 1024;
  std::int64_t hidden_size = 2048;

  /// The released PSALM projector: swin_conv, 1024 -> 2048 (block) -> 2048 (Phi-1.5).
  static ProjectorConfig psalm() { return {}; }
  /// A small swin_conv for tests: 16 input channels, a 20-wide block, 24 outputs.
  static ProjectorConfig tiny() {
    ProjectorConfig c;
    c.mm_input_embeds = 16;
    c.swin_conv_planes = 20;
    c.projector_outdim = 24;
    c.mm_hidden_size = 16;
    c.hidden_size = 24;
    return c;
  }

  /// The parsed mm_projector_type.
  ProjectorType type() const {
    if (mm_projector_type == "swin_conv") return ProjectorType::swin_conv;
    if (mm_projector_type == "linear") return ProjectorType::linear;
    if (mm_projector_type == "identity") return ProjectorType::identity;
    PSALM_CHECK(mlp_depth() >= 1, "ProjectorConfig: unknown mm_projector_type \"",
                mm_projector_type, "\" (known: swin_conv, linear, mlp<N>x_gelu, identity)");
    return ProjectorType::mlp_gelu;
  }

  /// N of "mlp{N}x_gelu", or 0 when the type is not of that form.
  std::int64_t mlp_depth() const {
    const std::string head = "mlp", tail = "x_gelu";
    const std::string& s = mm_projector_type;
    if (s.size() <= head.size() + tail.size() || !s.starts_with(head) || !s.ends_with(tail))
      return 0;
    const std::string digits = s.substr(head.size(), s.size() - head.size() - tail.size());
    if (digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
    return std::stoll(digits);
  }

  /// Width of the tokens the projector outputs.
  std::int64_t output_width() const {
    switch (type()) {
      case ProjectorType::swin_conv:
        return projector_outdim;
      case ProjectorType::identity:
        return mm_hidden_size;
      default:
        return hidden_size;
    }
  }

  /// Throws a psalm::Error naming the field when a width is not positive.
  void validate() const {
    (void)type();
    for (const auto& [name, value] :
         {std::pair<const char*, std::int64_t>{"mm_input_embeds", mm_input_embeds},
          {"projector_outdim", projector_outdim},
          {"swin_conv_planes", swin_conv_planes},
          {"mm_hidden_size", mm_hidden_size},
          {"hidden_size", hidden_size}})
      PSALM_CHECK(value >= 1, "ProjectorConfig: ", name, " must be positive, got ", value);
    PSALM_CHECK(
        batch_norm_eps > 0 && batch_norm_momentum >= 0 && batch_norm_momentum <= 1,
        "ProjectorConfig: batch_norm_eps must be > 0 and batch_norm_momentum in [0, 1], got ",
        batch_norm_eps, " and ", batch_norm_momentum);
  }

  /// Reads a config.json. Missing keys take upstream's getattr defaults where it has them
  /// (mm_projector_type "linear", mm_input_embeds 1024, projector_outdim 4096); the widths of
  /// linear / mlp types (mm_hidden_size, hidden_size) are then required, as upstream reads them
  /// without a default.
  static ProjectorConfig from_json(const io::ConfigReader& r) {
    ProjectorConfig c;
    c.mm_projector_type = r.optional<std::string>("mm_projector_type", "linear");
    c.mm_input_embeds = r.optional<std::int64_t>("mm_input_embeds", 1024);
    c.projector_outdim = r.optional<std::int64_t>("projector_outdim", 4096);
    r.read("swin_conv_planes", c.swin_conv_planes);
    r.read("conv2_applied_twice", c.conv2_applied_twice);
    r.read("batch_norm_eps", c.batch_norm_eps);
    r.read("batch_norm_momentum", c.batch_norm_momentum);
    const ProjectorType t = c.type();
    if (t == ProjectorType::linear || t == ProjectorType::mlp_gelu) {
      c.mm_hidden_size = r.required<std::int64_t>("mm_hidden_size");
      c.hidden_size = r.required<std::int64_t>("hidden_size");
    } else {
      r.read("mm_hidden_size", c.mm_hidden_size);
      r.read("hidden_size", c.hidden_size);
    }
    c.validate();
    return c;
  }
};

}  // namespace psalm::models::projector
