// End-to-end tests of the `psalm` program that need more than one command line and a regex
// (tests/cli/CMakeLists.txt holds those): files made on the fly (FIFOs, oversized or
// inconsistent inputs, tensors holding NaN), several commands in a row, and text compared with
// the library's tokenizer. The program runs through tests/support/cli_program.hpp (a child
// process with exactly the arguments given, under a time limit; PSALM_CLI=path in the
// environment runs another build of it).
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "psalm/io/image.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/io/safetensors_writer.hpp"
#include "psalm/io/tokenizer.hpp"
#include "support/cli_program.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

namespace {

namespace fs = std::filesystem;

const fs::path kData = PSALM_TEST_FIXTURES_DIR;
const fs::path kGpt2 = PSALM_CLI_GPT2_DIR;

using Run = psalm::testing::ProgramRun;
using psalm::testing::slurp;

/// A folder under the system temp folder, unique to this process, removed at exit.
const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("psalm_test_cli_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  static const struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup;
  return dir;
}

/// Runs `psalm args...` (tests/support/cli_program.hpp), its command line and outputs kept for
/// the report of a failing check.
Run run_psalm(const std::vector<std::string>& args, int limit_s = 300) {
  const Run r = psalm::testing::psalm_program(args, limit_s);
  UNSCOPED_INFO("psalm " <<
                [&] {
                  std::string s;
                  for (const auto& a : args) s += "'" + a + "' ";
                  return s;
                }() << "\nexit "
                         << r.rc << "\nstdout: " << r.out << "\nstderr: " << r.err);
  return r;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

/// A small synthetic export shared by the tests that score it (written once per process).
const fs::path& synth_export() {
  static const fs::path dir = [] {
    const fs::path d = scratch() / "synth";
    const Run r = run_psalm({"synth", "--out", d.string(), "--count", "3", "--size", "64", "--seed",
                             "5", "--videos", "1", "--frames", "3"});
    REQUIRE(r.rc == 0);
    return d;
  }();
  return dir;
}

std::size_t files_in(const fs::path& dir) {
  if (!fs::is_directory(dir)) return 0;
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), {}));
}

}  // namespace

// ---- issue 14: no option splits its text at commas ---------------------------------------

TEST_CASE("cli tokenize: text with commas, quotes, spaces and non-ASCII equals the library's ids",
          "[cli][tokenize]") {
  const auto tok = psalm::io::Tokenizer::phi_1_5_psalm(kGpt2);
  // Each text is one process (the GPT-2 tokenizer loads in ~5 s under the sanitizers): few,
  // each covering a case. The decode round trip runs for the first two.
  const std::vector<std::string> texts = {
      ",a,,b , c,",
      "na\xc3\xafve caf\xc3\xa9, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe2\x9c\x93",
      "a,b",
      "\"quoted, text\" and 'single'",
      "  two leading spaces, and a trailing one ",
      "segment the cat, the dog [SEG]",
  };
  for (std::size_t k = 0; k < texts.size(); ++k) {
    const std::string& text = texts[k];
    INFO("text: [" << text << "]");
    const Run r = run_psalm({"tokenize", "--gpt2", kGpt2.string(), "--json", text});
    REQUIRE(r.rc == 0);
    const std::vector<std::int32_t> want = tok.encode(text);
    CHECK(nlohmann::json::parse(r.out).get<std::vector<std::int32_t>>() == want);
    if (text == "a,b") CHECK(want == std::vector<std::int32_t>{64, 11, 65});  // as HF GPT-2 gives
    if (k >= 2) continue;
    // and back: --decode of those ids prints the text unchanged
    const Run back =
        run_psalm({"tokenize", "--gpt2", kGpt2.string(), "--decode", nlohmann::json(want).dump()});
    REQUIRE(back.rc == 0);
    CHECK(back.out == tok.decode(want) + "\n");
    CHECK(back.out == text + "\n");
  }
}

TEST_CASE("cli tokenize: several TEXT arguments are joined with one space, commas kept",
          "[cli][tokenize]") {
  const auto tok = psalm::io::Tokenizer::phi_1_5_psalm(kGpt2);
  const Run r = run_psalm({"tokenize", "--gpt2", kGpt2.string(), "--json", "red,", "green,blue"});
  REQUIRE(r.rc == 0);
  CHECK(nlohmann::json::parse(r.out).get<std::vector<std::int32_t>>() ==
        tok.encode("red, green,blue"));
}

