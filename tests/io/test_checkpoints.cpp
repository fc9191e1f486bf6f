// Tests for psalm/io/{pickle_checkpoint,torch_checkpoint,checkpoint,checkpoint_convert,
// tensor_record,record_checkpoint}.hpp on checkpoints written by the real writers
// (tools/reference/checkpoint_fixtures.py -> tests/fixtures/checkpoints/: pickle + numpy at
// protocols 2 to 5, torch.save): every tensor compared bit for bit with the same tensors written by
// the safetensors package (<name>.expected.safetensors), names in file order, metadata and skipped
// entries as the script lists them (<name>.json); zero-copy views; PyTorch views and shared
// storages; the conversion to safetensors (prefix filtering and stripping, dtype conversion).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "psalm/io/checkpoint.hpp"
#include "psalm/io/checkpoint_convert.hpp"
#include "support/error_of.hpp"
#include "support/fixtures.hpp"

using namespace psalm;
using namespace psalm::io;
namespace fs = std::filesystem;

using psalm::testing::error_of;

namespace {

const fs::path kDir = fs::path(PSALM_TEST_FIXTURES_DIR) / "checkpoints";

std::vector<std::byte> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(c.size());
  if (!c.empty()) std::memcpy(out.data(), c.data(), c.size());
  return out;
}

// Every tensor of `ck` against <expected>.expected.safetensors and <expected>.json: same names
// in the same order, same dtype, shape and bytes; load<float> / load<int64> agree with the
// reference file's where the conversion is allowed.
void check_against_expected(const RecordCheckpoint& ck, const std::string& expected,
                            bool file_order = true) {
  const SafetensorsFile want = SafetensorsFile::open(kDir / (expected + ".expected.safetensors"));
  const nlohmann::json meta = testing::load_json("checkpoints/" + expected + ".json");
  std::vector<std::string> names = ck.names(),
                           want_names = meta.at("names").get<std::vector<std::string>>();
  if (!file_order) {  // a safetensors file orders its tensors by dtype, then name
    std::sort(names.begin(), names.end());
    std::sort(want_names.begin(), want_names.end());
  }
  CHECK(names == want_names);
  CHECK(ck.size() == want.size());
  std::map<std::string, std::string> want_meta;
  for (auto it = meta.at("metadata").begin(); it != meta.at("metadata").end(); ++it)
    want_meta[it.key()] = it->get<std::string>();
  CHECK(ck.metadata() == want_meta);
  CHECK(ck.skipped() == meta.at("skipped").get<std::vector<std::string>>());
  for (const std::string& name : ck.names()) {
    INFO("tensor " << name);
    REQUIRE(want.contains(name));
    CHECK(ck.dtype(name) == want.dtype(name));
    CHECK(ck.shape(name) == want.shape(name));
    const std::vector<std::byte> got = ck.bytes(name);
    const std::span<const std::byte> ref = want.bytes(name);
    REQUIRE(got.size() == ref.size());
    CHECK(std::equal(got.begin(), got.end(), ref.begin()));  // bit for bit
    const bool floating =
        want.dtype(name) == SafetensorsDType::F32 || want.dtype(name) == SafetensorsDType::F64 ||
        want.dtype(name) == SafetensorsDType::F16 || want.dtype(name) == SafetensorsDType::BF16;
    if (floating) {
      const std::vector<double> a = ck.load<double>(name).to_vector();
      const std::vector<double> b = want.load<double>(name).to_vector();
      CHECK(a == b);
    } else {
      const std::vector<std::int64_t> a = ck.load<std::int64_t>(name).to_vector();
      const std::vector<std::int64_t> b = want.load<std::int64_t>(name).to_vector();
      CHECK(a == b);
    }
  }
}

}  // namespace

