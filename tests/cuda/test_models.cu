// CPU-vs-CUDA parity of the model components at small configs: Phi-1.5, the Swin backbone, the
// swin_conv projector (train mode: batch statistics), the pixel decoder (deformable attention)
// and the masked-attention decoder. Each is built once on the host, its weights copied into a
// CUDA instance through the state dict, both run forward and backward of sum(out^2) on the same
// inputs, and every output and parameter gradient is compared. This is also what proves that
// models/ compiles for CUDA (DESIGN.md: one code path, two devices).
#include <cstdio>
#include <string>
#include <vector>

#include "cuda/host_backend.cuh"
#include "cuda/parity.cuh"
#include "psalm/autograd/ops.hpp"
#include "psalm/cuda.cuh"
#include "psalm/models/deformable/pixel_decoder.hpp"
#include "psalm/models/mask2former/decoder.hpp"
#include "psalm/models/phi/model.hpp"
#include "psalm/models/projector/swin_conv.hpp"
#include "psalm/models/swin/backbone.hpp"
#include "psalm/nn/state_dict.hpp"

namespace psalm::parity {
namespace {

using autograd::Var;

/// sum(x * x) over every output: a loss whose gradient reaches every output element.
template <Device Dev>
Var<float, Dev> squared_sum(const std::vector<Var<float, Dev>>& outs) {
  Var<float, Dev> loss = autograd::sum(outs[0] * outs[0]);  // ()
  for (std::size_t i = 1; i < outs.size(); ++i) loss = loss + autograd::sum(outs[i] * outs[i]);
  return loss;
}

/// Compares outputs and every parameter gradient of the host and device runs.
template <class HostModel, class DeviceModel>
void compare(const std::string& name, const std::vector<Var<float, cpu>>& host_out,
             const std::vector<Var<float, cuda>>& device_out, HostModel& host, DeviceModel& device,
             float tol) {
  for (std::size_t i = 0; i < host_out.size(); ++i)
    expect_close((name + ": output " + std::to_string(i)).c_str(),
                 device_out[i].value().to_vector(), host_out[i].value().to_vector(), tol);
  auto hp = host.named_parameters();
  auto dp = device.named_parameters();
  for (std::size_t i = 0; i < hp.size(); ++i) {
    if (!hp[i].second.grad().defined()) continue;  // a parameter this path does not use
    expect_close((name + ": d " + hp[i].first).c_str(), dp[i].second.grad().to_vector(),
                 hp[i].second.grad().to_vector(), 10 * tol);
  }
}

/// Copies the host model's weights into the device model, runs `run` on both (in training mode
/// or not), backpropagates sum(out^2) and compares.
template <class HostModel, class DeviceModel, class Run>
void check_model(const std::string& name, HostModel& host, DeviceModel& device, Run run,
                 bool training, float tol = 1e-4f) {
  nn::load_state_dict(device, nn::state_dict(host));
  host.train(training);
  device.train(training);
  const std::vector<Var<float, cpu>> host_out = run(host);
  const std::vector<Var<float, cuda>> device_out = run(device);
  autograd::backward(squared_sum(host_out));
  autograd::backward(squared_sum(device_out));
  compare(name, host_out, device_out, host, device, tol);
}

/// The same module type on the host (random weights, seed 11) and on the GPU (weights to load).
/// A host random tensor, and its copy on Dev.
template <Device Dev>
Tensor<float, Dev> random_on(const Shape& shape, std::uint64_t seed) {
  const Tensor<float> h = Tensor<float>::randn(shape, seed);
  if constexpr (std::is_same_v<Dev, cpu>) {
    return h;
  } else {
    return h.template to<Dev>();
  }
}

}  // namespace

void run_model_cases() {
  nn::InitRng rng{11};
  nn::InitRng skip = nn::InitRng::for_loading();
  models::phi::PhiModel<float, cpu> phi_host(models::phi::PhiConfig::tiny(), rng);
  models::phi::PhiModel<float, cuda> phi_device(models::phi::PhiConfig::tiny(), skip);
  check_model(
      "phi (tiny, padded batch)", phi_host, phi_device,
      [](auto& m) {
        using Dev = typename std::remove_reference_t<decltype(m)>::device_type;
        const Tensor<std::int64_t> ids_host =
            Tensor<std::int64_t>::from_data({1, 5, 7, 2, 3, 9, 4, 0, 0, 0}, {2, 5});
        const Tensor<std::int64_t> mask =
            Tensor<std::int64_t>::from_data({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
        Tensor<std::int64_t, Dev> ids;
        if constexpr (std::is_same_v<Dev, cpu>)
          ids = ids_host;
        else
          ids = ids_host.template to<Dev>();
        return std::vector<Var<float, Dev>>{m(ids, mask)};  // (2, 5, 8)
      },
      true);
  models::swin::SwinBackbone<float, cpu> swin_host(models::swin::SwinConfig::tiny(), rng);
  models::swin::SwinBackbone<float, cuda> swin_device(models::swin::SwinConfig::tiny(), skip);
  check_model(
      "swin (tiny, window padding and shifts)", swin_host, swin_device,
      [](auto& m) {
        using Dev = typename std::remove_reference_t<decltype(m)>::device_type;
        const nn::FeatureMaps<float, Dev> f = m(Var<float, Dev>(random_on<Dev>({2, 3, 30, 26}, 1)));
        return std::vector<Var<float, Dev>>{f.res(2), f.res(3), f.res(4), f.res(5)};
      },
      false);
  models::projector::SwinConvProjector<float, cpu> proj_host(
      models::projector::ProjectorConfig::tiny(), rng);
  models::projector::SwinConvProjector<float, cuda> proj_device(
      models::projector::ProjectorConfig::tiny(), skip);
  check_model(
      "projector swin_conv (tiny, train-mode batch norm)", proj_host, proj_device,
      [](auto& m) {
        using Dev = typename std::remove_reference_t<decltype(m)>::device_type;
        return std::vector<Var<float, Dev>>{m(Var<float, Dev>(random_on<Dev>({2, 16, 8, 8}, 2)))};
      },
      true);
  models::deformable::PixelDecoder<float, cpu> pix_host(
      models::deformable::PixelDecoderConfig::tiny(), rng);
  models::deformable::PixelDecoder<float, cuda> pix_device(
      models::deformable::PixelDecoderConfig::tiny(), skip);
  check_model(
      "pixel decoder (tiny)", pix_host, pix_device,
      [](auto& m) {
        using Dev = typename std::remove_reference_t<decltype(m)>::device_type;
        const nn::FeatureMaps<float, Dev> in{
            {2, Var<float, Dev>(random_on<Dev>({2, 8, 16, 20}, 3))},
            {3, Var<float, Dev>(random_on<Dev>({2, 12, 8, 10}, 4))},
            {4, Var<float, Dev>(random_on<Dev>({2, 16, 4, 5}, 5))},
            {5, Var<float, Dev>(random_on<Dev>({2, 20, 2, 3}, 6))}};
        const auto out = m(in);
        return std::vector<Var<float, Dev>>{out.mask_features, out.multi_scale.res(5),
                                            out.multi_scale.res(4), out.multi_scale.res(3)};
      },
      true);
  models::mask2former::MaskedAttentionDecoder<float, cpu> dec_host(
      models::mask2former::MaskDecoderConfig::tiny(), rng);
  models::mask2former::MaskedAttentionDecoder<float, cuda> dec_device(
      models::mask2former::MaskDecoderConfig::tiny(), skip);
  check_model(
      "mask decoder (tiny, class + referring conditions)", dec_host, dec_device,
      [](auto& m) {
        using Dev = typename std::remove_reference_t<decltype(m)>::device_type;
        models::mask2former::Conditions<float, Dev> conditions;
        conditions.class_conditions = Var<float, Dev>(random_on<Dev>({2, 5, 32}, 7));
        conditions.referring_conditions = Var<float, Dev>(random_on<Dev>({2, 1, 32}, 8));
        const nn::FeatureMaps<float, Dev> multi_scale{
            {5, Var<float, Dev>(random_on<Dev>({2, 32, 2, 2}, 10))},
            {4, Var<float, Dev>(random_on<Dev>({2, 32, 4, 4}, 11))},
            {3, Var<float, Dev>(random_on<Dev>({2, 32, 8, 8}, 12))}};
        const auto out = m(Var<float, Dev>(random_on<Dev>({2, 6, 32}, 9)), multi_scale,
                           Var<float, Dev>(random_on<Dev>({2, 32, 16, 16}, 13)), conditions);
        return std::vector<Var<float, Dev>>{out.last().masks, out.last().class_logits,
                                            out.last().seg_logits};
      },
      true);
}

}  // namespace psalm::parity
