// Tests the malformed-input corpus (tools/reference/malformed_safetensors.py ->
// tests/fixtures/malformed/{safetensors,index,config}/expected.json): every broken safetensors
// file, index file and config file is a psalm::Error containing the listed substring, the
// file's name and, where one tensor is at fault, that tensor's name. Nothing crashes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "psalm/io/json_config.hpp"
#include "psalm/io/safetensors.hpp"
#include "support/error_of.hpp"
#include "support/fixtures.hpp"

namespace fs = std::filesystem;
using namespace psalm::io;

using psalm::testing::error_of;

namespace {

const fs::path kMalformed = fs::path(PSALM_TEST_FIXTURES_DIR) / "malformed";

// The config schema the corpus's config files are checked against.
void read_test_config(const fs::path& path) {
  const ConfigReader r = ConfigReader::from_file(path);
  (void)r.required<std::int32_t>("hidden_size");
  (void)r.required<std::int32_t>("num_layers");
  (void)r.optional<double>("dropout", 0.0);
  (void)r.optional<std::string>("name", "");
  (void)r.optional<std::vector<std::int32_t>>("layer_sizes", {});
  if (r.has("vision")) (void)r.child("vision").required<std::int32_t>("patch_size");
}

}  // namespace

TEST_CASE("malformed: every broken safetensors file is an error naming the file and tensor") {
  const nlohmann::json manifest = psalm::testing::load_json("malformed/safetensors/expected.json");
  REQUIRE(manifest.at("cases").size() >= 30);
  for (const auto& c : manifest.at("cases")) {
    const std::string file = c.at("file").get<std::string>();
    const fs::path path = kMalformed / "safetensors" / file;
    INFO("case " << file);
    REQUIRE(fs::exists(path));
    std::string message;
    if (c.contains("load")) {
      const SafetensorsFile f = SafetensorsFile::open(path);  // the header itself is valid
      message = error_of([&] { (void)f.load<std::uint8_t>(c.at("load").get<std::string>()); });
    } else {
      message = error_of([&] { (void)SafetensorsFile::open(path); });
      // The in-memory entry point (used by the fuzz target) gives the same verdict.
      std::ifstream in(path, std::ios::binary);
      std::vector<char> chars((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      std::vector<std::byte> bytes(chars.size());
      if (!chars.empty()) std::memcpy(bytes.data(), chars.data(), chars.size());
      const std::string from_memory =
          error_of([&] { (void)SafetensorsFile::from_bytes(bytes, path.string()); });
      CHECK(from_memory == message);
    }
    INFO("message: " << message);
    CHECK_THAT(message, Catch::Contains(c.at("error").get<std::string>()));
    CHECK_THAT(message, Catch::Contains(file));
    if (c.contains("tensor"))
      CHECK_THAT(message, Catch::Contains("tensor \"" + c.at("tensor").get<std::string>() + "\""));
  }
}

TEST_CASE("malformed: every broken index file is an error naming the index") {
  const nlohmann::json manifest = psalm::testing::load_json("malformed/index/expected.json");
  REQUIRE(manifest.at("cases").size() >= 10);
  for (const auto& c : manifest.at("cases")) {
    const std::string file = c.at("file").get<std::string>();
    INFO("case " << file);
    const std::string message =
        error_of([&] { (void)SafetensorsCheckpoint::open(kMalformed / "index" / file); });
    INFO("message: " << message);
    CHECK_THAT(message, Catch::Contains(c.at("error").get<std::string>()));
    CHECK_THAT(message, Catch::Contains(".safetensors") || Catch::Contains(file));
  }
  // The shard the index cases point at is itself fine.
  CHECK(SafetensorsCheckpoint::open(kMalformed / "index" / "shard.safetensors").size() == 2);
}

TEST_CASE("malformed: every broken config file is an error naming the file and key") {
  const nlohmann::json manifest = psalm::testing::load_json("malformed/config/expected.json");
  REQUIRE(manifest.at("cases").size() >= 10);
  for (const auto& c : manifest.at("cases")) {
    const std::string file = c.at("file").get<std::string>();
    INFO("case " << file);
    const std::string message = error_of([&] { read_test_config(kMalformed / "config" / file); });
    INFO("message: " << message);
    CHECK_THAT(message, Catch::Contains(c.at("error").get<std::string>()));
    CHECK_THAT(message, Catch::Contains(file));
  }
}