TEST_CASE("checkpoints: Mask2Former Swin-B .pkl layout loads with its official names and dtypes") {
  const PickleCheckpoint ck = PickleCheckpoint::open(kDir / "m2f_swin_b_tiny.pkl");
  CHECK(ck.format() == "mask2former-pickle");
  CHECK(ck.protocol() == 4);
  check_against_expected(ck, "m2f_swin_b_tiny");
  // Spec §7.3: backbone (Swin-B, 24 blocks), pixel decoder, predictor (9 layers), criterion.
  std::size_t backbone = 0, pixel = 0, predictor = 0;
  for (const std::string& n : ck.names()) {
    backbone += n.starts_with("backbone.");
    pixel += n.starts_with("sem_seg_head.pixel_decoder.");
    predictor += n.starts_with("sem_seg_head.predictor.");
  }
  CHECK(backbone == 4 + 24 * 14 + 3 * 3 + 8);
  CHECK(ck.contains("backbone.layers.2.blocks.17.attn.relative_position_index"));
  CHECK(ck.dtype("backbone.layers.2.blocks.17.attn.relative_position_index") ==
        SafetensorsDType::I64);
  CHECK(ck.dtype("backbone.layers.2.blocks.17.attn.qkv.weight") == SafetensorsDType::F32);
  CHECK(ck.contains("sem_seg_head.pixel_decoder.adapter_1.weight"));
  CHECK(ck.contains("sem_seg_head.pixel_decoder.layer_1.norm.bias"));
  CHECK(ck.contains("sem_seg_head.predictor.transformer_ffn_layers.8.linear2.weight"));
  CHECK(ck.contains("sem_seg_head.predictor.class_embed.weight"));
  CHECK(ck.contains("criterion.empty_weight"));
  CHECK(pixel == 12 + 1 + 6 * 16 + 2 + 3 + 3);
  CHECK(predictor == 9 * 6 * 2 + 9 * 6 + 2 + 3 + 2 + 6);
  CHECK(ck.metadata().at("__author__") == "Detectron2 Model Zoo (psalm synthetic)");
  // The relative position index of a 2x2 window, as Swin computes it.
  const std::vector<std::int64_t> index =
      ck.load<std::int64_t>("backbone.layers.0.blocks.0.attn.relative_position_index").to_vector();
  CHECK(index == std::vector<std::int64_t>{4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4});
}

TEST_CASE("checkpoints: pickle protocols 2 to 5 give the same arrays (every dtype and layout)") {
  for (int protocol : {2, 3, 4, 5}) {
    INFO("protocol " << protocol);
    const std::string file = "m2f_protocol" + std::to_string(protocol) + ".pkl";
    const PickleCheckpoint ck = PickleCheckpoint::open(kDir / file);
    CHECK(ck.protocol() == protocol);
    check_against_expected(ck, "m2f_protocol");
    // In memory too.
    const PickleCheckpoint mem = PickleCheckpoint::from_bytes(read_bytes(kDir / file), file);
    CHECK(mem.names() == ck.names());
    CHECK(mem.bytes("f32_big_endian") == ck.bytes("f32_big_endian"));
  }
  const PickleCheckpoint ck = PickleCheckpoint::open(kDir / "m2f_protocol4.pkl");
  CHECK(ck.record("f32_big_endian").big_endian);
  CHECK(ck.record("transposed").strides == std::vector<std::int64_t>{1, 4});  // Fortran order
  CHECK(!ck.record("transposed").contiguous());
  CHECK(ck.record("scalar0d").shape.empty());
  CHECK(ck.record("np_scalar").shape.empty());
  CHECK(ck.record("empty").numel() == 0);
  CHECK(ck.contains("nested.inner"));
  CHECK(!ck.is_zero_copy<float>("f32_big_endian"));
  // Integers that float32 cannot hold exactly are refused, not rounded.
  CHECK_THAT(error_of([&] { (void)ck.load<float>("i32"); }),
             Catch::Contains("m2f_protocol4.pkl: tensor \"i32\": element 2 = 2147483647 is not "
                             "exactly representable"));
  CHECK_THAT(error_of([&] { (void)ck.load<std::int64_t>("f32"); }),
             Catch::Contains("floating-point to integer conversion is not allowed"));
  CHECK_THAT(error_of([&] { (void)ck.load<float>("missing"); }),
             Catch::Contains("m2f_protocol4.pkl: no tensor named \"missing\""));
}

