// psalm/models/phi.hpp — Phi-1.5, the language model of PSALM: include this to build, load, run,
// train and decode it. docs/phi.md walks through the pieces. Test:
// tests/phi/test_transformers_parity.cpp.
#pragma once

#include "psalm/models/phi/attention.hpp"
#include "psalm/models/phi/config.hpp"
#include "psalm/models/phi/decoder_layer.hpp"
#include "psalm/models/phi/generate.hpp"
#include "psalm/models/phi/kv_cache.hpp"
#include "psalm/models/phi/mlp.hpp"
#include "psalm/models/phi/model.hpp"
#include "psalm/models/phi/rotary.hpp"
#include "psalm/models/phi/weights.hpp"
