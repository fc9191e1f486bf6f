// psalm/io/tensor_record.hpp — TensorRecord: where one tensor of a checkpoint lies (element type,
// byte order, shape, strides and offset into a storage's bytes), with a bounds check, a gather
// into contiguous little-endian bytes, and load<T> by safetensors_convert.hpp's rules. Shared by
// the pickle, PyTorch-zip and safetensors readers. Host code.
// Depends on: core, tensor, io/safetensors_{header,convert}. Test: tests/io/test_checkpoints.cpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/core/shape.hpp"
#include "psalm/io/safetensors_convert.hpp"
#include "psalm/io/safetensors_header.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::io {

/// One tensor as a checkpoint stores it: element i (multi-index idx) of the tensor is the
/// element at `offset + sum(idx[d] * strides[d])` of `storage`, counted in elements of `dtype`.
/// A numpy array is a record with C- or Fortran-order strides over its own bytes; a PyTorch
/// tensor may view a shared storage with any offset and non-negative strides.
struct TensorRecord {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  bool big_endian = false;             // numpy '>' arrays; everything else is little-endian
  std::vector<std::int64_t> shape;     // extents, each >= 0
  std::vector<std::int64_t> strides;   // in elements, one per extent, each >= 0
  std::int64_t offset = 0;             // in elements
  std::span<const std::byte> storage;  // every byte of the storage the tensor views
  std::string storage_key;             // a PyTorch storage's record name; "" otherwise

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t e : shape) n *= e;  // validated not to overflow by check_tensor_record
    return n;
  }
  std::uint64_t byte_size() const { return static_cast<std::uint64_t>(numel()) * size_of(dtype); }
  /// True when the elements lie in C order one after the other (extents of 1 and empty tensors
  /// impose nothing on their strides, as in PyTorch's is_contiguous).
  bool contiguous() const {
    if (numel() == 0) return true;
    std::int64_t expected = 1;
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (shape[d] == 1) continue;
      if (strides[d] != expected) return false;
      expected *= shape[d];
    }
    return true;
  }
  /// The first byte of element 0.
  const std::byte* first_byte() const {
    return storage.data() + static_cast<std::size_t>(offset) * size_of(dtype);
  }
};

/// The most bytes a tensor may have beyond those of its storage (a stride-0 expansion, which
/// psalm materialises when it loads or converts the tensor): 1 GiB.
inline constexpr std::uint64_t kMaxExpandedTensorBytes = std::uint64_t{1} << 30;

/// Throws (naming `source` and the tensor) unless every element of `r` lies inside its storage:
/// extents and strides non-negative, one stride per extent, element count, byte size and the
/// largest element index computed without overflow; a tensor larger than its storage (stride 0)
/// at most kMaxExpandedTensorBytes. Empty tensors view no bytes.
inline void check_tensor_record(const TensorRecord& r, std::string_view source) {
  auto bad = [&](const auto&... why) { fail(source, ": tensor \"", r.name, "\": ", why...); };
  if (r.strides.size() != r.shape.size())
    bad(r.shape.size(), " extents but ", r.strides.size(), " strides");
  if (r.offset < 0) bad("negative storage offset ", r.offset);
  std::int64_t numel = 1;
  for (std::size_t d = 0; d < r.shape.size(); ++d) {
    if (r.shape[d] < 0) bad("extent ", d, " is negative (", r.shape[d], ")");
    if (r.strides[d] < 0) bad("stride ", d, " is negative (", r.strides[d], ")");
    if (__builtin_mul_overflow(numel, r.shape[d], &numel)) bad("element count overflows");
  }
  std::int64_t bytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<std::int64_t>(size_of(r.dtype)), &bytes))
    bad("byte size overflows");
  if (numel == 0) return;
  if (static_cast<std::uint64_t>(bytes) > r.storage.size() &&
      static_cast<std::uint64_t>(bytes) > kMaxExpandedTensorBytes)
    bad("its ", bytes, " bytes expand a storage of ", r.storage.size(),
        " bytes (stride 0) past psalm's limit of ", kMaxExpandedTensorBytes, " bytes");
  std::int64_t last = r.offset;  // index of the element farthest into the storage
  for (std::size_t d = 0; d < r.shape.size(); ++d) {
    std::int64_t step = 0;
    if (__builtin_mul_overflow(r.shape[d] - 1, r.strides[d], &step) ||
        __builtin_add_overflow(last, step, &last))
      bad("element offsets overflow");
  }
  const std::uint64_t available = r.storage.size() / size_of(r.dtype);
  if (static_cast<std::uint64_t>(last) >= available)
    bad("its elements reach index ", last, " of a storage holding ", available, " ",
        name_of(r.dtype), " elements (offset ", r.offset, ")");
}

namespace detail {

inline void byteswap_elements(std::byte* data, std::size_t count, std::size_t width) {
  for (std::size_t i = 0; i < count; ++i) std::reverse(data + i * width, data + (i + 1) * width);
}

}  // namespace detail

