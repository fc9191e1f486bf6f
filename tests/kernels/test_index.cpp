// Tests for psalm/kernels/index.hpp: index_select and gather against direct loops, and their
// scatter-adds as exact adjoints (repeated indices add up, the skipped index adds nothing),
// run in parallel so the atomic adds race for real.
#include <catch2/catch.hpp>

#include <vector>

#include "psalm/kernels/index.hpp"
#include "psalm/tensor.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;

TEST_CASE("index kernels: index_select picks rows and index_add sums repeated ones",
          "[kernels][index]") {
  // in (2, 4, 3) -> out (2, 5, 3) along axis 1 with repeats.
  const Tensor<double> in = Tensor<double>::randn({2, 4, 3}, 1);
  const std::vector<std::int64_t> idx = {3, 0, 3, 3, 1};
  const auto index = Tensor<std::int64_t>::from_data(idx, Shape{5});
  Tensor<double> out(Shape{2, 5, 3});
  Executor<cpu>::launch(out.numel(), kernels::IndexSelect<double, std::int64_t>{
                                         in.data(), index.data(), out.data(), 4, 5, 3});
  for (std::int64_t o = 0; o < 2; ++o)
    for (std::int64_t j = 0; j < 5; ++j)
      for (std::int64_t i = 0; i < 3; ++i) REQUIRE(out.item({o, j, i}) == in.item({o, idx[j], i}));

  // A large scatter with many collisions: every thread adds 1 into one of 4 rows.
  const std::int64_t count = 1 << 16;
  std::vector<std::int32_t> many(count);
  for (std::int64_t j = 0; j < count; ++j) many[j] = static_cast<std::int32_t>(j % 4);
  const auto many_t = Tensor<std::int32_t>::from_data(many, Shape{count});
  const Tensor<float> ones = Tensor<float>::ones({1, count, 2});
  Tensor<float> acc = Tensor<float>::zeros({1, 4, 2});
  Executor<cpu>::launch(ones.numel(),
                        kernels::IndexAdd<float, std::int32_t>{ones.data(), many_t.data(),
                                                               acc.data(), 4, count, 2, 2},
                        1024);
  REQUIRE(acc.to_vector() == std::vector<float>{count / 4, count / 4, count / 4, count / 4, 0, 0,
                                                count / 4, count / 4});
}

TEST_CASE("index kernels: gather reads along the axis and scatter_add is its adjoint",
          "[kernels][index]") {
  const Tensor<double> base = Tensor<double>::randn({3, 4, 5}, 2);
  const Tensor<double> in = base.permute({2, 0, 1});  // (5, 3, 4), strided
  std::vector<std::int64_t> idx(2 * 3 * 2);
  for (std::size_t e = 0; e < idx.size(); ++e) idx[e] = static_cast<std::int64_t>((e * 7) % 3);
  const auto index = Tensor<std::int64_t>::from_data(idx, Shape{2, 3, 2});  // gather on axis 2
  Tensor<double> out(index.shape());
  Executor<cpu>::launch(
      out.numel(), kernels::GatherAxis<double, std::int64_t>{
                       in.data(), index.data(), out.data(), index.shape().dims(), in.strides(), 2});
  for (std::int64_t a = 0; a < 2; ++a)
    for (std::int64_t b = 0; b < 3; ++b)
      for (std::int64_t c = 0; c < 2; ++c)
        REQUIRE(out.item({a, b, c}) == in.item({a, b, index.item({a, b, c})}));

  const Tensor<double> d_out = Tensor<double>::randn(index.shape(), 3);
  const Tensor<double> x = Tensor<double>::randn({5, 3, 4}, 4);
  Tensor<double> d_in = Tensor<double>::zeros({5, 3, 4});
  Executor<cpu>::launch(d_out.numel(), kernels::ScatterAddAxis<double, std::int64_t>{
                                           d_out.data(), index.data(), d_in.data(),
                                           index.shape().dims(), d_in.strides(), 2});
  Tensor<double> gx(index.shape());
  Executor<cpu>::launch(
      gx.numel(), kernels::GatherAxis<double, std::int64_t>{x.data(), index.data(), gx.data(),
                                                            index.shape().dims(), x.strides(), 2});
  double lhs = 0, rhs = 0;
  const auto gv = gx.to_vector(), dv = d_out.to_vector(), xv = x.to_vector(), iv = d_in.to_vector();
  for (std::size_t i = 0; i < gv.size(); ++i) lhs += gv[i] * dv[i];
  for (std::size_t i = 0; i < xv.size(); ++i) rhs += xv[i] * iv[i];
  REQUIRE(lhs == Approx(rhs).epsilon(tol::f64_rtol));
}
