// Test support for tests/phi: the transformers fixtures of tools/reference/phi_fixtures.py
// (tests/fixtures/phi/<name>/), loaded into psalm's Phi, and the tolerances of the Phi tests.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "psalm/io/json_config.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/models/phi.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

namespace psalm::testing::phi {

namespace mp = psalm::models::phi;

// float32 against transformers' float32 (different summation orders through 2-3 layers).
inline constexpr double fwd_rtol = tol::f32_sum_rtol, fwd_atol = tol::f32_phi_atol;
inline constexpr double grad_rtol = tol::f32_grad_rtol, grad_atol = tol::f32_phi_atol;

inline std::string fixture_dir(const std::string& name) {
  return std::string(PSALM_TEST_FIXTURES_DIR) + "/phi/" + name + "/";
}

inline mp::PhiConfig fixture_config(const std::string& name) {
  return mp::PhiConfig::from_json(io::ConfigReader::from_file(fixture_dir(name) + "config.json"));
}

/// The fixture's model with its transformers weights loaded (strictly, split layout).
template <autograd::Real T = float>
mp::PhiForCausalLM<T> fixture_model(const std::string& name) {
  const mp::PhiConfig cfg = fixture_config(name);
  nn::InitRng rng{99};
  mp::PhiForCausalLM<T> lm(cfg, rng);
  const auto weights = io::SafetensorsFile::open(fixture_dir(name) + "weights.safetensors");
  nn::load_state_dict(lm, weights);
  return lm;
}

inline io::SafetensorsFile fixture_reference(const std::string& name) {
  return io::SafetensorsFile::open(fixture_dir(name) + "reference.safetensors");
}

/// Rows [0, len) of every batch entry of x (B, L, ...) as one tensor, for comparing only the
/// positions that are not padding.
template <Scalar T>
Tensor<T> unpadded(const Tensor<T>& x, std::int64_t batch_index, std::int64_t len) {
  return x.select(0, batch_index).narrow(0, 0, len).contiguous();
}

}  // namespace psalm::testing::phi
