// psalm/models/mask2former.hpp — PSALM's Mask2Former-style masked-attention transformer decoder:
// the config, the post-norm attention / FFN layers, the prediction head (mask logits, condition
// logits, next attention mask) and MaskedAttentionDecoder. docs/mask_decoder.md explains it.
// Test: tests/mask2former/test_decoder.cpp.
#pragma once

#include "psalm/models/mask2former/attention_layers.hpp"
#include "psalm/models/mask2former/config.hpp"
#include "psalm/models/mask2former/decoder.hpp"
#include "psalm/models/mask2former/prediction_head.hpp"
