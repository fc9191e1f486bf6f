// psalm/models/swin.hpp — the Swin Transformer image encoder of PSALM (Mask2Former's Swin-B):
// config, window geometry, window attention, blocks, patch embedding and merging, stages and
// the backbone that returns res2..res5. docs/swin.md walks through it.
// Test: tests/swin/test_backbone.cpp.
#pragma once

#include "psalm/models/swin/backbone.hpp"
#include "psalm/models/swin/block.hpp"
#include "psalm/models/swin/config.hpp"
#include "psalm/models/swin/patch_embed.hpp"
#include "psalm/models/swin/patch_merging.hpp"
#include "psalm/models/swin/stage.hpp"
#include "psalm/models/swin/window.hpp"
#include "psalm/models/swin/window_attention.hpp"
#include "psalm/nn.hpp"
