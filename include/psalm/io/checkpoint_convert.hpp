// psalm/io/checkpoint_convert.hpp — a checkpoint of any format (io/checkpoint.hpp) rewritten as
// one safetensors file, atomically: names filtered by prefixes (stripped or kept, another prefix
// added), floating-point tensors optionally converted, every other tensor copied bit for bit
// (strided PyTorch views and big-endian numpy arrays made contiguous little-endian). What
// `psalm convert` runs. Host code.
// Depends on: core, tensor, io/{record_checkpoint,safetensors_writer}. Test:
// tests/io/test_checkpoints.cpp.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "psalm/core/bf16.hpp"
#include "psalm/core/error.hpp"
#include "psalm/io/record_checkpoint.hpp"
#include "psalm/io/safetensors_writer.hpp"

namespace psalm::io {

struct ConvertOptions {
  /// Keep only tensors whose names start with one of these (every tensor when empty); each
  /// prefix must match at least one tensor.
  std::vector<std::string> prefixes{};
  /// Remove the matched prefix from the kept names.
  bool strip_prefix = true;
  /// Prepended to every kept name (after stripping).
  std::string add_prefix{};
  /// F32, BF16 or F64: floating-point tensors (F16, BF16, F32, F64) are converted to it by
  /// docs/io.md's rules; integer, bool and complex tensors are copied. nullopt: all copied.
  std::optional<SafetensorsDType> float_dtype{};
  /// Added to the output's __metadata__ (after the input's own and "format": "pt").
  std::map<std::string, std::string> metadata{};
};

/// One tensor of the output.
struct ConvertedTensor {
  std::string from, to;                            // its name in the input and in the output
  SafetensorsDType dtype = SafetensorsDType::F32;  // in the output
  std::vector<std::int64_t> shape;
};

/// The output's tensors, in input order, after checking the options against `in`.
inline std::vector<ConvertedTensor> plan_conversion(const RecordCheckpoint& in,
                                                    const ConvertOptions& opt) {
  using D = SafetensorsDType;
  if (opt.float_dtype)
    PSALM_CHECK(
        *opt.float_dtype == D::F32 || *opt.float_dtype == D::BF16 || *opt.float_dtype == D::F64,
        "convert: tensors can be converted to F32, BF16 or F64, not ", name_of(*opt.float_dtype));
  std::vector<ConvertedTensor> out;
  std::set<std::string> names;
  std::vector<bool> used(opt.prefixes.size(), false);
  for (const TensorRecord& r : in.records()) {
    std::string to = r.name;
    if (!opt.prefixes.empty()) {
      std::size_t match = opt.prefixes.size();
      for (std::size_t p = 0; p < opt.prefixes.size() && match == opt.prefixes.size(); ++p)
        if (r.name.starts_with(opt.prefixes[p])) match = p;
      if (match == opt.prefixes.size()) continue;
      used[match] = true;
      if (opt.strip_prefix) to = r.name.substr(opt.prefixes[match].size());
    }
    to = opt.add_prefix + to;
    PSALM_CHECK(!to.empty(), in.source(), ": tensor \"", r.name,
                "\" would get an empty name (the prefix is its whole name)");
    PSALM_CHECK(names.insert(to).second, in.source(), ": two tensors would both be named \"", to,
                "\" in the output");
    const bool floating =
        r.dtype == D::F16 || r.dtype == D::BF16 || r.dtype == D::F32 || r.dtype == D::F64;
    out.push_back({r.name, to, floating && opt.float_dtype ? *opt.float_dtype : r.dtype, r.shape});
  }
  for (std::size_t p = 0; p < opt.prefixes.size(); ++p) {
    if (used[p]) continue;
    std::string examples;
    for (std::size_t i = 0; i < in.records().size() && i < 3; ++i)
      examples += (i ? ", \"" : "\"") + in.records()[i].name + "\"";
    fail(in.source(), ": no tensor name starts with \"", opt.prefixes[p], "\" (names look like ",
         examples.empty() ? std::string("nothing: the checkpoint holds no tensors") : examples,
         ")");
  }
  PSALM_CHECK(!out.empty(), in.source(), ": nothing to write (no tensors)");
  return out;
}

/// Writes the planned tensors of `in` to `path` as safetensors (atomically: an existing file is
/// replaced only by the complete new one). Tensors are produced one at a time while writing.
inline std::vector<ConvertedTensor> convert_to_safetensors(const RecordCheckpoint& in,
                                                           const std::filesystem::path& path,
                                                           const ConvertOptions& opt = {}) {
  using D = SafetensorsDType;
  std::vector<ConvertedTensor> plan = plan_conversion(in, opt);
  SafetensorsWriter writer;
  for (const auto& [k, v] : in.metadata()) writer.set_metadata(k, v);
  writer.set_metadata("format", "pt");  // what transformers' loaders expect of a PyTorch file
  for (const auto& [k, v] : opt.metadata) writer.set_metadata(k, v);
  for (const ConvertedTensor& t : plan) {
    const TensorRecord* r = &in.record(t.from);
    const RecordCheckpoint* source = &in;
    const std::string from = t.from;
    const D dtype = t.dtype;
    writer.add_generated(t.to, t.dtype, t.shape,
                         [r, source, from, dtype](std::span<std::byte> out) {
                           if (dtype == r->dtype) {
                             copy_tensor_record(*r, out);
                             return;
                           }
                           auto put = [&](const auto& tensor) {
                             if (!out.empty()) std::memcpy(out.data(), tensor.data(), out.size());
                           };
                           if (dtype == D::F32)
                             put(source->load<float>(from));
                           else if (dtype == D::BF16)
                             put(source->load<bf16>(from));
                           else
                             put(source->load<double>(from));
                         });
  }
  writer.write(path);
  return plan;
}

}  // namespace psalm::io