TEST_CASE("cli: a path with commas is taken whole", "[cli]") {
  const fs::path dir = scratch() / "a,b,c";
  const Run r = run_psalm(
      {"synth", "--out", dir.string(), "--count", "1", "--size", "64", "--tasks", "semantic"});
  REQUIRE(r.rc == 0);
  CHECK(fs::is_directory(dir / "semantic_train"));
  const Run s =
      run_psalm({"score", "--task", "semantic", "--gt-dir", (dir / "semantic_train").string(),
                 "--pred-dir", (dir / "semantic_train").string(), "--num-classes", "18"});
  CHECK(s.rc == 0);
}

// ---- issue 20, item 1: sizes from the command line are bounded -----------------------------

TEST_CASE("cli score semantic: a huge --num-classes is exit 2 naming the option", "[cli][20.1]") {
  const fs::path sem = synth_export() / "semantic_train";
  for (const char* n : {"4294967295", "9223372036854775807", "0", "-3"}) {
    const Run r = run_psalm({"score", "--task", "semantic", "--gt-dir", sem.string(), "--pred-dir",
                             sem.string(), "--num-classes", n, "--ignore", "-1"},
                            60);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("--num-classes"));
  }
}

TEST_CASE("cli synth: counts beyond their ranges are exit 2 before anything is written",
          "[cli][20.1][20.3]") {
  const fs::path out = scratch() / "synth_ranges";
  const std::vector<std::vector<std::string>> bad = {
      {"--count", "1000000000000"}, {"--videos", "99999999999"}, {"--frames", "1"},
      {"--frames", "65"},           {"--count", "-1"},           {"--size", "20"}};
  for (const auto& extra : bad) {
    std::vector<std::string> args{"synth", "--out", out.string(), "--count", "2", "--size", "64"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Run r = run_psalm(args, 60);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains(extra[0]));
    CHECK(!fs::exists(out));
  }
}

// ---- item 2: silent wrong metrics ---------------------------------------------------------

TEST_CASE("cli score: an absent or non-folder --pred-dir is exit 2 for every mask task",
          "[cli][20.2]") {
  const fs::path masks = kData / "cli";
  const fs::path file = masks / "instance_gt.json";
  for (const char* task : {"referring", "gres", "interactive"}) {
    const fs::path gt = masks / task / "gt";
    for (const fs::path& pred : {scratch() / "no_such_folder", file}) {
      const Run r = run_psalm(
          {"score", "--task", task, "--gt-dir", gt.string(), "--pred-dir", pred.string()});
      CHECK(r.rc == 2);
      CHECK_THAT(r.err, Catch::Contains(pred.string()) && Catch::Contains("folder"));
    }
  }
  // interactive: a prompt-type folder of the ground truth without its prediction folder
  const fs::path pred = scratch() / "interactive_pred_without_point";
  fs::create_directories(pred / "box");
  const Run r = run_psalm({"score", "--task", "interactive", "--gt-dir",
                           (masks / "interactive" / "gt").string(), "--pred-dir", pred.string()});
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("point"));
}

TEST_CASE("cli score: zero samples is exit 2, not NaN", "[cli][20.2]") {
  const fs::path empty = scratch() / "empty_folder";
  fs::create_directories(empty);
  const std::vector<std::vector<std::string>> runs = {{"--task", "semantic", "--num-classes", "18"},
                                                      {"--task", "referring"},
                                                      {"--task", "gres"},
                                                      {"--task", "vos"}};
  for (const auto& extra : runs) {
    std::vector<std::string> args{"score", "--gt-dir", empty.string(), "--pred-dir",
                                  empty.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const Run r = run_psalm(args);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("no ground-truth"));
    CHECK_THAT(r.out, !Catch::Contains("nan"));
  }
  // instance and panoptic: a ground truth without images
  const fs::path gt = scratch() / "no_images.json";
  write_text(gt, R"({"images": [], "annotations": [], "categories": [{"id": 1, "isthing": 1}]})");
  const fs::path results = scratch() / "no_results.json";
  write_text(results, "[]");
  const Run inst =
      run_psalm({"score", "--task", "instance", "--gt", gt.string(), "--pred", results.string()});
  CHECK(inst.rc == 2);
  CHECK_THAT(inst.err, Catch::Contains("no images"));
  const Run pan =
      run_psalm({"score", "--task", "panoptic", "--gt-json", gt.string(), "--gt-dir",
                 empty.string(), "--pred-json", gt.string(), "--pred-dir", empty.string()});
  CHECK(pan.rc == 2);
  CHECK_THAT(pan.err, Catch::Contains("no images"));
}

