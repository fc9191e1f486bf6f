// tools/commands/chat.hpp — `psalm chat`: text answers about an image, as LLaVA gives them, with
// a mask for every [SEG] of an answer. One model load, the image encoded once, every --text
// answered on it (psalm::Segmenter::chat: Phi's key/value cache, greedy or sampled with
// --temperature / --top-k / --top-p / --seed). Prints the replies; with --out, summary.json,
// each [SEG]'s mask PNG and an overlay are built in a temporary folder that replaces --out only
// when complete (segment.hpp's writers). Every option and the image are checked before the
// model loads. See docs/cli.md.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "commands/overlay.hpp"
#include "commands/segment.hpp"
#include "psalm/io/image.hpp"
#include "psalm/io/rle.hpp"
#include "psalm/psalm/segmenter.hpp"

namespace psalm::cli {

namespace chat_detail {

namespace fs = std::filesystem;
namespace sd = segment_detail;

/// The generation options of the command line, checked with their option names.
inline ChatOptions parse_chat_options(const cxxopts::ParseResult& args) {
  ChatOptions o;
  o.max_new_tokens = in_range<std::int64_t>(args, "max-tokens", 0, 4096);
  o.temperature = real_in_range(args, "temperature", 0.0, 100.0);
  o.top_k = in_range<std::int64_t>(args, "top-k", 0, std::int64_t{1} << 20);
  o.top_p = real_in_range(args, "top-p", 0.0, 1.0);
  o.seed = in_range<std::uint64_t>(args, "seed", 0, std::numeric_limits<std::uint64_t>::max());
  if (o.top_p <= 0.0) throw UsageError("--top-p must be in (0, 1], got 0");
  if (o.temperature == 0.0)
    for (const char* name : {"top-k", "top-p", "seed"})
      if (args.count(name))
        throw UsageError(std::string("--") + name +
                         " applies to sampling, which needs --temperature > 0 (0 is greedy)");
  return o;
}

/// One reply's summary entry; with `root`, its masks and an overlay are written under it.
inline nlohmann::json reply_entry(const std::optional<fs::path>& root, std::size_t index,
                                  const std::string& question, const ChatReply& r,
                                  const Tensor<std::uint8_t>& image, double seconds) {
  nlohmann::json entry{{"index", index},     {"question", question}, {"reply", r.text},
                       {"tokens", r.tokens}, {"stopped", r.stopped}, {"seconds", seconds}};
  nlohmann::json masks = nlohmann::json::array();
  const fs::path dir = "q" + std::to_string(index);
  std::vector<OverlayItem> items;
  for (std::size_t k = 0; k < r.masks.size(); ++k) {
    const ChatMask& m = r.masks[k];
    nlohmann::json mj{{"token", m.token},
                      {"score", m.score},
                      {"query", m.query},
                      {"area", sd::area_of(m.mask)},
                      {"bbox", sd::bbox_json(m.mask)}};
    if (root) {
      const fs::path file = dir / ("mask_" + std::to_string(k) + ".png");
      fs::create_directories(*root / dir);
      io::save_binary_mask(*root / file, m.mask);
      mj["file"] = file.generic_string();
    }
    masks.push_back(mj);
    items.push_back({&m.mask, "[SEG] " + std::to_string(k) + " " + sd::score_text(m.score)});
  }
  entry["masks"] = masks;
  if (root && !items.empty()) {
    io::save_png(*root / dir / "overlay.png", render_overlay(image, items, question));
    entry["overlay"] = (dir / "overlay.png").generic_string();
  }
  return entry;
}

}  // namespace chat_detail

inline int run_chat(int argc, char** argv) {
  namespace cd = chat_detail;
  namespace sd = segment_detail;
  namespace fs = std::filesystem;
  cxxopts::Options options(
      "psalm chat",
      "Ask PSALM about an image: a text answer (LLaVA-style), and a mask for every [SEG] in it.\n"
      "  psalm chat IMAGE --text \"what is left of the square?\"\n"
      "  psalm chat IMAGE --text \"...\" --temperature 0.7 --top-p 0.9 --seed 1   sampled\n"
      "  psalm chat IMAGE --text \"...\" --text \"...\" --out DIR                  several "
      "questions; masks + summary.json in DIR\n"
      "Greedy (--temperature 0) unless a temperature is given; each --text is answered on the\n"
      "once-encoded image.");
  options.positional_help("IMAGE");
  // clang-format off
  options.add_options()
      ("image", "image", cxxopts::value<std::vector<std::string>>())
      ("text", "a question (repeatable: one reply each)", cxxopts::value<std::string>())
      ("model", "model folder (config.json + model.safetensors; default: the shipped psalm-tiny)", cxxopts::value<std::string>())
      ("max-tokens", "most tokens of a reply", cxxopts::value<std::int64_t>()->default_value("128"))
      ("temperature", "0: greedy; > 0: sample from softmax(logits / T)", cxxopts::value<std::string>()->default_value("0"))
      ("top-k", "sampling: keep the K most likely tokens (0: all)", cxxopts::value<std::int64_t>()->default_value("0"))
      ("top-p", "sampling: keep the most likely tokens holding probability P, in (0, 1]", cxxopts::value<std::string>()->default_value("1"))
      ("seed", "sampling: the random seed", cxxopts::value<std::uint64_t>()->default_value("0"))
      ("out", "output folder for summary.json and the [SEG] masks, replaced atomically", cxxopts::value<std::string>())
      ("overwrite", "replace --out even when it holds something else than an earlier output")
      ("json", "print the summary as JSON")
      ("no-prefix-cache", "run every question's whole prompt through the language model")
      ("dtype", sd::kDtypeHelp, cxxopts::value<std::string>()->default_value("f32"))
      ("gpt2", "folder with the GPT-2 BPE files (default: the model folder's, else the bundled ones)", cxxopts::value<std::string>());
  // clang-format on
  options.parse_positional({"image"});
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args, {"image", "text"})) return 0;
  const bool json = args.count("json") > 0;
  if (!args.count("image")) throw UsageError("no image given (psalm chat IMAGE --text ...)");
  const std::vector<std::string> image_args = args["image"].as<std::vector<std::string>>();
  if (image_args.size() != 1)
    throw UsageError("psalm chat takes one IMAGE, got " + std::to_string(image_args.size()));
  if (!args.count("text")) throw UsageError("missing required option --text (see --help)");
  std::vector<std::string> questions;
  for (const auto& kv : args.arguments())
    if (kv.key() == "text") {
      if (kv.value().find_first_not_of(" \t\r\n") == std::string::npos)
        throw UsageError("--text is empty");
      try {
        check_chat_question(kv.value());
      } catch (const Error& e) {
        throw UsageError(std::string("--text: ") + e.what());
      }
      questions.push_back(kv.value());
    }
  const ChatOptions chat_options = cd::parse_chat_options(args);
  if (args.count("overwrite") && !args.count("out")) throw UsageError("--overwrite needs --out");

  // The image, then the model (a folder that is not one stops here), then the output folder.
  const fs::path image_path = image_args.front();
  const Tensor<std::uint8_t> image = io::load_image(image_path, {.channels = 3});
  const fs::path model_dir = sd::model_folder(args);
  const SegmenterOptions seg_options = sd::segmenter_options(args, model_dir);
  const auto load_start = sd::Clock::now();
  Segmenter seg = Segmenter::load(model_dir, seg_options);
  nlohmann::json summary{{"model", fs::absolute(model_dir).lexically_normal().string()},
                         {"image", image_path.string()},
                         {"width", image.size(1)},
                         {"height", image.size(0)},
                         {"prefix_cache", seg_options.cache_prefix},
                         {"max_tokens", chat_options.max_new_tokens},
                         {"temperature", chat_options.temperature},
                         {"top_k", chat_options.top_k},
                         {"top_p", chat_options.top_p},
                         {"seed", chat_options.seed},
                         {"load_seconds", sd::seconds_since(load_start)}};
  std::optional<sd::StagedFolder> out;
  if (args.count("out")) out.emplace(args["out"].as<std::string>(), args.count("overwrite") > 0);

  auto t0 = sd::Clock::now();
  EncodedImage encoded = seg.encode(image);
  summary["encode_seconds"] = sd::seconds_since(t0);
  nlohmann::json replies = nlohmann::json::array();
  for (std::size_t j = 0; j < questions.size(); ++j) {
    t0 = sd::Clock::now();
    const ChatReply r = seg.chat(encoded, questions[j], chat_options);
    replies.push_back(cd::reply_entry(out ? std::optional<fs::path>(out->path()) : std::nullopt, j,
                                      questions[j], r, image, sd::seconds_since(t0)));
  }
  summary["replies"] = replies;
  if (out) {
    sd::write_json(out->path() / "summary.json", summary);
    out->commit();
  }
  if (json) {
    std::printf("%s\n", json_with_nonfinite_as_strings(summary).dump(2).c_str());
    return 0;
  }
  for (const auto& r : replies) {
    if (questions.size() > 1) std::printf("Q: %s\n", r["question"].get<std::string>().c_str());
    std::printf("%s%s\n", questions.size() > 1 ? "A: " : "", r["reply"].get<std::string>().c_str());
    if (!r["stopped"].get<bool>())
      std::fprintf(stderr, "psalm chat: reply %lld stopped at --max-tokens %lld\n",
                   static_cast<long long>(r["index"].get<std::int64_t>()),
                   static_cast<long long>(chat_options.max_new_tokens));
    for (const auto& m : r["masks"])
      std::printf("  [SEG] score %.3f  area %lld%s\n", m["score"].get<double>(),
                  static_cast<long long>(m["area"].get<std::int64_t>()),
                  m.contains("file")
                      ? ("  " + (out->final_path() / m["file"].get<std::string>()).string()).c_str()
                      : "  (pass --out DIR to write the mask)");
  }
  if (out) std::printf("wrote %s\n", out->final_path().string().c_str());
  return 0;
}

}  // namespace psalm::cli
