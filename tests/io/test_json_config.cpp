// Tests for psalm/io/json_config.hpp: strict JSON parsing (duplicate keys rejected) and
// ConfigReader's typed fields with errors naming the file and key; unknown keys ignored.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "psalm/io/json_config.hpp"

using psalm::io::ConfigReader;
using psalm::io::parse_json_strict;

namespace {

// A config struct as models declare them: field names match the JSON keys.
struct TinyConfig {
  int hidden_size = 0;
  int num_layers = 0;
  double dropout = 0.0;
  std::string name = "default";
  std::vector<int> layer_sizes;
  std::optional<double> rope_theta;
  std::map<std::string, int> label2id;
  std::int64_t vocab_size = 51200;
  bool tie_word_embeddings = true;
  float layer_norm_eps = 1e-5f;
  int patch_size = 0;

  static TinyConfig from(const ConfigReader& r) {
    TinyConfig c;
    c.hidden_size = r.required<int>("hidden_size");
    c.num_layers = r.required<int>("num_layers");
    r.read("dropout", c.dropout);
    r.read("name", c.name);
    r.read("layer_sizes", c.layer_sizes);
    c.rope_theta = r.optional<std::optional<double>>("rope_theta", std::nullopt);
    r.read("label2id", c.label2id);
    r.read("vocab_size", c.vocab_size);
    r.read("tie_word_embeddings", c.tie_word_embeddings);
    r.read("layer_norm_eps", c.layer_norm_eps);
    if (r.has("vision")) c.patch_size = r.child("vision").required<int>("patch_size");
    return c;
  }
};

}  // namespace

TEST_CASE("json_config: typed fields are read, defaults kept, unknown keys ignored") {
  const auto r = ConfigReader::from_text(R"({
    "hidden_size": 2048, "num_layers": 24, "dropout": 1, "name": "phi",
    "layer_sizes": [1, 2, 3], "rope_theta": null, "label2id": {"cat": 0, "dog": 1},
    "vocab_size": 4294967296, "layer_norm_eps": 1e-06, "vision": {"patch_size": 4},
    "architectures": ["PhiForCausalLM"], "torch_dtype": "float16"})",
                                         "config.json");
  const TinyConfig c = TinyConfig::from(r);
  CHECK(c.hidden_size == 2048);
  CHECK(c.num_layers == 24);
  CHECK(c.dropout == 1.0);  // an integer is a fine value for a float field
  CHECK(c.name == "phi");
  CHECK(c.layer_sizes == std::vector<int>{1, 2, 3});
  CHECK_FALSE(c.rope_theta.has_value());
  CHECK(c.label2id == std::map<std::string, int>{{"cat", 0}, {"dog", 1}});
  CHECK(c.vocab_size == 4294967296LL);
  CHECK(c.tie_word_embeddings);  // absent: default kept
  CHECK(c.layer_norm_eps == 1e-6f);
  CHECK(c.patch_size == 4);
  CHECK(r.optional<int>("missing", 7) == 7);
  CHECK(r.optional<std::string>("rope_theta", "null means default") == "null means default");
}