TEST_CASE("checkpoints: torch.save files: the stage-1 projector, every dtype, views, nesting") {
  for (const char* name : {"mm_projector", "mm_projector_f32"}) {
    INFO(name);
    const TorchCheckpoint ck = TorchCheckpoint::open(kDir / (std::string(name) + ".bin"));
    CHECK(ck.format() == "torch-zip");
    CHECK(ck.archive_name() == name);
    check_against_expected(ck, name);
    CHECK(ck.dtype("model.mm_projector.layer1.0.bn1.num_batches_tracked") == SafetensorsDType::I64);
  }
  const TorchCheckpoint f32 = TorchCheckpoint::open(kDir / "mm_projector_f32.bin");
  for (const std::string& n : f32.names()) {
    if (f32.dtype(n) != SafetensorsDType::F32) continue;
    INFO(n);
    CHECK(f32.is_zero_copy<float>(n));  // torch aligns every storage record to 64 bytes
    const Tensor<float> t = f32.load<float>(n);
    CHECK(reinterpret_cast<const std::byte*>(t.data()) == f32.record(n).first_byte());
  }
  CHECK(!f32.is_zero_copy<double>("model.mm_projector.fc.bias"));
  check_against_expected(TorchCheckpoint::open(kDir / "torch_dtypes.pt"), "torch_dtypes");

  const TorchCheckpoint views = TorchCheckpoint::open(kDir / "torch_views.pt");
  check_against_expected(views, "torch_views");
  CHECK(views.record("transposed").strides == std::vector<std::int64_t>{1, 6});
  CHECK(views.record("sliced").offset == 6);
  CHECK(views.record("expanded").strides == std::vector<std::int64_t>{0, 1});
  CHECK(views.record("transposed").storage_key == views.record("sliced").storage_key);
  CHECK(views.record("shared_a").storage_key == views.record("shared_b").storage_key);
  CHECK(views.record("shared_a").storage.data() == views.record("shared_b").storage.data());
  CHECK(views.record("same_1").storage_key == views.record("same_2").storage_key);
  CHECK(views.record("0.weight").storage_key != views.record("0.bias").storage_key);

  const TorchCheckpoint nested = TorchCheckpoint::open(kDir / "torch_nested.pt");
  check_against_expected(nested, "torch_nested");

  // In memory, and without the CRC pass.
  const TorchCheckpoint mem = TorchCheckpoint::from_bytes(read_bytes(kDir / "torch_views.pt"),
                                                          "views", {.verify_crc = false});
  CHECK(mem.names() == views.names());
  CHECK(mem.archive_name() == "torch_views");  // torch.save names the folder after the file
}

TEST_CASE("checkpoints: open_checkpoint recognises each format by its content") {
  CHECK(open_checkpoint(kDir / "m2f_protocol2.pkl").format() == "mask2former-pickle");
  CHECK(open_checkpoint(kDir / "mm_projector.bin").format() == "torch-zip");
  CHECK(open_checkpoint(kDir / "torch_views.pt").format() == "torch-zip");
  const RecordCheckpoint st = open_checkpoint(kDir / "mm_projector.expected.safetensors");
  CHECK(st.format() == "safetensors");
  check_against_expected(st, "mm_projector", false);
  CHECK(open_checkpoint(fs::path(PSALM_TEST_FIXTURES_DIR) / "safetensors" / "sharded").size() > 0);
  // A file's name does not matter.
  const fs::path renamed = fs::temp_directory_path() / "psalm_ckpt_renamed.safetensors";
  fs::copy_file(kDir / "torch_dtypes.pt", renamed, fs::copy_options::overwrite_existing);
  CHECK(open_checkpoint(renamed).format() == "torch-zip");
  fs::remove(renamed);
  CHECK_THAT(error_of([&] { (void)open_checkpoint(kDir / "torch_views.json"); }),
             Catch::Contains("torch_views.json"));
  CHECK_THAT(
      error_of([&] {
        (void)open_checkpoint(fs::path(PSALM_TEST_FIXTURES_DIR) / "image" / "davis_40x30.png");
      }),
      Catch::Contains("not a safetensors file, torch.save zip or Mask2Former pickle (it "
                      "starts with 89 50 4e 47"));
  CHECK_THAT(error_of([&] { (void)open_checkpoint(kDir / "nonexistent.bin"); }),
             Catch::Contains("nonexistent.bin: cannot open"));
  std::vector<std::byte> head(16);
  CHECK(sniff_checkpoint_format(std::span(head).first(0)) == CheckpointFormat::unknown);
}

