// tools/commands/init.hpp — `psalm init --from-m2f PKL --from-phi DIR --projector BIN --out DIR
// [--config C.json] [--seed N]`: PSALM's stage-2 starting point assembled natively
// (psalm/stage2_init.hpp) and written as a model folder that `psalm segment --model`,
// `psalm train --init` and psalm::Segmenter load: config.json (psalm's layout), model.safetensors,
// and the tokenizer (the Phi folder's vocab.json / merges.txt / added_tokens.json with PSALM's
// [PAD] and [SEG] added at the config's ids). The folder appears whole or not at all (written
// beside it, then renamed); --out must not exist or be empty. Every option is checked before
// anything is read.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "commands/common.hpp"
#include "psalm/io/atomic_file.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "psalm/psalm/special_tokens.hpp"
#include "psalm/psalm/stage2_init.hpp"

namespace psalm::cli {

namespace detail {

inline void write_json_file(const std::filesystem::path& path, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  io::write_file_atomically(path, std::as_bytes(std::span(text.data(), text.size())));
}

/// The Phi folder's tokenizer with PSALM's tokens, into `out`: vocab.json and merges.txt
/// copied, added_tokens.json = the Phi folder's entries plus "[PAD]" and "[SEG]" at the
/// config's ids, special_tokens_map.json naming [PAD] the pad token. Then read back as the
/// Segmenter reads it, and its [SEG] / [PAD] ids checked against the config.
inline void write_psalm_tokenizer(const std::filesystem::path& phi,
                                  const std::filesystem::path& out, const PsalmConfig& config) {
  namespace fs = std::filesystem;
  for (const char* name : {"vocab.json", "merges.txt"}) {
    PSALM_CHECK(fs::is_regular_file(phi / name), phi.string(), " has no ", name,
                " (psalm init copies Phi's tokenizer files)");
    fs::copy_file(phi / name, out / name, fs::copy_options::overwrite_existing);
  }
  nlohmann::json added = nlohmann::json::object();
  if (fs::exists(phi / "added_tokens.json")) added = io::read_json_file(phi / "added_tokens.json");
  PSALM_CHECK(added.is_object(), (phi / "added_tokens.json").string(), ": not a JSON object");
  for (const auto& [token, id] :
       {std::pair<std::string, std::int64_t>{"[PAD]", config.pad_token_id},
        {"[SEG]", config.seg_token_id}}) {
    for (const auto& [other, other_id] : added.items())
      PSALM_CHECK(other == token || other_id != id, (phi / "added_tokens.json").string(), ": id ",
                  id, " (the config's ", token, ") is already \"", other, "\"");
    added[token] = id;
  }
  write_json_file(out / "added_tokens.json", added);
  nlohmann::json special = nlohmann::json::object();
  if (fs::exists(phi / "special_tokens_map.json"))
    special = io::read_json_file(phi / "special_tokens_map.json");
  PSALM_CHECK(special.is_object(), (phi / "special_tokens_map.json").string(),
              ": not a JSON object");
  special["pad_token"] = "[PAD]";
  write_json_file(out / "special_tokens_map.json", special);

  const SpecialTokenIds ids = special_token_ids(psalm::detail::folder_tokenizer(out, config));
  PSALM_CHECK(ids.seg_token_id == config.seg_token_id && ids.pad_token_id == config.pad_token_id,
              phi.string(), ": with PSALM's tokens added the tokenizer gives [SEG] / [PAD] ids ",
              ids.seg_token_id, " / ", ids.pad_token_id, ", the config ", config.seg_token_id,
              " / ", config.pad_token_id);
}

}  // namespace detail

inline int run_init(int argc, char** argv) {
  namespace fs = std::filesystem;
  cxxopts::Options options(
      "psalm init",
      "Assemble PSALM's stage-2 starting point from the published inits: Swin-B, the pixel "
      "decoder and the mask decoder from a Mask2Former checkpoint, Phi-1.5 from a Hugging Face "
      "folder, the projector from stage 1's mm_projector.bin; the rest freshly initialised. "
      "Writes a model folder for psalm segment --model and psalm train --init.");
  options.add_options(
      "",
      {
          {"from-m2f", "Mask2Former checkpoint (model_final_54b88a.pkl)",
           cxxopts::value<std::string>()},
          {"from-phi", "Hugging Face Phi folder (config.json, weights, vocab.json, merges.txt)",
           cxxopts::value<std::string>()},
          {"projector", "stage 1's mm_projector.bin", cxxopts::value<std::string>()},
          {"out", "the model folder to write (must not exist, or be empty)",
           cxxopts::value<std::string>()},
          {"config", "PsalmConfig JSON giving the model's shapes (default: the released PSALM's)",
           cxxopts::value<std::string>()},
          {"seed", "seed of the fresh tensors and the [SEG] row",
           cxxopts::value<std::uint64_t>()->default_value("0")},
      });
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  Stage2Inits inits;
  inits.m2f = required<std::string>(args, "from-m2f");
  inits.phi = required<std::string>(args, "from-phi");
  inits.projector = required<std::string>(args, "projector");
  inits.seed = args["seed"].as<std::uint64_t>();
  const fs::path out = required<std::string>(args, "out");
  for (const auto& [option, path] :
       {std::pair<const char*, fs::path>{"from-m2f", inits.m2f}, {"projector", inits.projector}})
    if (!fs::is_regular_file(path))
      throw UsageError(std::string("--") + option + " " + path.string() + " is not a file");
  if (!fs::is_directory(inits.phi))
    throw UsageError("--from-phi " + inits.phi.string() + " is not a folder");
  check_output_folder(out.string(), "out");
  if (fs::exists(out) && !(fs::is_directory(out) && fs::is_empty(out)))
    throw UsageError("--out " + out.string() + " exists and is not an empty folder");

  PsalmConfig config =
      args.count("config")
          ? PsalmConfig::from_json(io::ConfigReader::from_file(args["config"].as<std::string>()))
          : PsalmConfig::psalm_swin_b_phi_1_5();
  config.phi.lm_head_bias = false;  // PSALM drops Phi's lm_head bias
  nn::InitRng rng{inits.seed};
  PsalmModel<float> model(config, rng);
  const Stage2Report report = init_stage2(model, inits);

  const fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  const fs::path tmp =
      parent / ("." + out.filename().string() + ".init-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    nn::save_safetensors(model, tmp / "model.safetensors",
                         {{"format", "pt"}, {"psalm_init", "stage-2 starting point"}});
    detail::write_json_file(tmp / "config.json", config.to_json());
    detail::write_psalm_tokenizer(inits.phi, tmp, config);
    if (fs::exists(out)) fs::remove(out);  // empty (checked above)
    fs::rename(tmp, out);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
  std::printf(
      "init: wrote %s: %lld tensors from %s, %lld from %s, %lld from %s, %zu freshly "
      "initialised\n",
      out.string().c_str(), static_cast<long long>(report.from_m2f), inits.m2f.string().c_str(),
      static_cast<long long>(report.from_phi), inits.phi.string().c_str(),
      static_cast<long long>(report.from_projector), inits.projector.string().c_str(),
      report.fresh.size());
  std::string fresh;
  for (const std::string& n : report.fresh) fresh += (fresh.empty() ? "" : ", ") + n;
  std::printf("  fresh: %s\n", fresh.c_str());
  return 0;
}

}  // namespace psalm::cli
