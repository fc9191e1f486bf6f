// Test support for tests/autograd/: the two checks every differentiable op gets.
// check_gradients: backward against central finite differences in double, on inputs that may
// be non-contiguous views; check_against_torch: forward and backward in float against a case
// of tests/fixtures/autograd/<op>.json written by tools/reference/autograd_fixtures.py.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "psalm/autograd.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerances.hpp"

namespace psalm::testing {

/// The inputs of an op under test, as the lambdas given to the checks take them.
template <class T>
using Vars = std::vector<autograd::Var<T>>;

template <class T>
using VarFn = std::function<autograd::Var<T>(const Vars<T>&)>;

/// Offset (in elements) of the element with row-major logical index i in a strided view.
inline std::int64_t element_offset(const Shape& shape, const Dims& strides, std::int64_t i) {
  std::int64_t off = 0;
  for (int d = shape.rank() - 1; d >= 0; --d) {
    off += (i % shape[d]) * strides[d];
    i /= shape[d];
  }
  return off;
}

/// The gradients backward gives for L = sum(f(inputs) * w), w a fixed random tensor, match
/// central differences of L for every element of every input. Inputs are used as given (views
/// stay views), so permuted / sliced inputs exercise the ops' non-contiguous paths.
inline void check_gradients(const VarFn<double>& f, const std::vector<Tensor<double>>& inputs,
                            std::uint64_t seed = 99, double rtol = tol::fd_rtol,
                            double atol = tol::fd_atol) {
  std::vector<autograd::Var<double>> leaves;
  for (const auto& x : inputs) leaves.push_back(autograd::Var<double>::parameter(x));
  const autograd::Var<double> y = f(leaves);
  const Tensor<double> w = Tensor<double>::randn(y.shape(), seed);
  autograd::backward(y, w);
  REQUIRE(autograd::Tape::current().size() == 0);

  auto loss = [&]() {
    autograd::NoGrad guard;
    std::vector<autograd::Var<double>> constants;
    for (const auto& x : inputs) constants.emplace_back(x);
    const Tensor<double> out = f(constants).value();
    return psalm::sum(Tensor<double>(out * w)).item();
  };
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    INFO("input " << k << " of shape " << inputs[k].shape());
    const Tensor<double>& grad = leaves[k].grad();
    const std::vector<double> analytic =
        grad.defined() ? grad.to_vector() : std::vector<double>(inputs[k].numel(), 0.0);
    std::vector<double> numeric(inputs[k].numel());
    for (std::int64_t i = 0; i < inputs[k].numel(); ++i) {
      double* p = inputs[k].data() + element_offset(inputs[k].shape(), inputs[k].strides(), i);
      const double keep = *p;
      *p = keep + tol::fd_step;
      const double up = loss();
      *p = keep - tol::fd_step;
      const double down = loss();
      *p = keep;
      numeric[i] = (up - down) / (2 * tol::fd_step);
    }
    require_gradients_match(analytic, numeric, rtol, atol);
  }
}

/// Forward and backward in float of `f` on the case `name` of tests/fixtures/autograd/<file>.json
/// match PyTorch (computed in float64).
inline void check_against_torch(const std::string& file, const std::string& name,
                                const VarFn<float>& f, double rtol = tol::f32_op_rtol,
                                double atol = tol::f32_op_atol) {
  INFO("case " << file << ": " << name);
  const auto all = load_json("autograd/" + file + ".json");
  const auto& c = all.at(name);
  std::vector<autograd::Var<float>> leaves;
  for (const auto& x : c.at("inputs"))
    leaves.push_back(autograd::Var<float>::parameter(tensor_from_json<float>(x)));
  const autograd::Var<float> y = f(leaves);
  require_close(y.value(), tensor_from_json<double>(c.at("out")), rtol, atol);
  autograd::backward(y, tensor_from_json<float>(c.at("d_out")));
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    INFO("gradient of input " << k);
    const Tensor<double> want = tensor_from_json<double>(c.at("grads")[k]);
    const Tensor<float> got =
        leaves[k].grad().defined() ? leaves[k].grad() : Tensor<float>::zeros(want.shape());
    require_close(got, want, rtol, atol);
  }
}

/// A tensor of fixture `key` in case `name` of tests/fixtures/autograd/<file>.json.
template <Scalar T>
Tensor<T> fixture_tensor(const std::string& file, const std::string& name, const std::string& key) {
  return tensor_from_json<T>(load_json("autograd/" + file + ".json").at(name).at(key));
}

}  // namespace psalm::testing
