// Tests of nn/module.hpp and nn/state_dict.hpp: dotted names in visit order, train / eval and
// freezing over a tree, state dicts, strict loading (missing, unexpected, mis-shaped, ignored,
// prefixed), loading from a safetensors file written atomically.
#include <catch2/catch.hpp>

#include <filesystem>
#include <vector>

#include "psalm/nn.hpp"

using namespace psalm;
using nn::Var;

namespace {

// A two-level tree shaped like a transformer block list.
struct Block : nn::Module<float> {
  Block(std::int64_t dim, nn::InitRng& rng) : norm(dim), fc(dim, 2 * dim, rng) {}
  void visit(nn::ModuleVisitor<float>& v) override {
    v.child("norm", norm);
    v.child("fc", fc);
  }
  nn::LayerNorm<float> norm;
  nn::Linear<float> fc;
};

struct Net : nn::Module<float> {
  explicit Net(nn::InitRng& rng) : bn(3), head(4, 2, rng, /*bias=*/false) {
    for (int i = 0; i < 2; ++i) blocks.emplace_back(4, rng);
  }
  void visit(nn::ModuleVisitor<float>& v) override {
    v.children("blocks", blocks);
    v.child("bn", bn);
    v.child("head", head);
  }
  std::vector<Block> blocks;
  nn::BatchNorm2d<float> bn;
  nn::Linear<float> head;
};

std::vector<std::string> parameter_names(nn::Module<float>& m) {
  std::vector<std::string> out;
  for (auto& [n, p] : m.named_parameters()) out.push_back(n);
  return out;
}

}  // namespace

TEST_CASE("module: parameters are named by path in visit order", "[nn]") {
  nn::InitRng rng{7};
  Net net(rng);
  const std::vector<std::string> want{"blocks.0.norm.weight",
                                      "blocks.0.norm.bias",
                                      "blocks.0.fc.weight",
                                      "blocks.0.fc.bias",
                                      "blocks.1.norm.weight",
                                      "blocks.1.norm.bias",
                                      "blocks.1.fc.weight",
                                      "blocks.1.fc.bias",
                                      "bn.weight",
                                      "bn.bias",
                                      "head.weight"};
  CHECK(parameter_names(net) == want);
  CHECK(net.parameter_count() == 2 * (4 + 4 + 8 * 4 + 8) + 3 + 3 + 8);
  std::vector<std::string> buffers;
  net.for_each_buffer(
      [&](const std::string& n, Tensor<float>&, nn::BufferKind) { buffers.push_back(n); });
  CHECK(buffers ==
        std::vector<std::string>{"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"});
}

TEST_CASE("module: train / eval and freezing reach every child", "[nn]") {
  nn::InitRng rng{1};
  Net net(rng);
  CHECK(net.blocks[1].fc.is_training());
  net.eval();
  CHECK_FALSE(net.blocks[1].fc.is_training());
  CHECK_FALSE(net.bn.is_training());
  net.train();
  CHECK(net.bn.is_training());

  CHECK(net.trainable_parameters().size() == 11);
  const Tensor<float> before = net.blocks[0].fc.weight.value();
  net.blocks[0].set_requires_grad(false);  // frozen, still in training mode
  CHECK(net.trainable_parameters().size() == 7);
  CHECK_FALSE(net.blocks[0].fc.weight.requires_grad());
  CHECK(net.blocks[0].fc.weight.value().shares_storage_with(before));
  CHECK(net.blocks[0].is_training());

  // A backward through the frozen block reaches only the trainable parameters.
  Var<float> x(Tensor<float>::randn({5, 4}, 3));
  Var<float> y = net.head(net.blocks[0].norm(x));
  autograd::backward(autograd::sum(y));
  CHECK_FALSE(net.blocks[0].norm.weight.grad().defined());
  CHECK(net.head.weight.grad().defined());
  net.zero_grad();
  CHECK_FALSE(net.head.weight.grad().defined());
  net.set_requires_grad(true);
  CHECK(net.trainable_parameters().size() == 11);
}

TEST_CASE("module: the same seed builds the same weights", "[nn]") {
  nn::InitRng a{42}, b{42}, c{43};
  Net n1(a), n2(b), n3(c);
  CHECK(n1.blocks[1].fc.weight.value().to_vector() == n2.blocks[1].fc.weight.value().to_vector());
  CHECK(n1.blocks[1].fc.weight.value().to_vector() != n3.blocks[1].fc.weight.value().to_vector());
}

TEST_CASE("module: InitRng::for_loading allocates without drawing", "[nn]") {
  nn::InitRng skip = nn::InitRng::for_loading();
  Net net(skip);
  CHECK(net.blocks[1].fc.weight.shape() == Shape{8, 4});
  CHECK(skip.stream == 0);  // no stream consumed
  nn::InitRng r{3};
  Net src(r);
  nn::load_state_dict(net, nn::state_dict(src));
  CHECK(net.blocks[1].fc.weight.value().to_vector() == src.blocks[1].fc.weight.value().to_vector());
}

