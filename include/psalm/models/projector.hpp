// psalm/models/projector.hpp — the vision-language projectors: PSALM's swin_conv (a ResNet
// BasicBlock on Swin's res5 + Linear) and LLaVA's linear / mlp{N}x_gelu, built from a config by
// make_projector. Docs: docs/projector.md.
// Test: tests/projector/test_projector.cpp.
#pragma once

#include "psalm/models/projector/base.hpp"
#include "psalm/models/projector/config.hpp"
#include "psalm/models/projector/linear.hpp"
#include "psalm/models/projector/mlp_gelu.hpp"
#include "psalm/models/projector/projector.hpp"
#include "psalm/models/projector/swin_conv.hpp"
