// tools/commands/inspect.hpp — `psalm inspect FILE_OR_FOLDER`: the tensors of a safetensors
// file, a sharded checkpoint (index JSON) or a folder holding either: name, dtype, shape,
// bytes, parameter totals; --stats adds min / max / mean / std per tensor; --json prints one
// JSON object instead of the table.
#pragma once

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "commands/common.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/tensor.hpp"

namespace psalm::cli {

struct TensorStats {
  double min = 0, max = 0, mean = 0, std = 0;
  bool ok = false;
  std::string why;  // when !ok: the dtype cannot be read as numbers
};

inline TensorStats tensor_stats(const io::SafetensorsCheckpoint& ckpt, const std::string& name) {
  TensorStats s;
  Tensor<double> t;
  try {
    t = ckpt.load<double>(name);
  } catch (const Error& e) {
    s.why = e.what();
    return s;
  }
  s.ok = true;
  if (t.numel() == 0) return s;
  s.min = psalm::min(t).item();
  s.max = psalm::max(t).item();
  s.mean = psalm::mean(t).item();
  const Tensor<double> centred = (t - s.mean) * (t - s.mean);
  s.std = t.numel() > 1 ? std::sqrt(psalm::sum(centred).item() / static_cast<double>(t.numel() - 1)) : 0.0;
  return s;
}

inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

inline int run_inspect(int argc, char** argv) {
  cxxopts::Options options("psalm inspect",
                           "List the tensors of a safetensors file, a sharded checkpoint "
                           "(model.safetensors.index.json) or a folder holding either.");
  options.add_options()
      ("stats", "add min, max, mean and std (sample) per tensor")
      ("json", "print one JSON object")
      ("path", "file or folder", cxxopts::value<std::string>());
  options.parse_positional({"path"});
  options.positional_help("FILE_OR_FOLDER");
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  const std::string path = required<std::string>(args, "path");
  const bool stats = args.count("stats") > 0, json = args.count("json") > 0;

  const io::SafetensorsCheckpoint ckpt = io::SafetensorsCheckpoint::open(path);
  std::int64_t total_params = 0, total_bytes = 0;
  nlohmann::json out{{"path", path}, {"shards", ckpt.shards().size()}, {"tensors", nlohmann::json::array()}};
  if (!json) {
    std::printf("%s: %zu tensors in %zu file(s)\n", path.c_str(), ckpt.size(), ckpt.shards().size());
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
      nlohmann::json row{{"name", name}, {"dtype", std::string(io::name_of(e.dtype))}, {"shape", e.shape},
                         {"numel", e.numel()}, {"bytes", bytes}};
      if (stats && st.ok) row["stats"] = {{"min", st.min}, {"max", st.max}, {"mean", st.mean}, {"std", st.std}};
      if (stats && !st.ok) row["stats_error"] = st.why;
      out["tensors"].push_back(row);
    } else {
      std::printf("%-48s %-8s %-22s %12lld", name.c_str(), std::string(io::name_of(e.dtype)).c_str(),
                  shape_string(e.shape).c_str(), static_cast<long long>(bytes));
      if (stats && st.ok) std::printf(" %12.5g %12.5g %12.5g %12.5g", st.min, st.max, st.mean, st.std);
      if (stats && !st.ok) std::printf("  (no stats: not numeric here)");
      std::printf("\n");
    }
  }
  if (json) {
    out["parameters"] = total_params;
    out["bytes"] = total_bytes;
    out["metadata"] = ckpt.metadata();
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("total: %lld parameters, %lld bytes\n", static_cast<long long>(total_params),
                static_cast<long long>(total_bytes));
    for (const auto& [k, v] : ckpt.metadata()) std::printf("metadata: %s = %s\n", k.c_str(), v.c_str());
  }
  return 0;
}

}  // namespace psalm::cli