TEST_CASE("state dict: round trip and strict loading", "[nn]") {
  nn::InitRng r1{1}, r2{2};
  Net src(r1), dst(r2);
  src.bn.running_mean.assign(Tensor<float>::full({3}, 0.5f));
  nn::StateDict<float> sd = nn::state_dict(src);
  CHECK(sd.size() == 14);
  // PyTorch's order: each module's entries where its visit() lists them.
  const std::vector<std::string> names = sd.names();
  CHECK(std::vector<std::string>(names.begin() + 8, names.end()) ==
        std::vector<std::string>{"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                                 "bn.num_batches_tracked", "head.weight"});
  const auto report = nn::load_state_dict(dst, sd);
  CHECK(report.loaded.size() == 14);
  CHECK(dst.blocks[1].fc.weight.value().to_vector() == src.blocks[1].fc.weight.value().to_vector());
  CHECK(dst.bn.running_mean.to_vector() == std::vector<float>(3, 0.5f));
  // Copies: the destination keeps its own storage (an optimizer's Vars stay valid).
  CHECK_FALSE(dst.head.weight.value().shares_storage_with(src.head.weight.value()));

  SECTION("missing tensor") {
    nn::StateDict<float> partial;
    for (const auto& [n, t] : sd)
      if (n != "blocks.1.fc.bias") partial.insert(n, t);
    CHECK_THROWS_WITH(nn::load_state_dict(dst, partial),
                      Catch::Contains("missing") && Catch::Contains("blocks.1.fc.bias"));
    CHECK(
        nn::load_state_dict(dst, partial, {.allow_missing = {"blocks.1.fc.bias"}}).loaded.size() ==
        13);
    const auto lax = nn::load_state_dict(dst, partial, {.strict = false});
    CHECK(lax.missing == std::vector<std::string>{"blocks.1.fc.bias"});
  }
  SECTION("recomputable buffer may be absent") {
    nn::StateDict<float> partial;
    for (const auto& [n, t] : sd)
      if (n != "bn.num_batches_tracked") partial.insert(n, t);
    CHECK(nn::load_state_dict(dst, partial).loaded.size() == 13);
  }
  SECTION("unexpected tensor, and declared ignores") {
    sd.insert("head.bias", Tensor<float>::zeros({2}));
    sd.insert("extra.a", Tensor<float>::zeros({1}));
    CHECK_THROWS_WITH(nn::load_state_dict(dst, sd),
                      Catch::Contains("unexpected") && Catch::Contains("head.bias"));
    const auto r = nn::load_state_dict(dst, sd, {.ignore = {"head.bias", "extra."}});
    CHECK(r.ignored.size() == 2);
  }
  SECTION("mis-shaped tensor") {
    sd.insert("head.weight", Tensor<float>::zeros({4, 2}));
    CHECK_THROWS_WITH(nn::load_state_dict(dst, sd),
                      Catch::Contains("head.weight") && Catch::Contains("(4, 2)"));
  }
  SECTION("prefix selects one component of a larger checkpoint") {
    nn::StateDict<float> big = nn::state_dict(src, "model.vision_tower.");
    big.insert("model.layers.0.weight", Tensor<float>::zeros({1}));  // another component
    CHECK(nn::load_state_dict(dst, big, {.prefix = "model.vision_tower."}).loaded.size() == 14);
    CHECK_THROWS_WITH(nn::load_state_dict(dst, big),
                      Catch::Contains("missing") && Catch::Contains("blocks.0.norm.weight"));
  }
}

TEST_CASE("state dict: safetensors file round trip, dtype conversion", "[nn]") {
  nn::InitRng r1{5}, r2{6};
  Net src(r1), dst(r2);
  const auto path = std::filesystem::temp_directory_path() / "psalm_test_nn_module.safetensors";
  nn::save_safetensors(src, path, {{"format", "pt"}});
  const io::SafetensorsCheckpoint ckpt = io::SafetensorsCheckpoint::open(path);
  CHECK(ckpt.size() == 14);
  nn::load_state_dict(dst, ckpt);
  CHECK(dst.blocks[0].fc.weight.value().to_vector() == src.blocks[0].fc.weight.value().to_vector());

  // A double model loads the float file (converted on load).
  struct Small : nn::Module<double> {
    nn::InitRng rng{0};
    nn::Linear<double> head{4, 2, rng, false};
    void visit(nn::ModuleVisitor<double>& v) override { v.child("head", head); }
  } small;
  nn::load_state_dict(small, ckpt, {.strict = false});
  CHECK(small.head.weight.value().item({1, 3}) ==
        static_cast<double>(src.head.weight.value().item({1, 3})));
  std::filesystem::remove(path);
}
