// psalm/models/deformable.hpp — multi-scale deformable attention (the op's module
// MSDeformAttn) and the pixel decoder built on it (MSDeformAttnPixelDecoder as PSALM configures
// it). docs/deformable.md and docs/pixel_decoder.md describe them.
// Test: tests/pixel_decoder/test_pixel_decoder.cpp.
#pragma once

#include "psalm/models/deformable/encoder.hpp"
#include "psalm/models/deformable/encoder_layer.hpp"
#include "psalm/models/deformable/ms_deform_attn.hpp"
#include "psalm/models/deformable/pixel_decoder.hpp"
