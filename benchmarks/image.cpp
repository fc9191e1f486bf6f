// benchmarks/image.cpp — image I/O throughput of psalm::io against Pillow on the same machine:
// PNG and JPEG decoding (stb_image), Pillow-exact BILINEAR resizing to long side 1024 (PSALM's
// preprocessing), NEAREST resizing of a label mask, and PNG encoding (stb_image_write), at
// 640x480 and 1920x1080. benchmarks/image_pil.py writes the input images and times Pillow; this
// program reads its JSON with --baseline, times psalm on the very same files, checks that the
// exact results (PNG pixels, both resizes) have Pillow's checksums, and prints the ratio
// Pillow time / psalm time (above 1: psalm is faster). Resizing runs on one OpenMP thread (as
// Pillow does) and on all of them; decoding and encoding are single-threaded.
//
//   tools/reference/.venv/bin/python benchmarks/image_pil.py --dir /tmp/psalm_image_bench
//   bench_image --baseline /tmp/psalm_image_bench/baseline.json [--json]
//
// Without --baseline it makes the same pattern itself, encodes it with psalm and prints psalm's
// figures only.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "psalm/io/image.hpp"
#include "psalm/io/resize.hpp"
#include "psalm/tensor.hpp"  // the CPU backend

using namespace psalm;

namespace {

// Letters: H, W image height and width; OH, OW resized; C = 3 channels.

/// Pixel (y, x, c) of the RGB test pattern; the same formula as pattern() in image_pil.py.
std::uint8_t pattern_value(std::int64_t y, std::int64_t x, std::int64_t c, std::int64_t width,
                           std::int64_t height) {
  std::int64_t base = (x * (97 + 31 * c)) / width + (y * (59 + 17 * c)) / height;
  base += 40 * (((x / 64) + (y / 64) + c) % 2);
  std::uint64_t h =
      static_cast<std::uint64_t>((y * 73856093) ^ (x * 19349663) ^ (c * 83492791)) & 0xFFFFFFFFull;
  h = (h * 2654435761ull) & 0xFFFFFFFFull;
  return static_cast<std::uint8_t>((base + static_cast<std::int64_t>(h >> 28)) & 255);
}

Tensor<std::uint8_t> make_pattern(std::int64_t width, std::int64_t height) {
  Tensor<std::uint8_t> rgb(Shape{height, width, 3});  // (H, W, C)
  std::uint8_t* p = rgb.data();
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x)
      for (std::int64_t c = 0; c < 3; ++c) *p++ = pattern_value(y, x, c, width, height);
  return rgb;
}

/// (H, W) labels 0..3 in a 7 x 5 grid of blocks; mask_pattern() in image_pil.py.
Tensor<std::uint8_t> make_mask(std::int64_t width, std::int64_t height) {
  Tensor<std::uint8_t> mask(Shape{height, width});  // (H, W)
  std::uint8_t* p = mask.data();
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x)
      *p++ = static_cast<std::uint8_t>(((x * 7) / width + ((y * 5) / height) * 7) % 4);
  return mask;
}

/// sum_i v_i * ((i * 2654435761) mod 2^32) mod 2^64 over the row-major bytes (image_pil.py).
std::uint64_t checksum(const Tensor<std::uint8_t>& t) {
  const Tensor<std::uint8_t> c = t.contiguous();
  const std::uint8_t* p = c.data();
  std::uint64_t sum = 0;
  for (std::int64_t i = 0; i < c.numel(); ++i)
    sum += std::uint64_t{p[i]} * ((static_cast<std::uint64_t>(i) * 2654435761ull) & 0xFFFFFFFFull);
  return sum;
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PSALM_CHECK(in.good(), "bench_image: cannot open ", path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Best seconds of fn with `threads` OpenMP threads.
double timed(int threads, const std::function<void()>& fn) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  const double s = bench::best_seconds(fn, 5, 0.2);
  omp_set_num_threads(saved);
  return s;
}

struct Inputs {
  std::int64_t width = 0, height = 0, out_w = 0, out_h = 0;
  std::vector<std::uint8_t> png, jpeg;
  Tensor<std::uint8_t> mask;  // (H, W)
};

}  // namespace

