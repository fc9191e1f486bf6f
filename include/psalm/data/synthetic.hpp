// psalm/data/synthetic.hpp — the synthetic-scenes generator, all of it: vocabulary, scenes,
// rendering, referring expressions and their resolver, interactive prompts, videos, exporters.
// Depends on: data/synthetic/*. Test: tests/data/test_synthetic_scene.cpp. Docs: docs/data.md.
#pragma once

#include "psalm/data/synthetic/export.hpp"
#include "psalm/data/synthetic/geometry.hpp"
#include "psalm/data/synthetic/prompts.hpp"
#include "psalm/data/synthetic/random.hpp"
#include "psalm/data/synthetic/referring.hpp"
#include "psalm/data/synthetic/render.hpp"
#include "psalm/data/synthetic/resolver.hpp"
#include "psalm/data/synthetic/scene.hpp"
#include "psalm/data/synthetic/video.hpp"
#include "psalm/data/synthetic/vocabulary.hpp"