/// Writes the elements of `r` (checked by check_tensor_record) into `out` in C order,
/// little-endian; `out` must hold exactly r.byte_size() bytes.
inline void copy_tensor_record(const TensorRecord& r, std::span<std::byte> out) {
  const std::size_t width = size_of(r.dtype);
  PSALM_CHECK(out.size() == r.byte_size(), "tensor \"", r.name, "\": ", out.size(),
              " bytes given for ", r.byte_size());
  const std::int64_t n = r.numel();
  if (n == 0) return;
  if (r.contiguous()) {
    std::memcpy(out.data(), r.first_byte(), out.size());
  } else {
    // Walk the elements in C order; the innermost extent is one run (a memcpy when its stride is
    // 1).
    const std::size_t rank = r.shape.size();
    const std::int64_t inner = rank ? r.shape[rank - 1] : 1;
    const std::int64_t inner_stride = rank ? r.strides[rank - 1] : 1;
    std::vector<std::int64_t> index(rank, 0);
    std::byte* dst = out.data();
    for (std::int64_t done = 0; done < n; done += inner) {
      std::int64_t at = r.offset;
      for (std::size_t d = 0; d + 1 < rank; ++d) at += index[d] * r.strides[d];
      const std::byte* src = r.storage.data() + static_cast<std::size_t>(at) * width;
      if (inner_stride == 1) {
        std::memcpy(dst, src, static_cast<std::size_t>(inner) * width);
        dst += inner * static_cast<std::int64_t>(width);
      } else {
        for (std::int64_t i = 0; i < inner; ++i, dst += width)
          std::memcpy(dst, src + static_cast<std::size_t>(i * inner_stride) * width, width);
      }
      for (std::size_t d = rank; d > 1; --d) {  // odometer over the outer extents
        if (++index[d - 2] < r.shape[d - 2]) break;
        index[d - 2] = 0;
      }
    }
  }
  if (r.big_endian && width > 1)
    detail::byteswap_elements(out.data(), static_cast<std::size_t>(n), width);
}

/// The elements of `r` as contiguous little-endian bytes: a view of the storage when they
/// already are, else a copy kept in `scratch`.
inline std::span<const std::byte> tensor_record_bytes(const TensorRecord& r,
                                                      std::vector<std::byte>& scratch) {
  if (r.contiguous() && (!r.big_endian || size_of(r.dtype) == 1))
    return {r.first_byte(), static_cast<std::size_t>(r.byte_size())};
  scratch.resize(static_cast<std::size_t>(r.byte_size()));
  copy_tensor_record(r, scratch);
  return scratch;
}

/// True when load_tensor_record<T> returns a view of the storage rather than a copy.
template <Scalar T>
bool tensor_record_is_zero_copy(const TensorRecord& r) {
  return safetensors_same_type<T>(r.dtype) && r.contiguous() &&
         (!r.big_endian || size_of(r.dtype) == 1) &&
         reinterpret_cast<std::uintptr_t>(r.first_byte()) % alignof(T) == 0 &&
         r.dtype != SafetensorsDType::BOOL;
}

/// Tensor `r` as a contiguous Tensor<T> (checked by check_tensor_record): a view of the storage
/// (kept alive by `owner`) when tensor_record_is_zero_copy<T>, else converted by the rules of
/// safetensors_convert.hpp (docs/io.md), an error naming `source` and the tensor.
template <Scalar T>
Tensor<T> load_tensor_record(const TensorRecord& r, const std::shared_ptr<void>& owner,
                             std::string_view source) {
  PSALM_CHECK(r.shape.size() <= static_cast<std::size_t>(kMaxRank), source, ": tensor \"", r.name,
              "\" has rank ", r.shape.size(), ", more than psalm's maximum of ", kMaxRank);
  const Shape shape{std::span<const std::int64_t>(r.shape)};
  if (tensor_record_is_zero_copy<T>(r))  // the bytes are private copy-on-write pages or ours
    return Tensor<T>::from_external(owner,
                                    reinterpret_cast<T*>(const_cast<std::byte*>(r.first_byte())),
                                    shape);  // (record shape)
  std::vector<std::byte> scratch;
  const std::span<const std::byte> bytes = tensor_record_bytes(r, scratch);
  Tensor<T> out(shape);  // (record shape)
  SafetensorsEntry e;
  e.name = r.name;
  e.dtype = r.dtype;
  e.shape = r.shape;
  e.end = r.byte_size();
  if (safetensors_same_type<T>(r.dtype)) {
    if (r.dtype == SafetensorsDType::BOOL) {
      for (std::size_t i = 0; i < bytes.size(); ++i)
        PSALM_CHECK(static_cast<std::uint8_t>(bytes[i]) <= 1, source, ": tensor \"", r.name,
                    "\": BOOL element ", i, " holds byte ", static_cast<int>(bytes[i]),
                    " (must be 0 or 1)");
    }
    if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  } else {
    convert_safetensors_elements<T>(e, bytes.data(), out.data(), source);
  }
  return out;
}

}  // namespace psalm::io