int main(int argc, char** argv) {
  const bool json = bench::has_flag(argc, argv, "--json");
  nlohmann::json baseline;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--baseline")
      baseline = nlohmann::json::parse(std::ifstream(argv[i + 1]));
  try {
    std::vector<Inputs> inputs;
    std::vector<nlohmann::json> cases;
    if (!baseline.is_null()) {
      for (const auto& c : baseline["cases"]) {
        Inputs in;
        in.width = c["width"].get<std::int64_t>();
        in.height = c["height"].get<std::int64_t>();
        in.out_w = c["out_width"].get<std::int64_t>();
        in.out_h = c["out_height"].get<std::int64_t>();
        in.png = read_bytes(c["png"].get<std::string>());
        in.jpeg = read_bytes(c["jpeg"].get<std::string>());
        const Tensor<std::uint8_t> m =
            io::load_image(c["mask"].get<std::string>(), {.channels = 1});  // (H, W, 1)
        in.mask = m.reshape({in.height, in.width});                         // (H, W)
        PSALM_CHECK(checksum(make_pattern(in.width, in.height)) ==
                        c["checksum_pattern"].get<std::uint64_t>(),
                    "bench_image: the C++ and Python test patterns differ");
        inputs.push_back(std::move(in));
        cases.push_back(c);
      }
    } else {
      for (const auto& [w, h] : {std::pair{640, 480}, std::pair{1920, 1080}}) {
        Inputs in;
        in.width = w;
        in.height = h;
        const double scale = 1024.0 / std::max(w, h);
        in.out_w = static_cast<std::int64_t>(w * scale + 0.5);
        in.out_h = static_cast<std::int64_t>(h * scale + 0.5);
        const Tensor<std::uint8_t> rgb = make_pattern(w, h);  // (H, W, C)
        in.png = io::encode_png(rgb);
        in.jpeg = io::encode_jpeg(rgb, 90);
        in.mask = make_mask(w, h);  // (H, W)
        inputs.push_back(std::move(in));
        cases.push_back(nlohmann::json::object());
      }
    }

    const int threads = omp_get_max_threads();
    bench::Report report("image", {"psalm ms 1thr", "psalm ms " + std::to_string(threads) + "thr",
                                   "Pillow ms", "psalm Mpx/s", "ratio 1thr", "ratio all"});
    bool same = true;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const Inputs& in = inputs[k];
      const nlohmann::json& ref = cases[k];
      const Tensor<std::uint8_t> rgb = io::decode_image(in.png);  // (H, W, C)
      const Tensor<std::uint8_t> resized =
          io::resize_bilinear(rgb, in.out_h, in.out_w);  // (OH, OW, C)
      const Tensor<std::uint8_t> resized_mask =
          io::resize_nearest(in.mask, in.out_h, in.out_w);  // (OH, OW)
      if (!ref.empty()) {
        const bool ok = checksum(rgb) == ref["checksum_decode_png"].get<std::uint64_t>() &&
                        checksum(resized) == ref["checksum_resize_rgb"].get<std::uint64_t>() &&
                        checksum(resized_mask) == ref["checksum_resize_mask"].get<std::uint64_t>();
        if (!ok)
          std::fprintf(stderr, "bench_image: results differ from Pillow's at %lldx%lld\n",
                       static_cast<long long>(in.width), static_cast<long long>(in.height));
        same = same && ok;
      }
      const std::string size = std::to_string(in.width) + "x" + std::to_string(in.height);
      const double mpx = static_cast<double>(in.width * in.height) / 1e6;
      const auto row = [&](const std::string& op, const std::function<void()>& fn) {
        const double one = timed(1, fn);
        const double all = timed(threads, fn);
        const double pil = ref.empty() ? 0.0 : ref["seconds"][op].get<double>();
        report.add(op + " " + size, {one * 1e3, all * 1e3, pil * 1e3, mpx / one,
                                     pil > 0 ? pil / one : 0.0, pil > 0 ? pil / all : 0.0});
      };
      row("decode_png", [&] { (void)io::decode_image(in.png); });
      row("decode_jpeg", [&] { (void)io::decode_image(in.jpeg); });
      row("resize_rgb", [&] { (void)io::resize_bilinear(rgb, in.out_h, in.out_w); });
      row("resize_mask", [&] { (void)io::resize_nearest(in.mask, in.out_h, in.out_w); });
      row("encode_png", [&] { (void)io::encode_png(rgb); });
      if (!json)
        std::printf("%s: PNG %zu bytes, JPEG %zu bytes, psalm's PNG %zu bytes%s\n", size.c_str(),
                    in.png.size(), in.jpeg.size(), io::encode_png(rgb).size(),
                    ref.empty() ? ""
                                : (", Pillow's PNG " +
                                   std::to_string(ref["encoded_png_bytes"].get<long>()) + " bytes")
                                      .c_str());
    }
    if (!json)
      std::printf(
          "ratio = Pillow time / psalm time (above 1: psalm faster); Mpx/s of the input "
          "image, 1 thread%s\n",
          baseline.is_null() ? "; no --baseline given, Pillow columns are 0" : "");
    report.print(json);
    if (!baseline.is_null() && !json)
      std::printf("same pixels as Pillow (PNG decode, bilinear, nearest): %s\n",
                  same ? "yes" : "NO");
    return same ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "bench_image: " << e.what() << "\n";
    return 1;
  }
}
