// Tests for psalm/tensor/host.hpp: host_clone / host_contiguous / host_to_vector give what
// clone() / contiguous() / to_vector() give, on dense tensors, permuted and sliced views,
// broadcast (stride 0) views, rank 0 and empty tensors; host_contiguous shares storage when
// nothing needs copying.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "psalm/tensor.hpp"
#include "psalm/tensor/host.hpp"

using namespace psalm;

TEST_CASE("host copies equal the executor's copies on any layout", "[tensor][host]") {
  const Tensor<float> base = Tensor<float>::randn({3, 4, 5}, 1);
  const std::vector<Tensor<float>> layouts{
      base,
      base.permute({2, 0, 1}),
      base.slice(1, 1, 4, 2).transpose(0, 2),
      base.select(1, 2),
      Tensor<float>::randn({4, 1}, 2).expand(Shape{4, 6}),
      Tensor<float>::full(Shape{}, 3.5f),
      Tensor<float>(Shape{2, 0, 3}),
  };
  for (const Tensor<float>& t : layouts) {
    INFO("shape " << t.shape() << ", contiguous " << t.is_contiguous());
    const Tensor<float> copy = host_clone(t);
    CHECK(copy.shape() == t.shape());
    CHECK((copy.is_contiguous() || copy.numel() == 0));  // empty shapes report no layout
    CHECK(!copy.shares_storage_with(base));
    CHECK(copy.to_vector() == t.clone().to_vector());
    CHECK(host_to_vector(t) == t.to_vector());
    CHECK(host_contiguous(t).to_vector() == t.contiguous().to_vector());
    if (t.numel() > 0) CHECK(host_contiguous(t).shares_storage_with(t) == t.is_contiguous());
  }
  const Tensor<std::uint8_t> bytes = Tensor<std::uint8_t>::arange(0, 24).view({2, 3, 4});
  CHECK(host_to_vector(bytes.permute({2, 1, 0})) == bytes.permute({2, 1, 0}).to_vector());
}
