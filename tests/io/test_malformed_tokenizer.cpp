// Tests the malformed tokenizer corpus (tests/fixtures/malformed/tokenizer/<case>/ with
// expected.json): every broken Hugging Face tokenizer folder is a psalm::Error from
// Tokenizer::from_folder containing the listed substring and the file or folder at fault; the
// control folders next to them load. Fuzzed further by tests/fuzz/fuzz_tokenizer_files.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "psalm/io/tokenizer.hpp"
#include "support/fixtures.hpp"

namespace fs = std::filesystem;
using psalm::io::Tokenizer;

namespace {

const fs::path kCorpus = fs::path(PSALM_TEST_FIXTURES_DIR) / "malformed" / "tokenizer";

// The psalm::Error message of loading `dir` ("" when it loaded).
std::string load_error(const fs::path& dir) {
  try {
    (void)Tokenizer::from_folder(dir);
  } catch (const psalm::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("malformed tokenizer: every broken folder is an error with the listed message") {
  const nlohmann::json manifest = psalm::testing::load_json("malformed/tokenizer/expected.json");
  REQUIRE(manifest.at("cases").size() >= 25);
  for (const auto& c : manifest.at("cases")) {
    const std::string name = c.at("case").get<std::string>();
    INFO("case " << name);
    REQUIRE(fs::is_directory(kCorpus / name));
    const std::string message = load_error(kCorpus / name);
    INFO("message: " << message);
    CHECK_THAT(message, Catch::Contains(c.at("error").get<std::string>()));
    if (c.contains("names")) CHECK_THAT(message, Catch::Contains(c.at("names").get<std::string>()));
  }
}

TEST_CASE("malformed tokenizer: the control folders load and encode as listed") {
  const nlohmann::json manifest = psalm::testing::load_json("malformed/tokenizer/expected.json");
  REQUIRE(manifest.at("valid").size() >= 2);
  for (const auto& c : manifest.at("valid")) {
    const std::string name = c.at("case").get<std::string>();
    INFO("case " << name);
    const Tokenizer tok = Tokenizer::from_folder(kCorpus / name);
    const std::string text = c.at("text").get<std::string>();
    CHECK(tok.encode(text) == c.at("ids").get<std::vector<int32_t>>());
    CHECK(tok.decode(tok.encode(text)) == text);
  }
}

TEST_CASE("malformed tokenizer: every case folder is listed in the manifest") {
  const nlohmann::json manifest = psalm::testing::load_json("malformed/tokenizer/expected.json");
  std::vector<std::string> listed;
  for (const auto& c : manifest.at("cases")) listed.push_back(c.at("case").get<std::string>());
  for (const auto& c : manifest.at("valid")) listed.push_back(c.at("case").get<std::string>());
  for (const auto& entry : fs::directory_iterator(kCorpus)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    INFO("folder " << name);
    CHECK(std::find(listed.begin(), listed.end(), name) != listed.end());
  }
}