TEST_CASE("checkpoints: limits bound what a file may make") {
  PickleLimits tiny;
  tiny.max_values = 500;
  CHECK_THAT(error_of([&] { (void)PickleCheckpoint::open(kDir / "m2f_swin_b_tiny.pkl", tiny); }),
             Catch::Contains("m2f_swin_b_tiny.pkl: pickle offset"));
  CHECK_THAT(error_of([&] { (void)PickleCheckpoint::open(kDir / "m2f_swin_b_tiny.pkl", tiny); }),
             Catch::Contains("more than 500 values (PickleLimits::max_values)"));
  TorchCheckpointOptions opt;
  opt.limits.max_values = 50;
  CHECK_THAT(error_of([&] { (void)TorchCheckpoint::open(kDir / "mm_projector.bin", opt); }),
             Catch::Contains("mm_projector.bin (mm_projector/data.pkl): pickle offset"));
}

TEST_CASE("checkpoints: tensor records are gathered in C order and checked against storage") {
  // A 2x3 view with strides (1, 2) at offset 1 of a 7-element int16 storage, big-endian.
  std::vector<std::byte> storage(14);
  for (int i = 0; i < 7; ++i) storage[2 * i + 1] = static_cast<std::byte>(i);  // big-endian i
  TensorRecord r;
  r.name = "v";
  r.dtype = SafetensorsDType::I16;
  r.big_endian = true;
  r.shape = {2, 3};
  r.strides = {1, 2};
  r.offset = 1;
  r.storage = storage;
  CHECK_NOTHROW(check_tensor_record(r, "mem"));
  std::vector<std::byte> out(12);
  copy_tensor_record(r, out);
  std::vector<std::int16_t> v(6);
  std::memcpy(v.data(), out.data(), 12);
  CHECK(v == std::vector<std::int16_t>{1, 3, 5, 2, 4, 6});
  CHECK(load_tensor_record<std::int64_t>(r, nullptr, "mem").to_vector() ==
        std::vector<std::int64_t>{1, 3, 5, 2, 4, 6});
  r.offset = 2;  // reaches element 7
  CHECK_THAT(
      error_of([&] { check_tensor_record(r, "mem"); }),
      Catch::Contains(
          "mem: tensor \"v\": its elements reach index 7 of a storage holding 7 I16 elements"));
  r.offset = 0;
  r.shape = {2, 3, 1, 1, 1, 1, 1};
  r.strides = {1, 2, 1, 1, 1, 1, 1};
  CHECK_NOTHROW(check_tensor_record(r, "mem"));
  CHECK_THAT(error_of([&] { (void)load_tensor_record<float>(r, nullptr, "mem"); }),
             Catch::Contains("has rank 7, more than psalm's maximum of 6"));
  r.strides = {1, 2};
  CHECK_THAT(error_of([&] { check_tensor_record(r, "mem"); }),
             Catch::Contains("7 extents but 2 strides"));
  r.shape = {3};
  r.strides = {-1};
  CHECK_THAT(error_of([&] { check_tensor_record(r, "mem"); }),
             Catch::Contains("stride 0 is negative"));
  r.strides = {1};
  r.offset = -1;
  CHECK_THAT(error_of([&] { check_tensor_record(r, "mem"); }),
             Catch::Contains("negative storage offset"));
  r.offset = 0;
  r.dtype = SafetensorsDType::BOOL;
  r.big_endian = false;
  storage[0] = static_cast<std::byte>(2);
  CHECK_THAT(error_of([&] { (void)load_tensor_record<std::uint8_t>(r, nullptr, "mem"); }),
             Catch::Contains("BOOL element 0 holds byte 2"));
}

