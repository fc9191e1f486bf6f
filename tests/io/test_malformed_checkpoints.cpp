// Tests the malformed-checkpoint corpus (tools/reference/checkpoint_fixtures.py ->
// tests/fixtures/malformed/checkpoints/expected.json): every hostile or broken pickle (.pkl: code
// execution attempts, other protocols, truncations, bad lengths, memo and stack abuse, refused
// numpy dtypes, bad array states) and torch.save zip (.pt: compressed, truncated, missing or short
// storages, corrupt CRC, big-endian, views outside their storage, refused storage types) is a
// psalm::Error naming the file, the listed cause and, for pickle-level faults, the byte offset
// and opcode. Nothing crashes or executes; the in-memory entry points (used by the fuzz targets)
// give the same verdict, and open_checkpoint refuses every file too.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "psalm/io/checkpoint.hpp"
#include "support/error_of.hpp"
#include "support/fixtures.hpp"

using namespace psalm;
using namespace psalm::io;
namespace fs = std::filesystem;

using psalm::testing::error_of;

namespace {

std::vector<std::byte> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(c.size());
  if (!c.empty()) std::memcpy(out.data(), c.data(), c.size());
  return out;
}

}  // namespace

TEST_CASE("malformed checkpoints: every broken pickle and torch zip is an error naming its cause") {
  const fs::path dir = fs::path(PSALM_TEST_FIXTURES_DIR) / "malformed" / "checkpoints";
  const nlohmann::json manifest = testing::load_json("malformed/checkpoints/expected.json");
  REQUIRE(manifest.at("cases").size() >= 60);
  for (const auto& c : manifest.at("cases")) {
    const std::string file = c.at("file").get<std::string>();
    const fs::path path = dir / file;
    INFO("case " << file);
    REQUIRE(fs::exists(path));
    const bool pickle = file.ends_with(".pkl");
    const std::string message = error_of([&] {
      if (pickle) {
        (void)PickleCheckpoint::open(path);
      } else {
        (void)TorchCheckpoint::open(path);
      }
    });
    INFO("message: " << message);
    CHECK_THAT(message, Catch::StartsWith(path.string()));
    CHECK_THAT(message, Catch::Contains(c.at("error").get<std::string>()));
    if (c.contains("at")) CHECK_THAT(message, Catch::Contains(c.at("at").get<std::string>()));
    // The in-memory entry point gives the same message under its label.
    const std::string from_memory = error_of([&] {
      if (pickle) {
        (void)PickleCheckpoint::from_bytes(read_bytes(path), path.string());
      } else {
        (void)TorchCheckpoint::from_bytes(read_bytes(path), path.string());
      }
    });
    CHECK(from_memory == message);
    // Whatever the file looks like, open_checkpoint refuses it too.
    const std::string any = error_of([&] { (void)open_checkpoint(path); });
    CHECK_THAT(any, Catch::StartsWith(path.string()));
  }
}