// ---- item 3: synth into a folder that holds files -----------------------------------------

TEST_CASE("cli synth: a non-empty folder needs --overwrite, which clears what synth wrote",
          "[cli][20.3]") {
  const fs::path out = scratch() / "synth_twice";
  REQUIRE(run_psalm({"synth", "--out", out.string(), "--count", "6", "--size", "64", "--videos",
                     "2", "--frames", "3"})
              .rc == 0);
  REQUIRE(files_in(out / "images" / "train") == 6);
  write_text(out / "notes.txt", "mine");  // a file synth does not own
  const Run again = run_psalm({"synth", "--out", out.string(), "--count", "2", "--size", "64"});
  CHECK(again.rc == 2);
  CHECK_THAT(again.err, Catch::Contains("--overwrite") && Catch::Contains(out.string()));
  CHECK(files_in(out / "images" / "train") == 6);  // untouched
  const Run over = run_psalm({"synth", "--out", out.string(), "--count", "2", "--size", "64",
                              "--videos", "1", "--frames", "3", "--overwrite"});
  REQUIRE(over.rc == 0);
  CHECK(files_in(out / "images" / "train") == 2);
  CHECK(files_in(out / "panoptic_train") == 2);
  CHECK(files_in(out / "semantic_train") == 2);
  CHECK(files_in(out / "davis" / "Annotations" / "480p") == 1);
  CHECK(nlohmann::json::parse(slurp(out / "instances_train.json"))["images"].size() == 2);
  CHECK(slurp(out / "notes.txt") == "mine");
}

TEST_CASE("cli synth: --help states the ranges", "[cli][20.3]") {
  const Run r = run_psalm({"synth", "--help"});
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::Contains("2 to 64") && Catch::Contains("64 to 1024") &&
                        Catch::Contains("--overwrite"));
}

// ---- item 4: exit codes and messages for wrong kinds of paths -----------------------------

TEST_CASE("cli: a folder or a device where a file is expected is exit 2 naming the path",
          "[cli][20.4][20.5]") {
  const fs::path folder = scratch() / "a_folder";
  fs::create_directories(folder);
  for (const std::string& bad : {folder.string(), std::string("/dev/zero")}) {
    const Run inst = run_psalm({"score", "--task", "instance", "--gt", bad, "--pred",
                                (kData / "cli" / "instance_results.json").string()},
                               30);
    CHECK(inst.rc == 2);
    CHECK_THAT(inst.err, Catch::Contains(bad));
    CHECK_THAT(inst.err, !Catch::Contains("internal"));
    const Run fwd = run_psalm({"forward", "--component", "phi", "--config", bad, "--inputs",
                               (kData / "msda" / "component.safetensors").string(), "--out",
                               (scratch() / "x.safetensors").string()},
                              30);
    CHECK(fwd.rc == 2);
    CHECK_THAT(fwd.err, Catch::Contains(bad) && !Catch::Contains("invalid JSON"));
  }
}

TEST_CASE("cli: a FIFO as a JSON file is refused without blocking", "[cli][20.5]") {
  const fs::path fifo = scratch() / "pipe.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const Run r = run_psalm(
      {"score", "--task", "instance", "--gt", fifo.string(), "--pred", fifo.string()}, 30);
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("not a regular file"));
  // a tokenizer folder whose vocabulary is a FIFO
  const fs::path tok = scratch() / "tok_fifo";
  fs::create_directories(tok);
  REQUIRE(::mkfifo((tok / "vocab.json").c_str(), 0600) == 0);
  write_text(tok / "merges.txt", "#version: 0.2\n");
  const Run t = run_psalm({"tokenize", "--tokenizer", tok.string(), "hello"}, 30);
  CHECK(t.rc == 2);
  CHECK_THAT(t.err, Catch::Contains("not a regular file"));
}

TEST_CASE("cli: JSON files above the size limit are refused before reading", "[cli][20.5]") {
  const fs::path big = scratch() / "big_config.json";
  { std::ofstream out(big); }
  fs::resize_file(big, (std::uintmax_t{64} << 20) + 1);  // sparse: nothing is written
  const Run r = run_psalm({"forward", "--component", "phi", "--config", big.string(), "--inputs",
                           (kData / "msda" / "component.safetensors").string(), "--out",
                           (scratch() / "x.safetensors").string()},
                          30);
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("exceeds the limit"));
}

