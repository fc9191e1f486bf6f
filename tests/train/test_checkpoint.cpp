// Tests of psalm/train/checkpoint.hpp: a checkpoint restores weights, optimizer moments and step
// counts exactly; `latest` only ever names complete checkpoints, also when a writing process is
// killed at random points; bad folders are clear errors.
#include <catch2/catch.hpp>

#include <omp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

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

train::NamedOptimizer<float, cpu> named(nn::Module<float>& net, optim::AdamW<float>& opt) {
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
  for (std::int64_t step : {10, 20, 30})
    train::save_checkpoint(run, step, net, {}, named(net, opt), {});
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
  // `latest` is read whole by io::read_file: a folder in its place is named, not read.
  fs::remove(run / "latest");
  fs::create_directories(run / "latest");
  CHECK_THROWS_WITH(train::latest_checkpoint(run),
                    Catch::Contains("latest: is a folder, not a regular file (checkpoint pointer"));
  fs::remove_all(run);
}

namespace {

/// Large enough that one checkpoint takes a measurable time to write (about 2 MB).
struct Wide : nn::Module<float> {
  Wide(nn::InitRng& rng) : a(512, 512, rng), b(512, 512, rng) {}
  void visit(nn::ModuleVisitor<float>& v) override {
    v.child("a", a);
    v.child("b", b);
  }
  nn::Linear<float> a, b;
};

/// Every parameter of `net` set to `value` by plain stores (no kernels: safe after fork).
void fill_all(Wide& net, float value) {
  for (auto& [name, p] : net.named_parameters())
    std::fill(p.value().data(), p.value().data() + p.value().numel(), value);
}

}  // namespace

TEST_CASE("checkpoint: a process killed at random points during writes leaves latest loadable",
          "[train][checkpoint]") {
  const fs::path run = fresh_dir("psalm_test_checkpoint_kill");
  nn::InitRng rng{2};
  Wide net(rng);
  optim::AdamW<float> opt({{net.trainable_parameters(), 1e-3, 0.0}});
  fill_all(net, 1.0f);
  train::save_checkpoint(run, 1, net, {}, named(net, opt), {});

  // How long one write takes here, to spread the kills over whole writes.
  fill_all(net, 2.0f);
  const auto t0 = std::chrono::steady_clock::now();
  train::save_checkpoint(run, 2, net, {}, named(net, opt), {});
  const auto write_us = std::max<std::int64_t>(
      200,
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count());

  std::mt19937_64 gen(7);
  std::int64_t next_step = 3, last_step = 2;
  int completed = 0, interrupted = 0;
  for (int trial = 0; trial < 25; ++trial) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Keep writing checkpoints, each holding its own step as every weight, until killed.
      omp_set_num_threads(1);  // the parent's OpenMP team does not exist in a forked child
      try {
        for (std::int64_t step = next_step;; ++step) {
          fill_all(net, static_cast<float>(step));
          train::save_checkpoint(run, step, net, {}, named(net, opt), {});
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "checkpoint writer: %s\n", e.what());
      }
      std::_Exit(3);  // never back into the test runner
    }
    std::uniform_int_distribution<std::int64_t> delay(0, 8 * write_us);
    std::this_thread::sleep_for(std::chrono::microseconds(delay(gen)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));

    // Whatever the kill interrupted, `latest` names a complete checkpoint whose weights are
    // all the step its trainer state records.
    const fs::path dir = train::latest_checkpoint(run);
    Wide loaded(rng);
    const nlohmann::json state = train::load_checkpoint(dir, loaded, named(loaded, opt));
    const auto step = state.at("step").get<std::int64_t>();
    CHECK(dir.filename() == train::checkpoint_name(step));
    for (auto& [name, p] : loaded.named_parameters()) {
      const auto v = p.value().to_vector();
      CHECK(
          std::all_of(v.begin(), v.end(), [&](float x) { return x == static_cast<float>(step); }));
    }
    completed += step > last_step;
    for (const auto& e : fs::directory_iterator(run))
      if (e.path().filename().string().find(".tmp-" + std::to_string(child)) != std::string::npos)
        ++interrupted;  // this kill landed inside a write
    last_step = step;
    next_step = step + 100;  // the next child's steps are new folders after this one
  }
  // The kills fell both inside writes and after complete ones.
  INFO("one write: " << write_us << " us");
  CHECK(completed > 0);
  CHECK(interrupted > 0);
  fs::remove_all(run);
}
