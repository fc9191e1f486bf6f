// End-to-end test of the autograd ops: a two-layer MLP (linear, layer_norm, GELU, linear,
// log_softmax) on XOR-like data. Its loss and gradients at the fixture's weights, and after one
// SGD step, match PyTorch (tests/fixtures/autograd/mlp.json); plain SGD then reaches 100% accuracy.
#include <map>
#include <string>

#include "op_check.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using namespace psalm::autograd;

namespace {

using Params = std::map<std::string, Var<float>>;
const char* const kNames[] = {"w1", "b1", "ln_w", "ln_b", "w2", "b2"};

// Mean negative log-likelihood of `labels` (one-hot, (N, 2)) under the MLP.
Var<float> mlp_loss(const Params& p, const Var<float>& x, const Var<float>& one_hot) {
  const auto h = gelu(layer_norm(linear(x, p.at("w1"), p.at("b1")), p.at("ln_w"), p.at("ln_b")));
  const auto logp = log_softmax(linear(h, p.at("w2"), p.at("b2")));  // (N, 2)
  return -mean(sum(logp * one_hot, 1));
}

void sgd_step(Params& p, float lr) {
  NoGrad guard;
  for (auto& [name, v] : p) {
    v.value().assign(v.value() - lr * v.grad());
    v.zero_grad();
  }
}

double accuracy(const Params& p, const Var<float>& x, const Tensor<std::int64_t>& labels) {
  NoGrad guard;
  const auto h = gelu(layer_norm(linear(x, p.at("w1"), p.at("b1")), p.at("ln_w"), p.at("ln_b")));
  const auto pred = psalm::argmax(linear(h, p.at("w2"), p.at("b2")).value(), 1).to_vector();
  const auto want = labels.to_vector();
  int right = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) right += pred[i] == want[i];
  return static_cast<double>(right) / static_cast<double>(pred.size());
}

}  // namespace

TEST_CASE(
    "mlp: loss and gradients match PyTorch before and after one SGD step, then SGD "
    "learns XOR to 100% accuracy",
    "[autograd][mlp]") {
  const auto j = testing::load_json("autograd/mlp.json");
  const Var<float> x(testing::tensor_from_json<float>(j["points"]));
  const auto labels = testing::tensor_from_json<std::int64_t>(j["labels"]);
  Tensor<float> one_hot = Tensor<float>::zeros({labels.numel(), 2});
  const auto lv = labels.to_vector();
  for (std::size_t i = 0; i < lv.size(); ++i)
    one_hot.select(0, static_cast<std::int64_t>(i)).select(0, lv[i]).fill(1.0f);
  const Var<float> target(one_hot);
  Params p;
  for (const char* name : kNames)
    p.emplace(name, Var<float>::parameter(testing::tensor_from_json<float>(j["params"][name])));
  const float lr = j["lr"].get<float>();

  for (const char* step : {"0", "1"}) {
    INFO("step " << step);
    const auto loss = mlp_loss(p, x, target);
    REQUIRE(loss.value().item() ==
            Approx(j[std::string("loss") + step].get<double>()).epsilon(tol::f32_sum_rtol));
    backward(loss);
    for (const char* name : kNames) {
      INFO("gradient of " << name);
      testing::require_close(
          p.at(name).grad(),
          testing::tensor_from_json<double>(j[std::string("grads") + step][name]),
          tol::f32_grad_rtol, tol::f32_atol);
    }
    sgd_step(p, lr);
  }

  for (int it = 0; it < 300 && accuracy(p, x, labels) < 1.0; ++it) {
    backward(mlp_loss(p, x, target));
    sgd_step(p, lr);
  }
  REQUIRE(accuracy(p, x, labels) == 1.0);
}
