// tools/commands/tokenize.hpp — `psalm tokenize`: text to Phi-1.5 / PSALM token ids, or ids
// back to text with --decode. The tokenizer is a Hugging Face folder (--tokenizer DIR) or the
// GPT-2 files plus PSALM's added tokens (--gpt2 DIR). The text is encoded exactly as given:
// no option splits at commas (commands/common.hpp); several TEXT arguments are joined with one
// space, and `--` ends the options so that a text may start with '-'.
#pragma once

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "psalm/io/tokenizer.hpp"

namespace psalm::cli {

inline int run_tokenize(int argc, char** argv) {
  cxxopts::Options options("psalm tokenize",
                           "Encode text into token ids, or decode ids (--decode) into text.");
  options.add_options(
      "",
      {
          {"tokenizer", "Hugging Face tokenizer folder (tokenizer.json or vocab.json + merges.txt)",
           cxxopts::value<std::string>()},
          {"gpt2",
           "folder with GPT-2's encoder.json and vocab.bpe: builds the Phi-1.5 + PSALM "
           "tokenizer",
           cxxopts::value<std::string>()},
          {"json", "print ids as a JSON array"},
          {"decode", "treat the input as ids (space, comma or JSON separated) and print the text"},
          {"skip-special", "with --decode: leave out special tokens"},
          {"text",
           "text to encode, or ids to decode (several arguments are joined with one space; "
           "quote the text to keep it exact, put -- before a text that starts with '-')",
           cxxopts::value<std::vector<std::string>>()},
      });
  options.parse_positional({"text"});
  options.positional_help("TEXT...");
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args, {"text"})) return 0;
  if (args.count("tokenizer") == args.count("gpt2"))
    throw UsageError("give exactly one of --tokenizer DIR or --gpt2 DIR");
  if (!args.count("text"))
    throw UsageError("missing TEXT to " + std::string(args.count("decode") ? "decode" : "encode"));
  std::string text;
  for (const auto& part : args["text"].as<std::vector<std::string>>())
    text += (text.empty() ? "" : " ") + part;

  const io::Tokenizer tok = args.count("tokenizer")
                                ? io::Tokenizer::from_folder(args["tokenizer"].as<std::string>())
                                : io::Tokenizer::phi_1_5_psalm(args["gpt2"].as<std::string>());
  if (args.count("decode")) {
    std::vector<std::int32_t> ids;
    std::size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && (text[i] == ' ' || text[i] == ',' || text[i] == '[' ||
                                 text[i] == ']' || text[i] == '\n'))
        ++i;
      if (i >= text.size()) break;
      std::int32_t id = 0;
      const auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), id);
      if (ec != std::errc() || end == text.data() + i)
        throw UsageError("--decode: '" + text.substr(i, 16) + "' is not a token id");
      ids.push_back(id);
      i = static_cast<std::size_t>(end - text.data());
    }
    const std::string out = tok.decode(ids, args.count("skip-special") > 0);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::printf("\n");
    return 0;
  }
  const std::vector<std::int32_t> ids = tok.encode(text);
  if (args.count("json")) {
    std::printf("%s\n", nlohmann::json(ids).dump().c_str());
  } else {
    for (std::size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? " " : "", ids[i]);
    std::printf("\n");
  }
  return 0;
}

}  // namespace psalm::cli
