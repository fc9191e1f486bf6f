// Tests for psalm/autograd/ops/embedding.hpp: lookups with repeated ids (the scatter-add
// gradient) and padding_idx against finite differences in double and PyTorch
// (tests/fixtures/autograd_ops2/embedding.json).
#include "op_check.hpp"
#include "psalm/autograd/ops/embedding.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_gradients;
using testing::Vars;

namespace {
const std::string kFile = "../autograd_ops2/embedding";
}  // namespace

TEST_CASE("embedding: backward matches finite differences with repeated ids",
          "[autograd][embedding]") {
  const auto ids = Tensor<std::int32_t>::from_data({3, 1, 3, 3, 0, 1}, Shape{2, 3});
  const auto w = Tensor<double>::randn({5, 4}, 61).slice(1, 0, 4, 1);
  check_gradients([&](const Vars<double>& v) { return embedding(ids, v[0]); }, {w});
}

TEST_CASE("embedding: padding_idx rows get no gradient, the others the full one",
          "[autograd][embedding]") {
  const auto ids = Tensor<std::int32_t>::from_data({3, 1, 3, 3, 0, 1}, Shape{2, 3});
  const auto w = Tensor<double>::randn({5, 4}, 61);
  const auto plain = Var<double>::parameter(w), padded = Var<double>::parameter(w);
  const Tensor<double> d_y = Tensor<double>::randn({2, 3, 4}, 63);
  backward(embedding(ids, plain), d_y);
  backward(embedding(ids, padded, 3), d_y);
  for (std::int64_t r = 0; r < 5; ++r)
    for (std::int64_t j = 0; j < 4; ++j)
      REQUIRE(padded.grad().item({r, j}) == (r == 3 ? 0.0 : plain.grad().item({r, j})));
  REQUIRE(plain.grad().item({3, 0}) != 0.0);
}

TEST_CASE("embedding: forward and backward match PyTorch", "[autograd][embedding]") {
  const auto ids = testing::fixture_tensor<std::int64_t>(kFile, "repeated_ids", "index");
  testing::check_against_torch(kFile, "repeated_ids",
                               [&](const Vars<float>& v) { return embedding(ids, v[0]); });
  testing::check_against_torch(kFile, "padding_idx",
                               [&](const Vars<float>& v) { return embedding(ids, v[0], 4); });
}

TEST_CASE("embedding: output shape is the ids' shape plus the embedding dimension",
          "[autograd][embedding]") {
  const Var<float> w(Tensor<float>::randn({7, 3}, 62));
  const Var<float> y = embedding(Tensor<std::int64_t>::from_data({6, 0, 2}, Shape{3}), w);
  REQUIRE(y.shape() == Shape{3, 3});
  REQUIRE(y.value().item({0, 1}) == w.value().item({6, 1}));
  REQUIRE_THROWS_AS(embedding(Tensor<std::int64_t>::from_data({7}, Shape{1}), w), Error);
  REQUIRE_THROWS_AS(embedding(Tensor<std::int64_t>::from_data({0}, Shape{1}), w, 9), Error);
}
