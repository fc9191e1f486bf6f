// tools/commands/inspect.hpp — `psalm inspect FILE_OR_FOLDER`: the tensors of a safetensors
// file, a sharded checkpoint (index JSON) or a folder holding either: name, dtype, shape,
// bytes, parameter totals; --stats adds min / max / mean / sample std per tensor; --json prints
// one JSON object instead of the table. Statistics follow numpy / PyTorch: integers exactly
// (extremes as integers, sums in 128 bits), floats with NaN propagating (any NaN: all four are
// NaN), infinities giving an infinite or NaN mean, std NaN for fewer than two values; finite
// floats are scaled by their largest magnitude first, so 1e300 does not overflow to inf.
// Non-finite numbers appear in JSON as the strings "nan", "inf", "-inf".
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "commands/common.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/tensor.hpp"

namespace psalm::cli {

__extension__ typedef __int128 Int128;  // exact sums of 64-bit integers (GCC / Clang)

struct TensorStats {
  std::optional<Int128> exact_min, exact_max;  // integer dtypes: the exact extremes
  double min = 0, max = 0, mean = 0, std = 0;
  bool ok = false;
  std::string why;  // when !ok: empty tensor, or a dtype that cannot be read as numbers
};

namespace detail {

inline bool is_integer_dtype(io::SafetensorsDType d) {
  using D = io::SafetensorsDType;
  return d == D::BOOL || d == D::U8 || d == D::I8 || d == D::I16 || d == D::U16 || d == D::I32 ||
         d == D::U32 || d == D::I64 || d == D::U64;
}

/// Element i of little-endian integer data as a 128-bit integer.
inline Int128 integer_at(const std::byte* p, io::SafetensorsDType d, std::int64_t i) {
  using D = io::SafetensorsDType;
  auto load = [&](auto tag) {
    decltype(tag) v;
    std::memcpy(&v, p + i * static_cast<std::int64_t>(sizeof v), sizeof v);
    return static_cast<Int128>(v);
  };
  switch (d) {
    case D::BOOL:
    case D::U8:
      return load(std::uint8_t{});
    case D::I8:
      return load(std::int8_t{});
    case D::I16:
      return load(std::int16_t{});
    case D::U16:
      return load(std::uint16_t{});
    case D::I32:
      return load(std::int32_t{});
    case D::U32:
      return load(std::uint32_t{});
    case D::I64:
      return load(std::int64_t{});
    default:
      return load(std::uint64_t{});
  }
}

}  // namespace detail

inline TensorStats tensor_stats(const io::SafetensorsCheckpoint& ckpt, const std::string& name) {
  TensorStats s;
  const io::SafetensorsEntry& e = ckpt.entry(name);
  const std::int64_t n = e.numel();
  if (n == 0) {
    s.why = "empty tensor: no values";
    return s;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (detail::is_integer_dtype(e.dtype)) {
    static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");
    const std::byte* p = ckpt.shard_of(name).bytes(name).data();
    Int128 lo = detail::integer_at(p, e.dtype, 0), hi = lo, sum = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const Int128 v = detail::integer_at(p, e.dtype, i);
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      sum += v;  // at most 2^63 values of magnitude < 2^64: fits 128 bits
    }
    const long double mean = static_cast<long double>(sum) / static_cast<long double>(n);
    long double squares = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const long double d = static_cast<long double>(detail::integer_at(p, e.dtype, i)) - mean;
      squares += d * d;
    }
    s.exact_min = lo;
    s.exact_max = hi;
    s.min = static_cast<double>(lo);
    s.max = static_cast<double>(hi);
    s.mean = static_cast<double>(mean);
    s.std = n > 1 ? static_cast<double>(std::sqrt(squares / static_cast<long double>(n - 1))) : nan;
    s.ok = true;
    return s;
  }
  Tensor<double> t;
  try {
    t = ckpt.load<double>(name).contiguous();  // F16, BF16, F32, F64: exact
  } catch (const Error& err) {
    s.why = err.what();
    return s;
  }
  const double* v = t.data();
  bool any_nan = false, pos_inf = false, neg_inf = false;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, scale = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (std::isnan(v[i])) {
      any_nan = true;
      continue;
    }
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
    if (std::isinf(v[i]))
      (v[i] > 0 ? pos_inf : neg_inf) = true;
    else
      scale = std::max(scale, std::fabs(v[i]));
  }
  s.ok = true;
  if (any_nan) {
    s.min = s.max = s.mean = s.std = nan;
    return s;
  }
  s.min = lo;
  s.max = hi;
  if (pos_inf || neg_inf) {
    s.mean = pos_inf && neg_inf ? nan : (pos_inf ? hi : lo);
    s.std = nan;
    return s;
  }
  if (scale == 0) {  // all zeros
    s.std = n > 1 ? 0.0 : nan;
    return s;
  }
  long double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += static_cast<long double>(v[i] / scale);
  const long double mean = sum / static_cast<long double>(n);  // in units of `scale`
  long double squares = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const long double d = static_cast<long double>(v[i] / scale) - mean;
    squares += d * d;
  }
  s.mean = static_cast<double>(mean * scale);
  s.std = n > 1 ? static_cast<double>(std::sqrt(squares / static_cast<long double>(n - 1)) * scale)
                : nan;
  return s;
}

inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

/// An exact integer extreme as JSON (int64, or uint64 above its range).
inline nlohmann::json exact_json(Int128 v) {
  if (v > std::numeric_limits<std::int64_t>::max()) return static_cast<std::uint64_t>(v);
  return static_cast<std::int64_t>(v);
}

/// A table cell: exact for integer extremes, %.5g otherwise (nan / inf spelled out).
inline std::string stat_cell(double v, const std::optional<Int128>& exact = std::nullopt) {
  char buf[48];
  if (exact && *exact > std::numeric_limits<std::int64_t>::max())
    std::snprintf(buf, sizeof buf, "%12llu", static_cast<unsigned long long>(*exact));
  else if (exact)
    std::snprintf(buf, sizeof buf, "%12lld", static_cast<long long>(*exact));
  else
    std::snprintf(buf, sizeof buf, "%12.5g", v);
  return buf;
}

inline int run_inspect(int argc, char** argv) {
  cxxopts::Options options("psalm inspect",
                           "List the tensors of a safetensors file, a sharded checkpoint "
                           "(model.safetensors.index.json) or a folder holding either.");
  options.add_options(
      "",
      {
          {"stats", "add min, max, mean and sample std per tensor (NaN propagates as in numpy)"},
          {"json", "print one JSON object (non-finite numbers as \"nan\", \"inf\", \"-inf\")"},
          {"path", "file or folder", cxxopts::value<std::string>()},
      });
  options.parse_positional({"path"});
  options.positional_help("FILE_OR_FOLDER");
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  const std::string path = required<std::string>(args, "path");
  const bool stats = args.count("stats") > 0, json = args.count("json") > 0;

  const io::SafetensorsCheckpoint ckpt = io::SafetensorsCheckpoint::open(path);
  std::int64_t total_params = 0, total_bytes = 0;
  nlohmann::json out{
      {"path", path}, {"shards", ckpt.shards().size()}, {"tensors", nlohmann::json::array()}};
  if (!json) {
    std::printf("%s: %zu tensors in %zu file(s)\n", path.c_str(), ckpt.size(),
                ckpt.shards().size());
    std::printf("%-48s %-8s %-22s %12s", "name", "dtype", "shape", "bytes");
    if (stats) std::printf(" %12s %12s %12s %12s", "min", "max", "mean", "std");
    std::printf("\n");
  }
  for (const std::string& name : ckpt.names()) {
    const io::SafetensorsEntry& e = ckpt.entry(name);
    const auto bytes = static_cast<std::int64_t>(e.end - e.begin);
    total_params += e.numel();
    total_bytes += bytes;
    const TensorStats st = stats ? tensor_stats(ckpt, name) : TensorStats{};
    if (json) {
      nlohmann::json row{{"name", name},
                         {"dtype", std::string(io::name_of(e.dtype))},
                         {"shape", e.shape},
                         {"numel", e.numel()},
                         {"bytes", bytes}};
      if (stats && st.ok) {
        row["stats"] = {{"min", st.exact_min ? exact_json(*st.exact_min) : nlohmann::json(st.min)},
                        {"max", st.exact_max ? exact_json(*st.exact_max) : nlohmann::json(st.max)},
                        {"mean", st.mean},
                        {"std", st.std}};
      }
      if (stats && !st.ok) row["stats_error"] = st.why;
      out["tensors"].push_back(row);
    } else {
      std::printf("%-48s %-8s %-22s %12lld", name.c_str(),
                  std::string(io::name_of(e.dtype)).c_str(), shape_string(e.shape).c_str(),
                  static_cast<long long>(bytes));
      if (stats && st.ok)
        std::printf(" %s %s %s %s", stat_cell(st.min, st.exact_min).c_str(),
                    stat_cell(st.max, st.exact_max).c_str(), stat_cell(st.mean).c_str(),
                    stat_cell(st.std).c_str());
      if (stats && !st.ok)
        std::printf("  (%s)", e.numel() == 0 ? "empty: no stats" : ("no stats: " + st.why).c_str());
      std::printf("\n");
    }
  }
  if (json) {
    out["parameters"] = total_params;
    out["bytes"] = total_bytes;
    out["metadata"] = ckpt.metadata();
    std::printf("%s\n", json_with_nonfinite_as_strings(std::move(out)).dump(2).c_str());
  } else {
    std::printf("total: %lld parameters, %lld bytes\n", static_cast<long long>(total_params),
                static_cast<long long>(total_bytes));
    for (const auto& [k, v] : ckpt.metadata())
      std::printf("metadata: %s = %s\n", k.c_str(), v.c_str());
  }
  return 0;
}

}  // namespace psalm::cli
