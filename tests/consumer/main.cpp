// A downstream program: includes psalm, evaluates an expression, a reduction and a product,
// and exits non-zero if any result is wrong.
#include <psalm/tensor.hpp>

#include <cstdio>

int main() {
  using psalm::Tensor;
  const auto a = Tensor<float>::arange(6).reshape({2, 3});
  const Tensor<float> y = a * 2.0f + 1.0f;                    // (2, 3)
  const auto s = psalm::sum(y);                               // ()
  const auto p = psalm::matmul(a, a, {.transpose_b = true});  // (2, 2)
  const bool ok = s.item() == 36.0f && p.item({1, 1}) == 50.0f;
  std::printf("%s\n", psalm::to_string(p).c_str());
  return ok ? 0 : 1;
}
