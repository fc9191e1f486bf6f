// psalm/io/record_checkpoint.hpp — RecordCheckpoint: the named tensors of one checkpoint file as
// TensorRecords over bytes it keeps alive (a memory map or a buffer), with the interface
// nn::load_state_dict takes (names, contains, shape, load<T>): what PickleCheckpoint (Mask2Former
// .pkl), TorchCheckpoint (torch.save zip) and open_checkpoint (any of those or safetensors) return.
// Host code. Depends on: core, tensor, io/{tensor_record,safetensors_header}.
// Test: tests/io/test_checkpoints.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/safetensors_header.hpp"
#include "psalm/io/tensor_record.hpp"
#include "psalm/tensor/tensor.hpp"

namespace psalm::io {

class RecordCheckpoint {
 public:
  RecordCheckpoint() = default;

  /// The file name (or a label for in-memory input): the start of every error message.
  const std::string& source() const { return source_; }
  /// "mask2former-pickle", "torch-zip" or "safetensors".
  const std::string& format() const { return format_; }
  /// Tensors in the order the file lists them.
  const std::vector<TensorRecord>& records() const { return records_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(records_.size());
    for (const TensorRecord& r : records_) out.push_back(r.name);
    return out;
  }
  std::size_t size() const { return records_.size(); }
  bool contains(std::string_view name) const { return index_.contains(std::string(name)); }
  /// The record of tensor `name`; throws naming the file when absent.
  const TensorRecord& record(std::string_view name) const {
    const auto it = index_.find(std::string(name));
    PSALM_CHECK(it != index_.end(), source_, ": no tensor named \"", name, "\"");
    return records_[it->second];
  }
  SafetensorsDType dtype(std::string_view name) const { return record(name).dtype; }
  const std::vector<std::int64_t>& shape(std::string_view name) const { return record(name).shape; }
  /// Scalar entries beside the tensors (a Mask2Former pickle's "__author__", a safetensors
  /// file's __metadata__), as text.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// Entries that are not tensors and were left out, described ("optimizer: list of 2 items").
  const std::vector<std::string>& skipped() const { return skipped_; }

  /// True when load<T>(name) returns a view of the file's bytes rather than a copy.
  template <Scalar T>
  bool is_zero_copy(std::string_view name) const {
    return tensor_record_is_zero_copy<T>(record(name));
  }
  /// Tensor `name` as a contiguous Tensor<T> (docs/io.md's conversion rules); strided and
  /// big-endian tensors are gathered, aligned contiguous ones of type T are views.
  template <Scalar T>
  Tensor<T> load(std::string_view name) const {
    return load_tensor_record<T>(record(name), owner_, source_);
  }
  /// The elements of tensor `name` in C order, little-endian (a copy).
  std::vector<std::byte> bytes(std::string_view name) const {
    const TensorRecord& r = record(name);
    std::vector<std::byte> out(static_cast<std::size_t>(r.byte_size()));
    copy_tensor_record(r, out);
    return out;
  }

 protected:
  /// Checks `r` against its storage and adds it; a repeated name is an error.
  void add(TensorRecord r) {
    check_tensor_record(r, source_);
    const auto [it, fresh] = index_.try_emplace(r.name, records_.size());
    PSALM_CHECK(fresh, source_, ": tensor \"", r.name, "\" appears twice");
    records_.push_back(std::move(r));
  }

  std::string source_;
  std::string format_;
  std::shared_ptr<void> owner_;  // keeps every record's storage bytes alive
  std::map<std::string, std::string> metadata_;
  std::vector<std::string> skipped_;

 private:
  std::vector<TensorRecord> records_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace psalm::io