TEST_CASE("cli: an unwritable --out is exit 2 naming the path", "[cli][20.4]") {
  const fs::path file = scratch() / "plain_file";
  write_text(file, "x");
  const fs::path under_file = file / "out";
  const Run s = run_psalm({"synth", "--out", under_file.string(), "--count", "1", "--size", "64"});
  CHECK(s.rc == 2);
  CHECK_THAT(s.err, Catch::Contains(under_file.string()) && !Catch::Contains("internal"));
  const Run f = run_psalm({"forward", "--component", "ms_deform_attn", "--inputs",
                           (kData / "msda" / "component.safetensors").string(), "--out",
                           (under_file / "o.safetensors").string()});
  CHECK(f.rc == 2);
  CHECK_THAT(f.err, Catch::Contains(under_file.string()) && !Catch::Contains("internal"));
}

// ---- item 6: NaN inputs to the parity harness -----------------------------------------------

TEST_CASE("cli forward: non-finite inputs are refused, naming the tensor", "[cli][20.6]") {
  const auto in = psalm::io::SafetensorsCheckpoint::open(kData / "msda" / "component.safetensors");
  for (const float bad : {std::nanf(""), INFINITY}) {
    psalm::io::SafetensorsWriter w;
    for (const std::string& name : in.names()) {
      if (name == "sampling_locations") {
        auto t = in.load<float>(name).contiguous();
        t.data()[5] = bad;
        w.add(name, t);
      } else if (in.dtype(name) == psalm::io::SafetensorsDType::I64) {
        w.add(name, in.load<std::int64_t>(name));
      } else {
        w.add(name, in.load<float>(name));
      }
    }
    const fs::path path = scratch() / "msda_nan.safetensors";
    w.write(path);
    const Run r = run_psalm({"forward", "--component", "ms_deform_attn", "--inputs", path.string(),
                             "--out", (scratch() / "msda_nan_out.safetensors").string()});
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("sampling_locations") &&
                          Catch::Contains(std::isnan(bad) ? "NaN" : "inf"));
  }
}

// ---- item 7: inspect --stats ---------------------------------------------------------------

