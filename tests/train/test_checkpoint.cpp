// Tests of psalm/train/checkpoint.hpp: a checkpoint restores weights, optimizer moments and step
// counts exactly; `latest` only ever names complete checkpoints; bad folders are clear errors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "psalm/autograd/ops/reduce.hpp"
#include "psalm/nn/linear.hpp"
#include "psalm/train/checkpoint.hpp"

namespace {

using namespace psalm;
namespace fs = std::filesystem;

struct TwoLayers : nn::Module<float> {
  TwoLayers(nn::InitRng& rng) : a(3, 4, rng), b(4, 2, rng) {}
  void visit(nn::ModuleVisitor<float>& v) override {
    v.child("a", a);
    v.child("b", b);
  }
  autograd::Var<float> operator()(const autograd::Var<float>& x) const { return b(a(x)); }
  nn::Linear<float> a, b;
};

/// One AdamW step on a fixed input.
void train_step(TwoLayers& net, optim::AdamW<float>& opt, std::uint64_t seed) {
  const autograd::Var<float> x(Tensor<float>::randn({5, 3}, seed));
  autograd::backward(autograd::sum(net(x)));
  opt.step();
  opt.zero_grad();
}

train::NamedOptimizer<float, cpu> named(TwoLayers& net, optim::AdamW<float>& opt) {
  train::NamedOptimizer<float, cpu> n{&opt, {{}}};
  for (auto& [name, p] : net.named_parameters()) n.names[0].push_back(name);
  return n;
}

fs::path fresh_dir(const char* name) {
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  return dir;
}

}  // namespace

TEST_CASE("checkpoint: a resumed run continues bit-identically", "[train][checkpoint]") {
  const fs::path run = fresh_dir("psalm_test_checkpoint_resume");
  nn::InitRng rng{7};
  TwoLayers straight(rng);
  nn::InitRng rng2{7};
  TwoLayers resumed(rng2);
  auto params = [](TwoLayers& n) { return n.trainable_parameters(); };
  optim::AdamW<float> opt_a({{params(straight), 1e-2, 0.01}});
  optim::AdamW<float> opt_b({{params(resumed), 1e-2, 0.01}});
  for (std::uint64_t s = 0; s < 3; ++s) train_step(straight, opt_a, s);
  for (std::uint64_t s = 0; s < 3; ++s) train_step(resumed, opt_b, s);
  train::save_checkpoint(run, 3, resumed, {{"kind", "test"}}, named(resumed, opt_b), {{"seed", 7}});

  // A fresh model and optimizer (different init) take the checkpoint and continue.
  nn::InitRng other{99};
  TwoLayers restarted(other);
  optim::AdamW<float> opt_c({{params(restarted), 1e-2, 0.01}});
  const nlohmann::json state =
      train::load_checkpoint(train::latest_checkpoint(run), restarted, named(restarted, opt_c));
  CHECK(state.at("step") == 3);
  CHECK(state.at("seed") == 7);
  for (std::uint64_t s = 3; s < 6; ++s) {
    train_step(straight, opt_a, s);
    train_step(restarted, opt_c, s);
  }
  const auto a = straight.named_parameters(), c = restarted.named_parameters();
  REQUIRE(a.size() == c.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].first);
    CHECK(a[i].second.value().to_vector() == c[i].second.value().to_vector());
  }
  CHECK(opt_c.step_count(0, 0) == 6);
  fs::remove_all(run);
}

TEST_CASE("checkpoint: latest moves only after a complete write; old ones are pruned",
          "[train][checkpoint]") {
  const fs::path run = fresh_dir("psalm_test_checkpoint_latest");
  nn::InitRng rng{1};
  TwoLayers net(rng);
  optim::AdamW<float> opt({{net.trainable_parameters(), 1e-3, 0.0}});
  for (std::int64_t step : {10, 20, 30}) train::save_checkpoint(run, step, net, {}, named(net, opt), {});
  CHECK(train::latest_checkpoint(run).filename() == "checkpoint-000030");
  CHECK_FALSE(fs::exists(run / "checkpoint-000010"));  // keep = 2
  CHECK(fs::exists(run / "checkpoint-000020"));

  // A half-written folder (what a kill leaves behind) is never named by `latest`.
  fs::create_directories(run / ".checkpoint-000040.tmp-1");
  CHECK(train::latest_checkpoint(run).filename() == "checkpoint-000030");

  // A pointer to a missing or incomplete folder is an error naming it.
  std::ofstream(run / "latest") << "checkpoint-000099\n";
  CHECK_THROWS_WITH(train::latest_checkpoint(run), Catch::Contains("checkpoint-000099"));
  std::ofstream(run / "latest") << "../etc\n";
  CHECK_THROWS_WITH(train::latest_checkpoint(run), Catch::Contains("not a checkpoint folder"));
  CHECK_THROWS_WITH(train::latest_checkpoint(run / "nope"), Catch::Contains("not a folder"));
  fs::remove_all(run);
}
