// Tests for psalm/autograd/ops/matmul.hpp: plain, batched and broadcast-batch products against
// finite differences in double (transposed / sliced operands) and PyTorch
// (tests/fixtures/autograd/matmul.json).
#include "op_check.hpp"

using namespace psalm;
using namespace psalm::autograd;
using testing::check_against_torch;
using testing::check_gradients;
using testing::Vars;

namespace {
const testing::VarFn<double> mm = [](const Vars<double>& v) { return matmul(v[0], v[1]); };
const testing::VarFn<float> mmf = [](const Vars<float>& v) { return matmul(v[0], v[1]); };
}  // namespace

TEST_CASE("matmul: backward matches finite differences for every batch layout",
          "[autograd][matmul]") {
  check_gradients(mm, {Tensor<double>::randn({3, 4}, 51), Tensor<double>::randn({4, 5}, 52)});
  check_gradients(mm, {Tensor<double>::randn({2, 3, 4}, 53), Tensor<double>::randn({2, 4, 5}, 54)});
  check_gradients(mm, {Tensor<double>::randn({2, 3, 4}, 55), Tensor<double>::randn({4, 5}, 56)});
  check_gradients(mm, {Tensor<double>::randn({3, 4}, 57), Tensor<double>::randn({2, 4, 5}, 58)});
  // Non-contiguous operands: a transposed matrix and a sliced batch.
  const auto a = Tensor<double>::randn({4, 3}, 59).transpose(0, 1);
  const auto b = Tensor<double>::randn({2, 4, 10}, 60).slice(2, 0, 10, 2);
  check_gradients(mm, {a, b});
}

TEST_CASE("matmul: forward and backward match PyTorch", "[autograd][matmul]") {
  for (const char* name : {"plain", "batched", "batched_by_matrix", "matrix_by_batched"})
    check_against_torch("matmul", name, mmf);
}
