// psalm/models/mask2former/config.hpp — MaskDecoderConfig: the hyper-parameters of PSALM's
// masked-attention transformer decoder (MultiScaleMaskedTransformerDecoderForOPTPreTrain), with
// field names as the upstream constructor arguments, the PSALM preset and a tiny test preset.
// Depends on: core/error, io/json_config. Test: tests/mask2former/test_decoder.cpp.
#pragma once

#include <cstdint>

#include "psalm/core/error.hpp"
#include "psalm/io/json_config.hpp"

namespace psalm::models::mask2former {

struct MaskDecoderConfig {
  std::int64_t in_channels = 256;       ///< channels of the pixel decoder's multi-scale maps
  std::int64_t hidden_dim = 256;        ///< query / memory width
  std::int64_t num_queries = 100;       ///< rows of query_embed (and query_feat)
  std::int64_t nheads = 8;              ///< attention heads
  std::int64_t dim_feedforward = 2048;  ///< FFN hidden width
  std::int64_t dec_layers = 9;          ///< decoder layers (detectron2's DEC_LAYERS 10 minus 1)
  bool pre_norm = false;                ///< upstream's pre-norm variant (PSALM: post-norm only)
  std::int64_t mask_dim = 256;          ///< mask_embed output width = mask_features channels
  bool enforce_input_project = false;   ///< a 1x1 conv on each level even when in == hidden
  std::int64_t num_feature_levels = 3;  ///< fixed at 3 upstream (1/32, 1/16, 1/8)

  /// PSALM's configuration (spec §3.2).
  static MaskDecoderConfig psalm() { return {}; }
  /// A small configuration for tests: hidden 32, 4 heads, FFN 64, 4 layers (levels cycle
  /// 0, 1, 2, 0), 6 queries.
  static MaskDecoderConfig tiny() {
    MaskDecoderConfig c;
    c.in_channels = c.hidden_dim = c.mask_dim = 32;
    c.nheads = 4;
    c.dim_feedforward = 64;
    c.dec_layers = 4;
    c.num_queries = 6;
    return c;
  }

  /// Reads the fields present in a JSON config (absent keys keep PSALM's values) and validates.
  static MaskDecoderConfig from_json(const io::ConfigReader& r) {
    MaskDecoderConfig c;
    r.read("hidden_dim", c.hidden_dim);
    c.in_channels = c.hidden_dim;
    c.mask_dim = c.hidden_dim;
    r.read("in_channels", c.in_channels);
    r.read("num_queries", c.num_queries);
    r.read("nheads", c.nheads);
    r.read("dim_feedforward", c.dim_feedforward);
    r.read("dec_layers", c.dec_layers);
    r.read("pre_norm", c.pre_norm);
    r.read("mask_dim", c.mask_dim);
    r.read("enforce_input_project", c.enforce_input_project);
    r.read("num_feature_levels", c.num_feature_levels);
    c.validate(r.source());
    return c;
  }

  /// Throws a psalm::Error naming `source` and the field for a value psalm cannot build.
  void validate(const std::string& source = "MaskDecoderConfig") const {
    PSALM_CHECK(hidden_dim > 0 && nheads > 0 && hidden_dim % nheads == 0, source, ": hidden_dim ",
                hidden_dim, " must be a positive multiple of nheads ", nheads);
    PSALM_CHECK(hidden_dim % 2 == 0, source, ": hidden_dim ", hidden_dim,
                " must be even (the sine position encoding has hidden_dim / 2 features per axis)");
    PSALM_CHECK(num_queries > 0, source, ": num_queries must be positive, got ", num_queries);
    PSALM_CHECK(dim_feedforward > 0, source, ": dim_feedforward must be positive, got ",
                dim_feedforward);
    PSALM_CHECK(dec_layers > 0, source, ": dec_layers must be positive, got ", dec_layers);
    PSALM_CHECK(mask_dim > 0, source, ": mask_dim must be positive, got ", mask_dim);
    PSALM_CHECK(num_feature_levels == 3, source, ": num_feature_levels must be 3 (upstream ",
                "always uses 3 scales), got ", num_feature_levels);
    PSALM_CHECK(!pre_norm, source, ": pre_norm true is not supported (PSALM's decoder is ",
                "post-norm)");
    PSALM_CHECK(in_channels == hidden_dim && !enforce_input_project, source,
                ": only the identity input projection is supported (in_channels == hidden_dim, ",
                "enforce_input_project false, as in PSALM); got in_channels ", in_channels,
                ", hidden_dim ", hidden_dim, ", enforce_input_project ", enforce_input_project);
  }
};

}  // namespace psalm::models::mask2former
