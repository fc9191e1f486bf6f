// tools/psalm.cpp — the `psalm` command-line program: `psalm <command> [options]`.
// Each command lives in tools/commands/<name>.hpp. Errors print as `psalm: error: ...` and
// exit with 2 for bad input (arguments, files, formats, unusable paths) and 1 for internal
// failures; nothing is allowed to crash. The source location psalm::Error messages end with
// ("[file.hpp:12]") is shown only with --verbose.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "commands/chat.hpp"
#include "commands/common.hpp"
#include "commands/convert.hpp"
#include "commands/eval.hpp"
#include "commands/forward.hpp"
#include "commands/init.hpp"
#include "commands/inspect.hpp"
#include "commands/score.hpp"
#include "commands/segment.hpp"
#ifdef PSALM_WITH_SERVE
#include "commands/serve.hpp"
#endif
#include "commands/synth.hpp"
#include "commands/tokenize.hpp"
#include "commands/train.hpp"

#ifndef PSALM_VERSION_STRING
#define PSALM_VERSION_STRING "unknown"
#endif

namespace {

const std::vector<psalm::cli::Command>& commands() {
  static const std::vector<psalm::cli::Command> table = {
      {"chat", "ask about an image: a text answer, and a mask for every [SEG] in it",
       psalm::cli::run_chat},
      {"convert", "rewrite a .pkl / torch.save / safetensors checkpoint as safetensors",
       psalm::cli::run_convert},
      {"eval",
       "held-out metrics of a model: synthetic scenes (every task, VOS, open vocabulary) or a "
       "dataset",
       psalm::cli::run_eval},
      {"forward", "run one model component on named tensors (the PyTorch parity harness)",
       psalm::cli::run_forward},
      {"init",
       "assemble PSALM's stage-2 starting point from the Mask2Former, Phi and projector inits",
       psalm::cli::run_init},
      {"inspect", "tensors of a safetensors file or sharded checkpoint, with --stats",
       psalm::cli::run_inspect},
      {"score", "evaluation metrics from standard files (COCO instance AP, ...)",
       psalm::cli::run_score},
      {"segment",
       "masks for your images: referring, gRES, class lists, points / boxes / scribbles / masks, "
       "video objects",
       psalm::cli::run_segment},
#ifdef PSALM_WITH_SERVE
      {"serve", "an HTTP server with a page and a JSON API to segment images in the browser",
       psalm::cli::run_serve},
#endif
      {"synth", "write the synthetic-scenes dataset in COCO / RefCOCO / DAVIS formats",
       psalm::cli::run_synth},
      {"tokenize", "text to Phi-1.5 / PSALM token ids, or ids to text", psalm::cli::run_tokenize},
      {"train", "train PSALM on the synthetic scenes (stage 1 or 2), resumable",
       psalm::cli::run_train},
  };
  return table;
}

void print_usage(std::FILE* to) {
  std::fprintf(to,
               "usage: psalm <command> [options]   (psalm <command> --help for details)\n"
               "       psalm --version\n\ncommands:\n");
  for (const auto& c : commands()) std::fprintf(to, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(to, "\nexit codes: 0 success, 2 bad input, 1 internal failure (docs/cli.md)\n");
}

/// The message without the " [file.hpp:12]" source locations psalm::Error appends.
std::string without_locations(const std::string& message) {
  static const std::regex location(R"( \[[A-Za-z0-9_.+-]+\.(hpp|cpp|h|cuh|cu):[0-9]+\])");
  return std::regex_replace(message, location, "");
}

/// "filesystem error: cannot create directories: No such file or directory [/x/y]" as
/// "/x/y: cannot create directories: No such file or directory".
std::string filesystem_message(const std::filesystem::filesystem_error& e) {
  std::string what = e.what();
  const std::string prefix = "filesystem error: ";
  if (what.starts_with(prefix)) what.erase(0, prefix.size());
  const auto bracket = what.find(" [");
  if (bracket != std::string::npos) what.erase(bracket);
  return e.path1().empty() ? what : e.path1().string() + ": " + what;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "--version") {
    std::printf("psalm %s\n", PSALM_VERSION_STRING);
    return 0;
  }
  bool verbose = false;  // --verbose before a `--` that ends the options
  for (int i = 2; i < argc && std::strcmp(argv[i], "--") != 0; ++i)
    verbose = verbose || std::strcmp(argv[i], "--verbose") == 0;
  const auto message = [&](const std::string& m) { return verbose ? m : without_locations(m); };
  for (const auto& c : commands()) {
    if (name != c.name) continue;
    std::string program = std::string("psalm ") + c.name;
    std::vector<char*> sub_argv{program.data()};
    for (int i = 2; i < argc; ++i) sub_argv.push_back(argv[i]);
    try {
      return c.run(static_cast<int>(sub_argv.size()), sub_argv.data());
    } catch (const psalm::Error& e) {
      std::fprintf(stderr, "psalm: error: %s\n", message(e.what()).c_str());
      return 2;
    } catch (const std::filesystem::filesystem_error& e) {
      // Always about a path the user gave (or one under it): missing, unwritable, disk full.
      std::fprintf(stderr, "psalm: error: %s\n", filesystem_message(e).c_str());
      return 2;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "psalm: error: out of memory\n");
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "psalm: internal error: %s\n", e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "psalm: error: unknown command '%s'\n", name.c_str());
  print_usage(stderr);
  return 2;
}