TEST_CASE("json_config: errors name the file and the key path") {
  auto error_of = [](const std::string& text) {
    try {
      TinyConfig::from(ConfigReader::from_text(text, "conf/model.json"));
    } catch (const psalm::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  using Catch::Contains;
  CHECK_THAT(error_of(R"({"hidden_size": 1})"),
             Contains("conf/model.json: missing required key \"num_layers\""));
  CHECK_THAT(error_of(R"({"hidden_size": "1", "num_layers": 2})"),
             Contains("conf/model.json: key \"hidden_size\" must be an integer, got a string"));
  CHECK_THAT(error_of(R"({"hidden_size": 1.5, "num_layers": 2})"),
             Contains("must be an integer, got a floating-point number"));
  CHECK_THAT(
      error_of(R"({"hidden_size": 3000000000, "num_layers": 2})"),
      Contains("key \"hidden_size\" = 3000000000 is out of range [-2147483648, 2147483647]"));
  CHECK_THAT(error_of(R"({"hidden_size": 1, "num_layers": 2, "layer_sizes": [1, true]})"),
             Contains("key \"layer_sizes[1]\" must be an integer, got a boolean"));
  CHECK_THAT(error_of(R"({"hidden_size": 1, "num_layers": 2, "label2id": {"a": "b"}})"),
             Contains("key \"label2id.a\" must be an integer, got a string"));
  CHECK_THAT(error_of(R"({"hidden_size": 1, "num_layers": 2, "vision": {}})"),
             Contains("missing required key \"vision.patch_size\""));
  CHECK_THAT(error_of(R"({"hidden_size": null, "num_layers": 2})"),
             Contains("required key \"hidden_size\" is null"));
  CHECK_THAT(error_of(R"({"hidden_size": 1, "num_layers": 2, "layer_norm_eps": 1e300})"),
             Contains("key \"layer_norm_eps\" = 1e+300 is out of range"));
  CHECK_THAT(error_of(R"([1])"), Contains("conf/model.json: the top level must be a JSON object"));
  CHECK_THAT(error_of(R"({"hidden_size": 1,})"), Contains("conf/model.json: invalid JSON"));
  CHECK(error_of(R"({"hidden_size": 1, "num_layers": 2})") == "no error");
}

TEST_CASE("json_config: unsigned fields refuse negative values") {
  const auto r = ConfigReader::from_text(R"({"n": -1, "m": 255, "k": 256})", "u.json");
  CHECK_THROWS_WITH(r.required<std::uint32_t>("n"),
                    Catch::Contains("key \"n\" = -1 is out of range"));
  CHECK(r.required<std::uint8_t>("m") == 255);
  CHECK_THROWS_WITH(r.required<std::uint8_t>("k"),
                    Catch::Contains("key \"k\" = 256 is out of range"));
}

TEST_CASE("json_config: duplicate keys are errors at any depth, not silently overwritten") {
  CHECK_THROWS_WITH(parse_json_strict(R"({"a": 1, "a": 2})", "dup.json"),
                    Catch::Contains("dup.json: duplicate key \"a\" in object (top level)"));
  CHECK_THROWS_WITH(parse_json_strict(R"({"x": {"y": {"b": 1, "b": 1}}})", "dup.json"),
                    Catch::Contains("duplicate key \"b\" in object \"x.y\""));
  CHECK_THROWS_WITH(parse_json_strict(R"([{"c": 1}, {"c": 2, "c": 3}])", "dup.json"),
                    Catch::Contains("duplicate key \"c\""));
  // The same key in sibling objects is fine.
  const nlohmann::json ok =
      parse_json_strict(R"({"p": {"k": 1}, "q": {"k": 2}, "k": [{"k": 3}]})", "ok");
  CHECK(ok["q"]["k"] == 2);
  CHECK(ok["k"][0]["k"] == 3);
  CHECK_THROWS_WITH(parse_json_strict("{\"\xff\": 1}", "utf8.json"),
                    Catch::Contains("utf8.json: invalid JSON"));
}

TEST_CASE("json_config: reading a file names it in errors") {
  CHECK_THROWS_WITH(ConfigReader::from_file("/nonexistent/config.json"),
                    Catch::Contains("/nonexistent/config.json: cannot open JSON file"));
  const std::string path =
      std::string(PSALM_TEST_FIXTURES_DIR) + "/safetensors/sharded/model.safetensors.index.json";
  const ConfigReader r = ConfigReader::from_file(path);
  CHECK(r.source() == path);
  CHECK(r.child("metadata").required<std::int64_t>("total_size") == 88);
  CHECK_THROWS_WITH(
      r.child("weight_map").required<int>("embed.weight"),
      Catch::Contains("key \"weight_map.embed.weight\" must be an integer, got a string"));
}