TEST_CASE("checkpoints: conversion to safetensors filters, strips and converts exactly") {
  const fs::path out = fs::temp_directory_path() / "psalm_convert_test.safetensors";
  const PickleCheckpoint m2f = PickleCheckpoint::open(kDir / "m2f_swin_b_tiny.pkl");
  const std::vector<ConvertedTensor> plan =
      convert_to_safetensors(m2f, out, {.prefixes = {"sem_seg_head.pixel_decoder."}});
  const SafetensorsFile f = SafetensorsFile::open(out);
  const SafetensorsFile want = SafetensorsFile::open(kDir / "m2f_swin_b_tiny.expected.safetensors");
  CHECK(f.size() == 117);
  CHECK(plan.size() == 117);
  CHECK(plan.front().from == "sem_seg_head.pixel_decoder.input_proj.0.0.weight");
  CHECK(plan.front().to == "input_proj.0.0.weight");
  for (const ConvertedTensor& t : plan) {
    INFO(t.to);
    REQUIRE(f.contains(t.to));
    CHECK(f.dtype(t.to) == want.dtype(t.from));
    CHECK(f.shape(t.to) == want.shape(t.from));
    CHECK(std::memcmp(f.bytes(t.to).data(), want.bytes(t.from).data(), want.bytes(t.from).size()) ==
          0);
  }
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.metadata().at("__author__") == "Detectron2 Model Zoo (psalm synthetic)");

  // Two prefixes kept, a new prefix added; integer tensors stay integers when floats convert.
  (void)convert_to_safetensors(m2f, out,
                               {.prefixes = {"backbone.layers.0.blocks.0.", "criterion."},
                                .strip_prefix = false,
                                .add_prefix = "model.",
                                .float_dtype = SafetensorsDType::BF16,
                                .metadata = {{"note", "test"}}});
  const SafetensorsFile g = SafetensorsFile::open(out);
  CHECK(g.size() == 15);
  CHECK(g.dtype("model.backbone.layers.0.blocks.0.attn.relative_position_index") ==
        SafetensorsDType::I64);
  CHECK(g.dtype("model.criterion.empty_weight") == SafetensorsDType::BF16);
  CHECK(g.metadata().at("note") == "test");
  const std::vector<bf16> got =
      g.load<bf16>("model.backbone.layers.0.blocks.0.attn.qkv.weight").to_vector();
  const std::vector<bf16> ref =
      want.load<bf16>("backbone.layers.0.blocks.0.attn.qkv.weight").to_vector();
  REQUIRE(got.size() == ref.size());
  CHECK(std::memcmp(got.data(), ref.data(), got.size() * sizeof(bf16)) == 0);

  // bf16 -> f32 is exact; strided torch views come out contiguous.
  const TorchCheckpoint proj = TorchCheckpoint::open(kDir / "mm_projector.bin");
  (void)convert_to_safetensors(
      proj, out, {.prefixes = {"model.mm_projector."}, .float_dtype = SafetensorsDType::F32});
  const SafetensorsFile h = SafetensorsFile::open(out);
  CHECK(h.dtype("fc.weight") == SafetensorsDType::F32);
  CHECK(h.dtype("layer1.0.bn1.num_batches_tracked") == SafetensorsDType::I64);
  CHECK(h.load<float>("fc.weight").to_vector() ==
        proj.load<float>("model.mm_projector.fc.weight").to_vector());
  const TorchCheckpoint views = TorchCheckpoint::open(kDir / "torch_views.pt");
  (void)convert_to_safetensors(views, out);
  const RecordCheckpoint converted = open_checkpoint(out);
  CHECK(converted.size() == views.size());
  for (const std::string& n : views.names()) {
    INFO(n);
    CHECK(converted.dtype(n) == views.dtype(n));
    CHECK(converted.shape(n) == views.shape(n));
    CHECK(converted.record(n).contiguous());
    CHECK(converted.bytes(n) == views.bytes(n));
  }
  CHECK(converted.metadata().at("epoch") == "12");

  // Errors: a prefix matching nothing, names colliding, a name emptied, unknown dtype.
  CHECK_THAT(error_of([&] {
               (void)convert_to_safetensors(m2f, out, {.prefixes = {"backbone.", "model."}});
             }),
             Catch::Contains("m2f_swin_b_tiny.pkl: no tensor name starts with \"model.\" (names "
                             "look like \"backbone."));
  CHECK_THAT(error_of([&] {
               (void)convert_to_safetensors(views, out, {.prefixes = {"same_1", "same_2"}});
             }),
             Catch::Contains("would get an empty name"));
  CHECK_THAT(error_of([&] {
               (void)plan_conversion(views, {.prefixes = {"0.", "1."}, .add_prefix = "x"});
             }),
             Catch::Contains("two tensors would both be named \"xweight\""));
  CHECK_THAT(
      error_of([&] { (void)plan_conversion(views, {.float_dtype = SafetensorsDType::F16}); }),
      Catch::Contains("F32, BF16 or F64, not F16"));
  // A failed conversion leaves the existing output untouched.
  CHECK(open_checkpoint(out).size() == views.size());
  fs::remove(out);
}