TEST_CASE("cli inspect --stats: exact integers, stable std, empty tensors, NaN in JSON",
          "[cli][20.7]") {
  const fs::path file = kData / "safetensors" / "all_dtypes.safetensors";
  const Run r = run_psalm({"inspect", file.string(), "--stats", "--json"});
  REQUIRE(r.rc == 0);
  const auto j = nlohmann::json::parse(r.out);
  std::map<std::string, nlohmann::json> rows;
  for (const auto& t : j["tensors"]) rows[t["name"].get<std::string>()] = t;
  // int64 [-2^63, 2^63 - 1, 0, 2^40 + 1]: exact extremes; mean 2^38 and sample std
  // 7.530851732716341e18 as Python's statistics.mean / stdev (exact rational arithmetic) give.
  const auto& i64 = rows.at("int64").at("stats");
  CHECK(i64.at("min").get<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
  CHECK(i64.at("max").get<std::int64_t>() == std::numeric_limits<std::int64_t>::max());
  CHECK(i64.at("mean").get<double>() == Approx(274877906944.0).epsilon(tol::f64_rtol));
  CHECK(i64.at("std").get<double>() == Approx(7.530851732716341e18).epsilon(tol::f64_rtol));
  // float64 [pi, -1e300, 5e-324]: statistics.stdev gives 5.773502691896258e+299 (no overflow).
  const auto& f64 = rows.at("float64").at("stats");
  CHECK(f64.at("std").get<double>() == Approx(5.773502691896258e+299).epsilon(tol::f64_rtol));
  CHECK(f64.at("mean").get<double>() == Approx(-3.3333333333333335e+299).epsilon(tol::f64_rtol));
  // float32 holds inf and NaN: numpy's min / max / mean / std are all NaN; said as strings.
  const auto& f32 = rows.at("float32").at("stats");
  for (const char* k : {"min", "max", "mean", "std"}) CHECK(f32.at(k) == "nan");
  // bfloat16 [1, -3.140625, 1e30, -inf, 9.2e-41, 0.5]: min -inf, mean -inf, std nan
  const auto& bf16 = rows.at("bfloat16").at("stats");
  CHECK(bf16.at("min") == "-inf");
  CHECK(bf16.at("mean") == "-inf");
  CHECK(bf16.at("std") == "nan");
  CHECK(bf16.at("max").get<double>() > 9.9e29);
  // empty: no numbers at all
  CHECK(!rows.at("empty").contains("stats"));
  CHECK_THAT(rows.at("empty").at("stats_error").get<std::string>(), Catch::Contains("empty"));
  CHECK_THAT(r.out, !Catch::Contains("null"));
  // the table says the same
  const Run table = run_psalm({"inspect", file.string(), "--stats"});
  REQUIRE(table.rc == 0);
  CHECK_THAT(table.out, Catch::Contains("-9223372036854775808") &&
                            Catch::Contains("9223372036854775807") &&
                            Catch::Contains("5.7735e+299") && !Catch::Contains("not numeric"));
  CHECK_THAT(table.out,
             Catch::Matches("(.|\n)*empty +F32 +\\(0, 3\\) +0 +\\(empty: no stats\\)(.|\n)*"));
}

// ---- item 8: panoptic input consistency ---------------------------------------------------

TEST_CASE("cli score panoptic: inconsistent areas warn, non-integer ids are exit 2",
          "[cli][20.8]") {
  const fs::path s = synth_export();
  auto gt = nlohmann::json::parse(slurp(s / "panoptic_train.json"));
  // A ground-truth area that disagrees with its pixels: scored as panopticapi does, with a
  // warning that names the segment.
  auto bad_area = gt;
  auto& seg = bad_area["annotations"][0]["segments_info"][0];
  const std::int64_t true_area = seg["area"].get<std::int64_t>();
  seg["area"] = true_area / 4;
  write_text(scratch() / "pan_area.json", bad_area.dump());
  const Run r = run_psalm(
      {"score", "--task", "panoptic", "--gt-json", (scratch() / "pan_area.json").string(),
       "--gt-dir", (s / "panoptic_train").string(), "--pred-json",
       (s / "panoptic_train.json").string(), "--pred-dir", (s / "panoptic_train").string()});
  CHECK(r.rc == 0);
  CHECK_THAT(r.err, Catch::Contains("warning") &&
                        Catch::Contains("area " + std::to_string(true_area / 4)) &&
                        Catch::Contains(std::to_string(true_area) + " pixels"));
  // image_id 1.5 is not an id
  for (const char* field : {"image_id", "id", "category_id"}) {
    auto bad_id = gt;
    if (std::string(field) == "image_id")
      bad_id["annotations"][0]["image_id"] = 1.5;
    else
      bad_id["annotations"][0]["segments_info"][0][field] = 1.5;
    write_text(scratch() / "pan_id.json", bad_id.dump());
    const Run b = run_psalm(
        {"score", "--task", "panoptic", "--gt-json", (s / "panoptic_train.json").string(),
         "--gt-dir", (s / "panoptic_train").string(), "--pred-json",
         (scratch() / "pan_id.json").string(), "--pred-dir", (s / "panoptic_train").string()});
    CHECK(b.rc == 2);
    CHECK_THAT(b.err, Catch::Contains(field) && Catch::Contains("integer"));
  }
}

// ---- item 9: polish -------------------------------------------------------------------------

TEST_CASE("cli score panoptic: the protocol is printed once", "[cli][20.9]") {
  const fs::path s = synth_export();
  const Run r = run_psalm(
      {"score", "--task", "panoptic", "--gt-json", (s / "panoptic_train.json").string(), "--gt-dir",
       (s / "panoptic_train").string(), "--pred-json", (s / "panoptic_train.json").string(),
       "--pred-dir", (s / "panoptic_train").string()});
  REQUIRE(r.rc == 0);
  CHECK(count_of(r.out, "Panoptic quality (panopticapi") == 1);
}

TEST_CASE("cli score: every table is in percent and says so", "[cli][20.9]") {
  const fs::path s = synth_export();
  const Run vos = run_psalm({"score", "--task", "vos", "--gt-dir",
                             (s / "davis" / "Annotations" / "480p").string(), "--pred-dir",
                             (s / "davis" / "Annotations" / "480p").string()});
  REQUIRE(vos.rc == 0);
  CHECK_THAT(vos.out, Catch::Contains("percent") && Catch::Contains("100.000"));
  const Run inst = run_psalm({"score", "--task", "instance", "--gt",
                              (kData / "cli" / "instance_gt.json").string(), "--pred",
                              (kData / "cli" / "instance_results.json").string()});
  REQUIRE(inst.rc == 0);
  CHECK_THAT(inst.out, Catch::Contains("percent") && Catch::Contains("= 17.3"));
  const Run pan = run_psalm(
      {"score", "--task", "panoptic", "--gt-json", (s / "panoptic_train.json").string(), "--gt-dir",
       (s / "panoptic_train").string(), "--pred-json", (s / "panoptic_train.json").string(),
       "--pred-dir", (s / "panoptic_train").string()});
  CHECK_THAT(pan.out, Catch::Contains("percent"));
}

TEST_CASE("cli: errors name a path once and hide source locations unless --verbose",
          "[cli][20.9]") {
  const fs::path bad = scratch() / "not_coco.json";
  write_text(bad, R"({"images": 3})");
  const std::vector<std::string> args = {"score",
                                         "--task",
                                         "instance",
                                         "--gt",
                                         bad.string(),
                                         "--pred",
                                         (kData / "cli" / "instance_results.json").string()};
  const Run r = run_psalm(args);
  CHECK(r.rc == 2);
  CHECK(count_of(r.err, bad.string()) == 1);
  CHECK_THAT(r.err, !Catch::Matches("(.|\n)*\\[[a-z_]+\\.hpp:[0-9]+\\](.|\n)*"));
  auto verbose = args;
  verbose.push_back("--verbose");
  const Run v = run_psalm(verbose);
  CHECK(v.rc == 2);
  CHECK_THAT(v.err, Catch::Matches("(.|\n)*\\[[a-z_]+\\.hpp:[0-9]+\\](.|\n)*"));
  // a file that is not JSON at all: the path once as well
  write_text(bad, "{oops");
  const Run j = run_psalm(args);
  CHECK(j.rc == 2);
  CHECK(count_of(j.err, bad.string()) == 1);
}

TEST_CASE("cli score: options that do not apply to the task are exit 2", "[cli][20.9]") {
  const fs::path g = kData / "cli" / "gres";
  const Run r = run_psalm({"score", "--task", "gres", "--gt-dir", (g / "gt").string(), "--pred-dir",
                           (g / "pred").string(), "--protocol", "bogus"});
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("--protocol"));
  const Run n = run_psalm({"score", "--task", "gres", "--gt-dir", (g / "gt").string(), "--pred-dir",
                           (g / "pred").string(), "--num-classes", "3"});
  CHECK(n.rc == 2);
  CHECK_THAT(n.err, Catch::Contains("--num-classes"));
}

