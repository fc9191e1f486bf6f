// CPU-vs-CUDA parity of multi-scale deformable attention: the autograd op
// (psalm/autograd/ops/ms_deform_attn.hpp) run on CUDA tensors (per-channel forward calls,
// per-query backward with atomicAdd into d_value) against the same bodies run on the host (whole
// head forward calls, per-(batch, head) backward without atomics): output and the gradients of
// value, sampling locations and attention weights; plus an atomic stress case (thousands of
// queries on a 3 x 2 level).
// main() in test_parity.cu runs this suite (parity::run_ms_deform_attn_cases) on a machine
// with a CUDA device; failures go to the shared count of parity.cuh.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "parity.cuh"
#include "psalm/autograd/ops/ms_deform_attn.hpp"
#include "psalm/cuda.cuh"
#include "psalm/kernels/ms_deform_attn.hpp"

using namespace psalm;

namespace {

std::vector<float> msda_random(std::int64_t n, std::uint64_t seed, float lo, float hi) {
  std::vector<float> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    out[static_cast<std::size_t>(i)] =
        lo +
        (hi - lo) * static_cast<float>(CounterRng{seed, 0}.uniform(static_cast<std::uint64_t>(i)));
  return out;
}

/// One parity case: B batch, M heads, D head_dim, Q queries, P points over `hw` levels.
void msda_case(const char* name, std::int64_t b, std::int64_t m, std::int64_t d, std::int64_t q,
               std::int64_t p, const std::vector<std::array<std::int64_t, 2>>& hw) {
  std::vector<std::int64_t> start;
  std::int64_t s = 0;
  for (const auto& [h, w] : hw) {
    start.push_back(s);
    s += h * w;
  }
  const auto l = static_cast<std::int64_t>(hw.size());
  const kernels::MSDeformLevels lv = autograd::ms_deform_levels(hw, start, s);
  const std::vector<float> value = msda_random(b * s * m * d, 1, -1.f, 1.f);  // (B, S, M, D)
  const std::vector<float> loc = msda_random(b * q * m * l * p * 2, 2, -0.1f, 1.1f);
  const std::vector<float> attn = msda_random(b * q * m * l * p, 3, 0.f, 1.f);
  const std::vector<float> d_out = msda_random(b * q * m * d, 4, -1.f, 1.f);  // (B, Q, M*D)

  // host: whole-head forward calls, partitioned backward without atomics
  std::vector<float> y_host(static_cast<std::size_t>(b * q * m * d));
  const kernels::MSDeformAttnForward<float> fwd{
      value.data(), loc.data(), attn.data(), y_host.data(), lv, s, q, m, d, p, d};
  for (std::int64_t i = 0; i < b * q * m; ++i) fwd(i);
  std::vector<float> dv_host(value.size(), 0.f), dl_host(loc.size()), da_host(attn.size());
  const kernels::MSDeformAttnBackwardByHead<float> bwd{value.data(),
                                                       loc.data(),
                                                       attn.data(),
                                                       d_out.data(),
                                                       dv_host.data(),
                                                       dl_host.data(),
                                                       da_host.data(),
                                                       lv,
                                                       s,
                                                       q,
                                                       m,
                                                       d,
                                                       p};
  for (std::int64_t i = 0; i < b * m; ++i) bwd(i);

  // device: the autograd op on CUDA tensors
  using V = autograd::Var<float, cuda>;
  auto g_value = V::parameter(Tensor<float, cuda>::from_data(value, {b, s, m, d}));
  auto g_loc = V::parameter(Tensor<float, cuda>::from_data(loc, {b, q, m, l, p, 2}));
  auto g_attn = V::parameter(Tensor<float, cuda>::from_data(attn, {b, q, m, l, p}));
  const V y = autograd::ms_deform_attn(g_value, hw, start, g_loc, g_attn);  // (B, Q, M*D)
  autograd::backward(y, Tensor<float, cuda>::from_data(d_out, {b, q, m * d}));
  char what[160];
  std::snprintf(what, sizeof what, "ms_deform_attn %s: forward", name);
  parity::expect_close(what, y.value().to_vector(), y_host, 1e-5f);
  std::snprintf(what, sizeof what, "ms_deform_attn %s: d_value (atomic scatter)", name);
  parity::expect_close(what, g_value.grad().to_vector(), dv_host, 1e-4f);
  std::snprintf(what, sizeof what, "ms_deform_attn %s: d_sampling_locations", name);
  parity::expect_close(what, g_loc.grad().to_vector(), dl_host, 1e-4f);
  std::snprintf(what, sizeof what, "ms_deform_attn %s: d_attention_weights", name);
  parity::expect_close(what, g_attn.grad().to_vector(), da_host, 1e-4f);
}

}  // namespace

void psalm::parity::run_ms_deform_attn_cases() {
  msda_case("head_dim 32, 3 levels", 2, 4, 32, 50, 4, {{6, 5}, {3, 4}, {1, 1}});
  msda_case("head_dim 30", 1, 2, 30, 40, 3, {{4, 7}, {2, 2}});
  msda_case("head_dim 71", 1, 3, 71, 20, 2, {{5, 3}, {2, 6}});
  msda_case("atomic stress", 1, 1, 8, 4000, 4, {{3, 2}});
}
