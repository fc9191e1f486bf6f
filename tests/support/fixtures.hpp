// Test support: loading golden values written by tools/reference/*.py (JSON, committed under
// tests/fixtures/) and comparing tensors with the tolerances in tolerances.hpp.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "psalm/tensor.hpp"

namespace psalm::testing {

/// Parsed JSON of tests/fixtures/<relative_path>.
inline nlohmann::json load_json(const std::string& relative_path) {
  const std::string path = std::string(PSALM_TEST_FIXTURES_DIR) + "/" + relative_path;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture " + path);
  return nlohmann::json::parse(in);
}

/// A JSON array of numbers, where non-finite values are written "inf", "-inf" or "nan".
inline std::vector<double> doubles_from_json(const nlohmann::json& array) {
  std::vector<double> out;
  out.reserve(array.size());
  for (const auto& v : array) {
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      out.push_back(s == "nan" ? std::nan("") : (s == "inf" ? INFINITY : -INFINITY));
    } else {
      out.push_back(v.get<double>());
    }
  }
  return out;
}

/// A fixture entry {"shape": [...], "data": [...]} as a tensor of T.
template <Scalar T>
Tensor<T> tensor_from_json(const nlohmann::json& entry) {
  std::vector<std::int64_t> shape = entry.at("shape").get<std::vector<std::int64_t>>();
  const std::vector<double> data = doubles_from_json(entry.at("data"));
  std::vector<T> values(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) values[i] = convert<T>(data[i]);
  return Tensor<T>::from_data(values, Shape(shape));
}

/// Checks shape equality and |got - want| <= atol + rtol * |want| elementwise (NaN == NaN,
/// equal infinities match), reporting the first mismatch.
template <Scalar T, Scalar U>
void require_close(const Tensor<T>& got, const Tensor<U>& want, double rtol, double atol) {
  INFO("shapes " << got.shape() << " vs " << want.shape());
  REQUIRE(got.shape() == want.shape());
  const std::vector<T> g = got.to_vector();
  const std::vector<U> w = want.to_vector();
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double a = convert<double>(g[i]), b = convert<double>(w[i]);
    const bool both_nan = std::isnan(a) && std::isnan(b);
    const bool same_inf = std::isinf(a) && a == b;
    const bool ok = both_nan || same_inf || std::fabs(a - b) <= atol + rtol * std::fabs(b);
    if (!ok) {
      FAIL("element " << i << ": got " << a << ", want " << b << " (rtol " << rtol << ", atol "
                      << atol << ")");
    }
  }
}

/// Checks shape equality and max |got - want| <= atol + rtol * max |want| over the tensor (the
/// scale of a whole model's outputs: tol::psalm_forward_*), reporting the worst entry under
/// `what`. NaN counts as the worst difference.
inline void require_close_to_max(const Tensor<float>& got, const Tensor<float>& want,
                                 const std::string& what, double rtol, double atol) {
  INFO(what);
  REQUIRE(got.shape() == want.shape());
  const std::vector<float> g = got.contiguous().to_vector(), w = want.contiguous().to_vector();
  double scale = 0, worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < w.size(); ++i) scale = std::max(scale, std::abs(double(w[i])));
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double d = std::abs(double(g[i]) - double(w[i]));
    if (!(d <= worst)) worst = d, at = i;  // NaN counts as worst
  }
  INFO("worst |diff| " << worst << " at " << at << " (got " << (g.empty() ? 0 : g[at]) << ", want "
                       << (w.empty() ? 0 : w[at]) << "), max |want| " << scale);
  CHECK(worst <= atol + rtol * scale);
}

}  // namespace psalm::testing