TEST_CASE("cli: extra positional arguments and repeated options are exit 2", "[cli][20.9]") {
  const fs::path file = kData / "safetensors" / "all_dtypes.safetensors";
  const Run r = run_psalm({"inspect", file.string(), "extra"});
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("'extra'"));
  const Run s = run_psalm({"score", "--task", "gres", "stray", "--gt-dir", "a", "--pred-dir", "b"});
  CHECK(s.rc == 2);
  CHECK_THAT(s.err, Catch::Contains("'stray'"));
  const Run twice = run_psalm({"synth", "--out", (scratch() / "t1").string(), "--out",
                               (scratch() / "t2").string(), "--count", "1", "--size", "64"});
  CHECK(twice.rc == 2);
  CHECK_THAT(twice.err, Catch::Contains("--out"));
}

TEST_CASE("cli: --version and the DAVIS path in score --help", "[cli][20.9]") {
  const Run v = run_psalm({"--version"});
  CHECK(v.rc == 0);
  CHECK_THAT(v.out, Catch::Matches("psalm [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  const Run h = run_psalm({"score", "--help"});
  CHECK(h.rc == 0);
  CHECK_THAT(h.out, Catch::Contains("Annotations/480p"));
}

TEST_CASE("cli forward: a wrong --prefix suggests the prefix the file has", "[cli][20.9]") {
  const fs::path p = kData / "projector";
  const Run r = run_psalm({"forward", "--component", "projector", "--config",
                           (p / "swin_conv_tiny_config.json").string(), "--weights",
                           (p / "swin_conv_eval.safetensors").string(), "--prefix", "wrong.",
                           "--inputs", (p / "swin_conv_eval.safetensors").string(), "--out",
                           (scratch() / "proj.safetensors").string()});
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("--prefix model.mm_projector."));
}

TEST_CASE("cli forward: the whole psalm model matches PyTorch from the command line",
          "[cli][forward]") {
  // tests/fixtures/psalm/forward (tools/reference/psalm_forward_fixtures.py): each case's inputs
  // and PyTorch's outputs; the written file must hold exactly those outputs, close to them.
  const fs::path dir = kData / "psalm" / "forward";
  for (const std::string name : {"panoptic", "referring", "interactive", "interactive_padding"}) {
    INFO("case " << name);
    const fs::path out = scratch() / ("psalm_" + name + ".safetensors");
    const Run r =
        run_psalm({"forward", "--component", "psalm", "--config", (dir / "config.json").string(),
                   "--weights", (dir / "weights.safetensors").string(), "--inputs",
                   (dir / (name + ".inputs.safetensors")).string(), "--out", out.string()});
    REQUIRE(r.rc == 0);
    const auto got = psalm::io::SafetensorsCheckpoint::open(out);
    const auto want =
        psalm::io::SafetensorsCheckpoint::open(dir / (name + ".expected.safetensors"));
    CHECK(got.names().size() == want.names().size());
    for (const std::string& tensor : want.names()) {
      REQUIRE(got.contains(tensor));
      psalm::testing::require_close_to_max(got.load<float>(tensor), want.load<float>(tensor),
                                           tensor, psalm::testing::tol::psalm_forward_rtol,
                                           psalm::testing::tol::psalm_forward_atol);
    }
  }
}

TEST_CASE("cli synth: the first progress line shows no rate yet", "[cli][20.9]") {
  const Run r = run_psalm({"synth", "--out", (scratch() / "progress").string(), "--count", "3",
                           "--size", "64", "--tasks", "semantic"});
  REQUIRE(r.rc == 0);
  const std::string first = r.err.substr(0, r.err.find('\n'));
  CHECK_THAT(first, Catch::Contains("1/3") && !Catch::Contains(" 0.0/s"));
}

TEST_CASE("cli score vos: a first frame without objects is said so", "[cli][20.9]") {
  const fs::path gt = scratch() / "vos_gt" / "seq", pred = scratch() / "vos_pred" / "seq";
  fs::create_directories(gt);
  fs::create_directories(pred);
  const auto frame = [](std::uint8_t value) {
    return psalm::Tensor<std::uint8_t>::full({4, 5}, value);  // (H, W)
  };
  for (const char* name : {"00000.png", "00001.png", "00002.png"}) {
    psalm::io::save_indexed_png(gt / name, frame(0));
    psalm::io::save_indexed_png(pred / name, frame(1));
  }
  const Run r = run_psalm({"score", "--task", "vos", "--gt-dir", gt.parent_path().string(),
                           "--pred-dir", pred.parent_path().string()});
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("first annotation has no objects") && !Catch::Contains("1..0"));
}

