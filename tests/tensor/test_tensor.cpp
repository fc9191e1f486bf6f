// Tests for psalm/tensor/tensor.hpp: factories, views without copies, copies, errors.
#include <catch2/catch.hpp>

#include "psalm/tensor.hpp"
#include "support/fixtures.hpp"

using namespace psalm;

namespace {
std::vector<float> values(const Tensor<float>& t) { return t.to_vector(); }
}  // namespace

TEST_CASE("factories: zeros, ones, full, arange, from_data", "[tensor]") {
  REQUIRE(values(Tensor<float>::zeros({2, 2})) == std::vector<float>{0, 0, 0, 0});
  REQUIRE(values(Tensor<float>::ones({3})) == std::vector<float>{1, 1, 1});
  REQUIRE(values(Tensor<float>::full({2}, 7.5f)) == std::vector<float>{7.5f, 7.5f});
  REQUIRE(values(Tensor<float>::arange(2.0, 3.0, 0.25)) ==
          std::vector<float>{2, 2.25f, 2.5f, 2.75f});
  REQUIRE(Tensor<std::int64_t>::arange(5).to_vector() == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  REQUIRE(Tensor<float>::arange(3.0, 1.0).numel() == 0);
  REQUIRE_THROWS_WITH((Tensor<float>::from_data({1, 2, 3}, {2, 2})),
                      Catch::Contains("do not fill shape (2, 2)"));
  REQUIRE_FALSE(Tensor<float>().defined());
  REQUIRE(Tensor<float>::zeros({0, 3}).defined());
}

TEST_CASE("rand and randn are seeded and follow the counter-based stream", "[tensor]") {
  const auto a = Tensor<float>::rand({1000}, 5), b = Tensor<float>::rand({1000}, 5),
             c = Tensor<float>::rand({1000}, 6);
  REQUIRE(values(a) == values(b));
  REQUIRE(values(a) != values(c));
  REQUIRE(a.item({17}) == CounterRng{5, 0}.uniform(17));
  const auto n = Tensor<double>::randn({4}, 9, 10.0, 2.0);
  REQUIRE(n.item({3}) == Approx(10.0 + 2.0 * CounterRng{9, 0}.normal(3)));
}

TEST_CASE("views share storage: reshape, permute, transpose, slice, select, expand",
          "[tensor][view]") {
  const auto x = Tensor<float>::arange(24).reshape({2, 3, 4});
  const auto p = x.permute({2, 0, 1});
  REQUIRE(p.shape() == (Shape{4, 2, 3}));
  REQUIRE(p.shares_storage_with(x));
  REQUIRE(p.item({3, 1, 2}) == x.item({1, 2, 3}));
  REQUIRE_FALSE(p.is_contiguous());

  const auto s = x.slice(2, 1, 4, 2);  // columns 1 and 3
  REQUIRE(s.shape() == (Shape{2, 3, 2}));
  REQUIRE(s.item({1, 2, 1}) == 23.0f);
  REQUIRE(x.slice(1, -2, 100).shape() == (Shape{2, 2, 4}));  // Python slice clamping
  REQUIRE(x.select(1, -1).shape() == (Shape{2, 4}));
  REQUIRE(x.select(1, -1).item({1, 0}) == 20.0f);
  REQUIRE(x.narrow(0, 1, 1).item({0, 0, 0}) == 12.0f);

  const auto e = Tensor<float>::arange(3).reshape({3, 1}).expand({2, 3, 4});
  REQUIRE(e.strides()[0] == 0);
  REQUIRE(e.item({1, 2, 3}) == 2.0f);
  REQUIRE(x.unsqueeze(0).shape() == (Shape{1, 2, 3, 4}));
  REQUIRE(x.unsqueeze(-1).shape() == (Shape{2, 3, 4, 1}));
  REQUIRE(x.unsqueeze(1).squeeze(1).shape() == x.shape());
  REQUIRE(x.transpose(0, 2).item({3, 2, 1}) == x.item({1, 2, 3}));
}

TEST_CASE("view needs compatible strides; reshape copies when it must", "[tensor][view]") {
  const auto x = Tensor<float>::arange(12).reshape({3, 4});
  const auto t = x.transpose(0, 1);  // (4, 3), not contiguous
  REQUIRE_THROWS_WITH(t.view({12}), Catch::Contains("without a copy"));
  const auto flat = t.reshape({-1});
  REQUIRE_FALSE(flat.shares_storage_with(x));
  REQUIRE(values(flat) == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  // Every other block of a (4, 2, 4) tensor: the last two axes still merge without a copy,
  // the first two cannot.
  const auto rows = Tensor<float>::arange(32).reshape({4, 2, 4}).slice(0, 0, 4, 2);  // (2, 2, 4)
  const auto v = rows.view({2, 8});
  REQUIRE(v.shares_storage_with(rows));
  REQUIRE(v.item({1, 5}) == 21.0f);
  REQUIRE_THROWS_WITH(rows.view({4, 4}), Catch::Contains("without a copy"));
  REQUIRE_THROWS_WITH(x.reshape({5, -1}), Catch::Contains("cannot infer"));
  REQUIRE_THROWS_WITH(x.reshape({5, 3}), Catch::Contains("cannot become"));
}

TEST_CASE("contiguous, clone and in-place assign through a view", "[tensor]") {
  auto x = Tensor<float>::zeros({3, 4});
  REQUIRE(x.contiguous().shares_storage_with(x));
  const auto c = x.clone();
  REQUIRE_FALSE(c.shares_storage_with(x));
  x.slice(1, 1, 3).assign(Tensor<float>::full({3, 1}, 5.0f));  // broadcast into a strided view
  REQUIRE(values(x) == std::vector<float>{0, 5, 5, 0, 0, 5, 5, 0, 0, 5, 5, 0});
  REQUIRE(values(c) == std::vector<float>(12, 0.0f));
  x.select(0, 2).fill(1.0f);
  REQUIRE(x.item({2, 0}) == 1.0f);
  REQUIRE_THROWS_WITH(x.assign(Tensor<float>::zeros({2, 4})),
                      Catch::Contains("does not broadcast"));
}

TEST_CASE("errors name the shape and the axis", "[tensor]") {
  const auto x = Tensor<float>::zeros({2, 3});
  REQUIRE_THROWS_WITH(x.permute({0, 0}), Catch::Contains("repeated"));
  REQUIRE_THROWS_WITH(x.select(1, 3), Catch::Contains("out of range for axis 1"));
  REQUIRE_THROWS_WITH(x.narrow(0, 1, 2), Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(x.expand({4, 3}), Catch::Contains("cannot expand shape (2, 3)"));
  REQUIRE_THROWS_WITH(x.squeeze(0), Catch::Contains("is not 1"));
  REQUIRE_THROWS_WITH(x.item({2, 0}), Catch::Contains("out of range"));
}

TEST_CASE("from_external wraps foreign memory without a copy and keeps its owner alive",
          "[tensor]") {
  auto buffer = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4, 5, 6});
  std::weak_ptr<std::vector<float>> watch = buffer;
  Tensor<float> view;
  {
    const auto t = Tensor<float>::from_external(buffer, buffer->data(), {2, 3});
    buffer.reset();
    REQUIRE(t.item({1, 2}) == 6.0f);
    view = t.transpose(0, 1);
  }
  REQUIRE_FALSE(watch.expired());  // the view still owns the buffer
  REQUIRE(view.item({2, 1}) == 6.0f);
  view = Tensor<float>();
  REQUIRE(watch.expired());
  REQUIRE_THROWS_WITH(Tensor<float>::from_external(nullptr, nullptr, {2}),
                      Catch::Contains("null data"));
}
