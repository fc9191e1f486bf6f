// tools/psalm.cpp — the `psalm` command-line program: `psalm <command> [options]`.
// Each command lives in tools/commands/<name>.hpp. Errors print as `psalm: error: ...` and
// exit with 2 for bad input (arguments, files, formats) and 1 for internal failures; nothing
// is allowed to crash.
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "commands/convert.hpp"
#include "commands/eval.hpp"
#include "commands/forward.hpp"
#include "commands/inspect.hpp"
#include "commands/score.hpp"
#include "commands/segment.hpp"
#include "commands/synth.hpp"
#include "commands/tokenize.hpp"
#include "commands/train.hpp"

namespace {

const std::vector<psalm::cli::Command>& commands() {
  static const std::vector<psalm::cli::Command> table = {
      {"convert", "rewrite a .pkl / torch.save / safetensors checkpoint as safetensors", psalm::cli::run_convert},
      {"eval", "held-out metrics of a model: synthetic scenes (every task, VOS, open vocabulary) or a dataset", psalm::cli::run_eval},
      {"forward", "run one model component on named tensors (the PyTorch parity harness)", psalm::cli::run_forward},
      {"inspect", "tensors of a safetensors file or sharded checkpoint, with --stats", psalm::cli::run_inspect},
      {"score", "evaluation metrics from standard files (COCO instance AP, ...)", psalm::cli::run_score},
      {"segment", "masks for your images: referring, gRES, class lists, points / boxes / scribbles / masks, video objects", psalm::cli::run_segment},
      {"synth", "write the synthetic-scenes dataset in COCO / RefCOCO / DAVIS formats", psalm::cli::run_synth},
      {"tokenize", "text to Phi-1.5 / PSALM token ids, or ids to text", psalm::cli::run_tokenize},
      {"train", "train PSALM on the synthetic scenes (stage 1 or 2), resumable", psalm::cli::run_train},
  };
  return table;
}

void print_usage(std::FILE* to) {
  std::fprintf(to, "usage: psalm <command> [options]   (psalm <command> --help for details)\n\ncommands:\n");
  for (const auto& c : commands()) std::fprintf(to, "  %-12s %s\n", c.name, c.summary);
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
  for (const auto& c : commands()) {
    if (name != c.name) continue;
    std::string program = std::string("psalm ") + c.name;
    std::vector<char*> sub_argv{program.data()};
    for (int i = 2; i < argc; ++i) sub_argv.push_back(argv[i]);
    try {
      return c.run(static_cast<int>(sub_argv.size()), sub_argv.data());
    } catch (const psalm::Error& e) {
      std::fprintf(stderr, "psalm: error: %s\n", e.what());
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
