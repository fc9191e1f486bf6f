// psalm/data/davis.hpp — DAVIS-2017 as published: `ImageSets/2017/<split>.txt` names the
// sequences, `JPEGImages/<res>/<seq>/*.jpg` their frames and `Annotations/<res>/<seq>/*.png`
// the indexed object masks (0 background, 1..K objects, 255 void), paired with the frames by
// file stem. The objects of a sequence are those of its first frame's annotation (the
// semi-supervised protocol; ref: PSALM datasets/build_DAVIS.py). Host code.
// Depends on: io/{image, read_file}. Test: tests/data/test_davis.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/image.hpp"
#include "psalm/io/read_file.hpp"

namespace psalm::data {

// Letters: H W a frame.

/// Bounds on what a DAVIS folder may list.
inline constexpr std::int64_t kMaxDavisListBytes = std::int64_t{1} << 20;
inline constexpr std::size_t kMaxDavisFrames = 100000;
/// The void label of DAVIS annotations (not an object).
inline constexpr std::int32_t kDavisVoid = 255;

struct DavisSequence {
  std::string name;
  std::vector<std::filesystem::path> frames;       ///< sorted by name
  std::vector<std::filesystem::path> annotations;  ///< per frame; empty where none exists
};

struct DavisDataset {
  std::filesystem::path root;
  std::string split, resolution;
  std::vector<DavisSequence> sequences;  ///< in the order of the split file
};

namespace detail {

/// The regular files of `dir` ending in `extension`, sorted by name.
inline std::vector<std::filesystem::path> sorted_files(const std::filesystem::path& dir,
                                                       const std::string& extension) {
  namespace fs = std::filesystem;
  std::error_code ec;
  PSALM_CHECK(fs::is_directory(dir, ec), dir.string(), ": DAVIS folder not found");
  std::vector<fs::path> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().extension() != extension) continue;
    out.push_back(it->path());
    PSALM_CHECK(out.size() <= kMaxDavisFrames, dir.string(), ": more than ", kMaxDavisFrames,
                " files");
  }
  PSALM_CHECK(!ec, dir.string(), ": cannot list the folder: ", ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace detail

/// Reads the sequence list of `split` (e.g. "val", "train", "test-dev") under `root` (the folder
/// holding JPEGImages, Annotations and ImageSets) at `resolution` ("480p" or "Full-Resolution").
/// Every sequence needs at least one frame, an annotation for its first frame, and no
/// annotation without a frame of the same stem.
inline DavisDataset read_davis(const std::filesystem::path& root, const std::string& split = "val",
                               const std::string& resolution = "480p") {
  namespace fs = std::filesystem;
  DavisDataset out{root, split, resolution, {}};
  const fs::path list = root / "ImageSets" / "2017" / (split + ".txt");
  std::istringstream in(io::read_file(list, kMaxDavisListBytes, "DAVIS split"));
  std::string line;
  std::set<std::string> seen;
  std::int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    const std::string name = line.substr(b, line.find_last_not_of(" \t\r") - b + 1);
    PSALM_CHECK(name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
                    name != "." && name != ".." && name.find('\0') == std::string::npos,
                list.string(), ": line ", line_no, ": \"", name, "\" is not a sequence name");
    PSALM_CHECK(seen.insert(name).second, list.string(), ": line ", line_no, ": sequence \"", name,
                "\" is listed twice");
    DavisSequence seq;
    seq.name = name;
    seq.frames = detail::sorted_files(root / "JPEGImages" / resolution / name, ".jpg");
    const std::vector<fs::path> anns =
        detail::sorted_files(root / "Annotations" / resolution / name, ".png");
    PSALM_CHECK(!seq.frames.empty(), (root / "JPEGImages" / resolution / name).string(),
                ": sequence \"", name, "\" has no .jpg frame");
    seq.annotations.resize(seq.frames.size());
    std::size_t f = 0;
    for (const fs::path& a : anns) {
      while (f < seq.frames.size() && seq.frames[f].stem() < a.stem()) ++f;
      PSALM_CHECK(f < seq.frames.size() && seq.frames[f].stem() == a.stem(), a.string(),
                  ": annotation without a frame of the same name in ",
                  (root / "JPEGImages" / resolution / name).string());
      seq.annotations[f] = a;
    }
    PSALM_CHECK(!seq.annotations.front().empty(), seq.frames.front().string(),
                ": the first frame of sequence \"", name, "\" has no annotation (",
                (root / "Annotations" / resolution / name).string(), ")");
    out.sequences.push_back(std::move(seq));
  }
  return out;
}

/// Frame `t` of `seq` as an (H, W, 3) RGB image.
inline Tensor<std::uint8_t> load_davis_frame(const DavisSequence& seq, std::size_t t) {
  PSALM_CHECK(t < seq.frames.size(), "DAVIS sequence \"", seq.name, "\": frame ", t, " of ",
              seq.frames.size());
  io::ImageLoadOptions opt;
  opt.channels = 3;
  return io::load_image(seq.frames[t], opt);
}

/// The annotation of frame `t`: (H, W) object ids (0 background, 255 void), from an indexed
/// (or 8-bit gray) PNG of the frame's size `height` x `width`. Frames without an annotation
/// are an error (check `seq.annotations[t].empty()` first).
inline Tensor<std::int32_t> load_davis_annotation(const DavisSequence& seq, std::size_t t,
                                                  std::int64_t height, std::int64_t width) {
  PSALM_CHECK(t < seq.frames.size() && !seq.annotations[t].empty(), "DAVIS sequence \"", seq.name,
              "\": frame ", t, " has no annotation");
  const std::filesystem::path& p = seq.annotations[t];
  Tensor<std::int32_t> ids = io::load_label_png(p);  // (H, W)
  PSALM_CHECK(ids.size(0) == height && ids.size(1) == width, p.string(), ": annotation of ",
              ids.size(0), " x ", ids.size(1), " but the frame is ", height, " x ", width);
  const std::int32_t* v = ids.data();
  for (std::int64_t i = 0; i < height * width; ++i)
    PSALM_CHECK(v[i] >= 0 && v[i] <= 255, p.string(), ": pixel ", i, " has label ", v[i],
                " (DAVIS labels are 0..255)");
  return ids;
}

/// The object ids of an annotation: its labels other than 0 and void, ascending.
inline std::vector<std::int32_t> davis_objects(const Tensor<std::int32_t>& ids) {
  std::vector<bool> present(256, false);
  const std::int32_t* v = ids.data();
  for (std::int64_t i = 0; i < ids.numel(); ++i)
    if (v[i] > 0 && v[i] < 256) present[static_cast<std::size_t>(v[i])] = true;
  std::vector<std::int32_t> out;
  for (std::int32_t k = 1; k < 256; ++k)
    if (present[static_cast<std::size_t>(k)] && k != kDavisVoid) out.push_back(k);
  return out;
}

}  // namespace psalm::data
