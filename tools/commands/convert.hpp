// tools/commands/convert.hpp — `psalm convert INPUT --out OUT.safetensors`: any checkpoint psalm
// reads (a Mask2Former / detectron2 .pkl, a torch.save .bin / .pt / .pth, safetensors: a file, an
// index or a folder; recognised by content) rewritten as one safetensors file, atomically, with
// --prefix filtering / stripping, --add-prefix and --dtype (io/checkpoint_convert.hpp; the
// restricted readers of docs/io.md execute nothing). --dry-run lists what would be written.
// Options follow tools/commands/common.hpp: --prefix may repeat, nothing else; --out's folder
// is checked before the input is read.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "psalm/io/checkpoint.hpp"
#include "psalm/io/checkpoint_convert.hpp"
#include "psalm/tensor.hpp"

namespace psalm::cli {

inline int run_convert(int argc, char** argv) {
  cxxopts::Options options(
      "psalm convert",
      "Rewrite a checkpoint (Mask2Former .pkl, torch.save .bin/.pt/.pth, safetensors) as one "
      "safetensors file. Pickles are read by a restricted reader that executes nothing.");
  options.add_options(
      "",
      {
          {"out", "the safetensors file to write (replaced atomically) in an existing folder",
           cxxopts::value<std::string>()},
          {"prefix",
           "keep only tensors whose names start with P, removing P (repeatable: give it "
           "once per prefix)",
           cxxopts::value<std::vector<std::string>>()},
          {"keep-prefix", "with --prefix: keep the matched prefix in the names"},
          {"add-prefix", "prepend Q to every written name",
           cxxopts::value<std::string>()->default_value("")},
          {"dtype", "keep, f32, bf16 or f64: convert floating-point tensors (integers are kept)",
           cxxopts::value<std::string>()->default_value("keep")},
          {"dry-run", "list the tensors that would be written; write nothing"},
          {"input", "checkpoint file or folder", cxxopts::value<std::string>()},
      });
  options.parse_positional({"input"});
  options.positional_help("INPUT");
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args, {"prefix"})) return 0;
  const std::string input = required<std::string>(args, "input");
  const bool dry_run = args.count("dry-run") > 0;
  if (dry_run && args.count("out")) throw UsageError("--out does not apply with --dry-run");
  if (!dry_run) check_output_folder(required<std::string>(args, "out"), "out");

  io::ConvertOptions opt;
  if (args.count("prefix")) opt.prefixes = args["prefix"].as<std::vector<std::string>>();
  if (args.count("keep-prefix") && opt.prefixes.empty())
    throw UsageError("--keep-prefix needs --prefix");
  opt.strip_prefix = args.count("keep-prefix") == 0;
  opt.add_prefix = args["add-prefix"].as<std::string>();
  const std::string dtype = args["dtype"].as<std::string>();
  if (dtype == "f32") {
    opt.float_dtype = io::SafetensorsDType::F32;
  } else if (dtype == "bf16") {
    opt.float_dtype = io::SafetensorsDType::BF16;
  } else if (dtype == "f64") {
    opt.float_dtype = io::SafetensorsDType::F64;
  } else if (dtype != "keep") {
    throw UsageError("--dtype must be keep, f32, bf16 or f64, got '" + dtype + "'");
  }

  const io::RecordCheckpoint in = io::open_checkpoint(input);
  if (dry_run) {
    const std::vector<io::ConvertedTensor> plan = io::plan_conversion(in, opt);
    std::printf("%s (%s): %zu of %zu tensors would be written\n", input.c_str(),
                in.format().c_str(), plan.size(), in.size());
    for (const io::ConvertedTensor& t : plan) {
      std::string shape = "(";
      for (std::size_t i = 0; i < t.shape.size(); ++i)
        shape += (i ? ", " : "") + std::to_string(t.shape[i]);
      shape += t.shape.size() == 1 ? ",)" : ")";
      std::printf("  %-56s %-5s %-20s <- %s\n", t.to.c_str(),
                  std::string(io::name_of(t.dtype)).c_str(), shape.c_str(), t.from.c_str());
    }
    for (const std::string& s : in.skipped())
      std::printf("  (not a tensor, skipped: %s)\n", s.c_str());
    return 0;
  }
  const std::string out = args["out"].as<std::string>();
  opt.metadata["psalm_converted_from"] = std::filesystem::path(input).filename().string();
  const std::vector<io::ConvertedTensor> written = io::convert_to_safetensors(in, out, opt);
  std::uint64_t bytes = 0;
  for (const io::ConvertedTensor& t : written) {
    std::uint64_t n = io::size_of(t.dtype);
    for (std::int64_t e : t.shape) n *= static_cast<std::uint64_t>(e);
    bytes += n;
  }
  std::printf("convert: wrote %zu of %zu tensors (%llu bytes of data) from %s (%s) to %s\n",
              written.size(), in.size(), static_cast<unsigned long long>(bytes), input.c_str(),
              in.format().c_str(), out.c_str());
  for (const std::string& s : in.skipped())
    std::printf("  (not a tensor, skipped: %s)\n", s.c_str());
  return 0;
}

}  // namespace psalm::cli
