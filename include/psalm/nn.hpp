// psalm/nn.hpp — the module layer: Module and its named-parameter registry, state dicts and
// strict loading, initialisation, the common layers, multi-scale FeatureMaps and the map <->
// tokens views, and the `psalm forward` Component. Include this to build models.
// Test: tests/nn/test_module.cpp.
#pragma once

#include "psalm/autograd.hpp"
#include "psalm/nn/batch_norm.hpp"
#include "psalm/nn/component.hpp"
#include "psalm/nn/conv2d.hpp"
#include "psalm/nn/dropout.hpp"
#include "psalm/nn/embedding.hpp"
#include "psalm/nn/feature_maps.hpp"
#include "psalm/nn/group_norm.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/layer_norm.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/nn/map_tokens.hpp"
#include "psalm/nn/mlp.hpp"
#include "psalm/nn/module.hpp"
#include "psalm/nn/multihead_attention.hpp"
#include "psalm/nn/position_encoding.hpp"
#include "psalm/nn/state_dict.hpp"
