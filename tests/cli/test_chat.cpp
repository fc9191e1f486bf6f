// Tests of `psalm chat` (tools/commands/chat.hpp), run as the built program on randomly
// initialised psalm_tiny model folders: the printed replies and summary.json equal
// psalm::Segmenter::chat's, greedy and sampled; a model rigged to say [SEG] gets its masks
// written as PNGs that read back equal to Segmenter::chat's masks; a failing run leaves --out as
// it was. Bad arguments are CTest cases in tests/cli/CMakeLists.txt.
#include <catch2/catch.hpp>

#include <filesystem>

#include "psalm/io/image.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "support/cli_program.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;
using testing::ProgramRun;
using testing::psalm_program;
using testing::slurp;
namespace fs = std::filesystem;

namespace {

struct ChatInputs {
  testing::TempDir dir{"chat_inputs"};
  fs::path image = dir.path / "scene.png";
  ChatInputs() { io::save_png(image, testing::two_shape_scene(48, 64)); }
};

const ChatInputs& inputs() {
  static ChatInputs in;
  return in;
}

}  // namespace

TEST_CASE("psalm chat: replies equal Segmenter::chat's, printed and in summary.json",
          "[cli][chat]") {
  const ChatInputs& in = inputs();
  const std::string model = testing::tiny_model_folder().string();
  Segmenter seg = Segmenter::load(model);
  const Tensor<std::uint8_t> image = io::load_image(in.image, {.channels = 3});
  testing::TempDir out("chat_out");
  const ProgramRun r =
      psalm_program({"chat", in.image.string(), "--model", model, "--text",
                     "How many shapes are there?", "--text", "What colour is the square?",
                     "--max-tokens", "4", "--out", out.path.string(), "--json"});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  const nlohmann::json summary = nlohmann::json::parse(r.out);
  CHECK(summary == nlohmann::json::parse(slurp(out.path / "summary.json")));
  REQUIRE(summary["replies"].size() == 2);
  for (const auto& reply : summary["replies"]) {
    const ChatReply want =
        seg.chat(image, reply["question"].get<std::string>(), {.max_new_tokens = 4});
    CHECK(reply["reply"] == want.text);
    CHECK(reply["tokens"].get<std::vector<std::int64_t>>() == want.tokens);
    CHECK(reply["stopped"] == want.stopped);
    CHECK(reply["masks"].empty());
  }
  // Sampled, printed as text: the same reply as the library with the same options.
  const ProgramRun s = psalm_program({"chat", in.image.string(), "--model", model, "--text",
                                      "Describe the image.", "--max-tokens", "5", "--temperature",
                                      "1.3", "--top-k", "40", "--top-p", "0.9", "--seed", "7"});
  INFO(s.err);
  REQUIRE(s.rc == 0);
  const ChatReply sampled =
      seg.chat(image, "Describe the image.",
               {.max_new_tokens = 5, .temperature = 1.3, .top_k = 40, .top_p = 0.9, .seed = 7});
  CHECK(s.out == sampled.text + "\n");
}

TEST_CASE("psalm chat: every [SEG] of a reply is written as a mask PNG", "[cli][chat]") {
  const ChatInputs& in = inputs();
  const std::string model = testing::seg_saying_model_folder().string();
  testing::TempDir out("chat_seg_out");
  const ProgramRun r =
      psalm_program({"chat", in.image.string(), "--model", model, "--text", "Where is the disc?",
                     "--max-tokens", "2", "--out", out.path.string()});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  CHECK(r.out.rfind("[SEG][SEG]\n", 0) == 0);
  const nlohmann::json summary = nlohmann::json::parse(slurp(out.path / "summary.json"));
  const nlohmann::json& reply = summary["replies"][0];
  Segmenter seg = Segmenter::load(model);
  const ChatReply want = seg.chat(io::load_image(in.image, {.channels = 3}), "Where is the disc?",
                                  {.max_new_tokens = 2});
  REQUIRE(want.masks.size() == 2);
  REQUIRE(reply["masks"].size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    const nlohmann::json& m = reply["masks"][k];
    const Tensor<std::uint8_t> png = io::load_binary_mask(out.path / m["file"].get<std::string>());
    CHECK(png.shape() == Shape{48, 64});
    CHECK(png.to_vector() == want.masks[k].mask.to_vector());
    CHECK(m["token"] == want.masks[k].token);
    CHECK(m["query"] == want.masks[k].query);
  }
  CHECK(fs::is_regular_file(out.path / reply["overlay"].get<std::string>()));

  // A run that fails after --out was chosen (a marker in the second question is refused before
  // the model loads) leaves the earlier output untouched.
  const ProgramRun bad = psalm_program({"chat", in.image.string(), "--model", model, "--text", "hi",
                                        "--text", "<image> again", "--out", out.path.string()});
  CHECK(bad.rc == 2);
  CHECK(nlohmann::json::parse(slurp(out.path / "summary.json")) == summary);
}