// ---- item 10: score reads what synth writes -------------------------------------------------

TEST_CASE("cli: the synthetic ground truth scores perfectly against itself for every task",
          "[cli][20.10]") {
  const fs::path s = synth_export();
  const std::vector<std::pair<std::string, fs::path>> runs = {
      {"referring", s / "refcoco_train"},
      {"gres", s / "grefcoco_train"},
      {"interactive", s / "interactive_train"}};
  for (const auto& [task, dir] : runs) {
    const Run r = run_psalm(
        {"score", "--task", task, "--gt-dir", dir.string(), "--pred-dir", dir.string(), "--json"});
    REQUIRE(r.rc == 0);
    const auto j = nlohmann::json::parse(r.out);
    if (task == "interactive") {
      CHECK(j["overall"]["gIoU"].get<double>() == Approx(1.0));
      CHECK(j["overall"]["samples"].get<std::int64_t>() > 0);
    } else {
      CHECK(j["gIoU"].get<double>() == Approx(1.0));
    }
  }
  // one mask per referent / expression / prompted annotation, named by its id
  const auto refs = nlohmann::json::parse(slurp(s / "refcoco_train.json"));
  CHECK(files_in(s / "refcoco_train") == refs.size());
  const auto grefs = nlohmann::json::parse(slurp(s / "grefcoco_train.json"));
  CHECK(files_in(s / "grefcoco_train") == grefs.size());
  const auto inter = nlohmann::json::parse(slurp(s / "coco_interactive_train_psalm.json"));
  CHECK(files_in(s / "interactive_train" / "box") == inter["annotations"].size());
}
