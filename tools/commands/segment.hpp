// tools/commands/segment.hpp — `psalm segment`: masks for your own images and prompts. One
// model load, each image encoded once (psalm::Segmenter caches the vision side and Phi's prompt
// prefix), every prompt answered on it: referring (--text), generalized referring (--gres
// --text), class lists (--classes, --task panoptic|instance|semantic), visual prompts (--point,
// --box, --scribble, --mask; one region each), and video objects (--video --first-mask, DAVIS
// layout). Everything is checked before the model runs, and the outputs (mask PNGs, overlays,
// COCO results with RLE, panoptic PNG + segments_info, semantic label PNGs, DAVIS index PNGs,
// summary.json) are built in a temporary folder that replaces --out only when complete.
// See docs/cli.md.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "commands/overlay.hpp"
#include "commands/progress.hpp"
#include "psalm/io/atomic_file.hpp"
#include "psalm/io/image.hpp"
#include "psalm/io/read_file.hpp"
#include "psalm/io/rle.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "psalm/serve/prompt.hpp"
#include "psalm/serve/response.hpp"

#ifndef PSALM_GPT2_DIR
#define PSALM_GPT2_DIR "third_party/gpt2-bpe"
#endif

namespace psalm::cli {

namespace segment_detail {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// The folder of the running program (for the installed model and tokenizer).
inline fs::path program_folder() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

/// --model's default: the shipped tiny model, installed beside the program
/// (<prefix>/share/psalm/models/psalm-tiny) or in the source tree (PSALM_MODEL_DIR).
inline fs::path default_model_folder() {
  std::vector<fs::path> candidates;
  const fs::path exe = program_folder();
  if (!exe.empty()) candidates.push_back(exe.parent_path() / "share/psalm/models/psalm-tiny");
#ifdef PSALM_MODEL_DIR
  candidates.emplace_back(PSALM_MODEL_DIR);
#endif
  std::string looked;
  for (const fs::path& c : candidates) {
    if (fs::is_regular_file(c / "config.json")) return c;
    looked += (looked.empty() ? "" : ", ") + c.string();
  }
  throw UsageError("no --model given and the shipped model was not found (looked in: " + looked +
                   "); pass --model DIR with a model folder (config.json + model.safetensors)");
}

/// The GPT-2 files: --gpt2, else the model folder's own, else the installed copy, else the
/// source tree's.
inline fs::path tokenizer_folder(const cxxopts::ParseResult& args, const fs::path& model) {
  if (args.count("gpt2")) return args["gpt2"].as<std::string>();
  if (psalm::detail::has_gpt2_files(model)) return model;
  const fs::path exe = program_folder();
  if (!exe.empty() && psalm::detail::has_gpt2_files(exe.parent_path() / "share/psalm/gpt2-bpe"))
    return exe.parent_path() / "share/psalm/gpt2-bpe";
  return PSALM_GPT2_DIR;
}

/// The model folder: --model, else the shipped model.
inline fs::path model_folder(const cxxopts::ParseResult& args) {
  return args.count("model") ? fs::path(args["model"].as<std::string>()) : default_model_folder();
}

/// The --dtype option of segment, chat and serve (one help text for the three).
inline constexpr const char* kDtypeHelp =
    "weights of the Linear layers: f32, or bf16 (half their memory; bf16 GEMM kernels where the "
    "CPU has them; masks agree with f32 to IoU >= 0.99, docs/performance.md)";

/// How segment, chat and serve load the model in `model`: the GPT-2 files of tokenizer_folder,
/// Phi's prefix cache unless --no-prefix-cache, and Linear weights in bf16 for --dtype bf16.
inline SegmenterOptions segmenter_options(const cxxopts::ParseResult& args, const fs::path& model) {
  SegmenterOptions options;
  options.tokenizer_dir = tokenizer_folder(args, model);
  options.cache_prefix = args.count("no-prefix-cache") == 0;
  if (args.count("dtype")) {
    const std::string dtype = args["dtype"].as<std::string>();
    if (dtype != "f32" && dtype != "bf16")
      throw UsageError("--dtype must be f32 or bf16, got \"" + dtype + "\"");
    options.weights_in_bf16 = dtype == "bf16";
  }
  return options;
}

inline bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".gif";
}

/// The image files of a folder, sorted by name.
inline std::vector<fs::path> images_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && is_image_file(e.path())) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// IMAGE arguments -> image files: a file, a folder (its images), or a .txt list of paths (one
/// per line, relative to the list's folder; blank lines and # comments skipped).
inline std::vector<fs::path> expand_images(const std::vector<std::string>& inputs) {
  std::vector<fs::path> out;
  for (const std::string& in : inputs) {
    const fs::path p(in);
    if (fs::is_directory(p)) {
      const std::vector<fs::path> found = images_in(p);
      if (found.empty()) throw Error(in + ": the folder holds no PNG / JPEG / BMP / GIF image");
      out.insert(out.end(), found.begin(), found.end());
    } else if (p.extension() == ".txt") {
      // Through io's one bounded reader: a FIFO, folder or oversized file is refused.
      std::istringstream list(io::read_file(p, io::kMaxConfigFileBytes, "image list"));
      for (std::string line; std::getline(list, line);) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        const fs::path item(line);
        out.push_back(item.is_absolute() ? item : p.parent_path() / item);
      }
    } else {
      out.push_back(p);
    }
  }
  if (out.empty()) throw UsageError("no image given (psalm segment IMAGE... --text ...)");
  return out;
}

/// "a,b,c" numbers, each read whole and finite (parse_number: "1x", "nan" and "inf" are
/// refused); spaces around an item are dropped. `what` names the option in errors.
inline std::vector<double> parse_numbers(const std::string& text, std::size_t count,
                                         const char* what, char separator = ',') {
  std::vector<double> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, separator);) {
    const auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    const std::string trimmed = b == std::string::npos ? std::string() : item.substr(b, e - b + 1);
    out.push_back(parse_number<double>(trimmed, std::string(what) + " '" + text + "'"));
  }
  if (count != 0 && out.size() != count)
    throw UsageError(std::string(what) + " '" + text + "' must be " + std::to_string(count) +
                     " comma-separated numbers");
  return out;
}

/// One prompt of the command line; visual prompts keep their mask file until images are known.
struct CliPrompt {
  SegmentPrompt prompt;
  std::vector<std::string> mask_files;  ///< interactive: per region, "" or its --mask file
  std::string description;              ///< for the legend and summary.json
};

/// The prompts in command-line order (the visual prompts form one interactive prompt, placed at
/// the first of them), under psalm/serve/prompt.hpp's rules (the ones `psalm serve` applies to
/// its JSON prompts); see parse_prompts.
inline std::vector<CliPrompt> parse_prompt_flags(const cxxopts::ParseResult& args) {
  const bool gres = args.count("gres") > 0;
  const Task class_task = serve::class_task(args["task"].as<std::string>(), "--task");
  std::vector<std::string> stuff;
  if (args.count("stuff")) stuff = serve::split_names(args["stuff"].as<std::string>());
  std::vector<CliPrompt> out;
  std::optional<std::size_t> interactive;
  auto region = [&](VisualPrompt vp, std::string file, const std::string& what) {
    if (!interactive) {
      interactive = out.size();
      out.push_back({SegmentPrompt::interactive({}), {}, ""});
    }
    CliPrompt& p = out[*interactive];
    p.prompt.regions.push_back(std::move(vp));
    p.mask_files.push_back(std::move(file));
    p.description += (p.description.empty() ? "" : " ") + what;
  };
  std::set<std::string> stuff_used;
  for (const auto& kv : args.arguments()) {
    const std::string& key = kv.key();
    const std::string& value = kv.value();
    if (key == "text") {
      out.push_back({serve::sentence_prompt(value, gres, "--text"),
                     {},
                     std::string(gres ? "gres: " : "referring: ") + value});
    } else if (key == "classes") {
      SegmentPrompt prompt = serve::class_list_prompt(serve::split_names(value), class_task, stuff,
                                                      "--classes '" + value + "'");
      for (std::size_t c = 0; c < prompt.classes.size(); ++c)
        if (!prompt.class_is_thing[c]) stuff_used.insert(prompt.classes[c]);
      out.push_back({std::move(prompt), {}, std::string(to_string(class_task)) + ": " + value});
    } else if (key == "point") {
      const auto v = parse_numbers(value, 2, "--point");
      region(VisualPrompt::point(v[0], v[1]), "", "point " + value);
    } else if (key == "box") {
      const auto v = parse_numbers(value, 4, "--box");
      region(VisualPrompt::box(v[0], v[1], v[2], v[3]), "", "box " + value);
    } else if (key == "scribble") {
      std::vector<PromptPoint> pts;
      std::stringstream in(value);
      for (std::string item; std::getline(in, item, ';');) {
        const auto v = parse_numbers(item, 2, "--scribble");
        pts.push_back({v[0], v[1]});
      }
      if (pts.empty()) throw UsageError("--scribble '" + value + "' has no X,Y point");
      region(VisualPrompt::scribble(pts), "", "scribble");
    } else if (key == "mask") {
      region(VisualPrompt::from_mask({}), value, "mask " + fs::path(value).filename().string());
    }
  }
  for (const std::string& s : stuff)
    if (!stuff_used.count(s))
      throw UsageError("--stuff names '" + s + "', which no --classes list holds");
  if (gres && std::none_of(out.begin(), out.end(),
                           [](const CliPrompt& p) { return p.prompt.task == Task::gres; }))
    throw UsageError("--gres needs --text");
  if (args.count("task") && !args.count("classes"))
    throw UsageError("--task applies to --classes, which is missing");
  if (out.empty())
    throw UsageError(
        "no prompt: give --text, --classes, --point, --box, --scribble or --mask "
        "(or --video with --first-mask)");
  return out;
}

/// parse_prompt_flags, its refusals as usage errors (exit code 2).
inline std::vector<CliPrompt> parse_prompts(const cxxopts::ParseResult& args) {
  try {
    return parse_prompt_flags(args);
  } catch (const serve::FieldError& e) {
    throw UsageError(e.what());
  }
}

/// A folder built beside `out` and moved over it when complete; removed when abandoned.
class StagedFolder {
 public:
  StagedFolder(const fs::path& out, bool overwrite) : out_(fs::absolute(out).lexically_normal()) {
    if (out_.filename().empty()) out_ = out_.parent_path();
    if (fs::exists(out_)) {
      if (!fs::is_directory(out_))
        throw Error("--out " + out.string() + " exists and is not a folder");
      const bool empty = fs::directory_iterator(out_) == fs::directory_iterator();
      if (!empty && !overwrite && !fs::exists(out_ / "summary.json"))
        throw Error("--out " + out.string() +
                    " is not empty and holds no earlier psalm segment output (summary.json); "
                    "choose another folder or pass --overwrite");
    }
    fs::create_directories(out_.parent_path());
    temp_ = out_.parent_path() /
            ("." + out_.filename().string() + ".tmp-" + std::to_string(::getpid()));
    fs::remove_all(temp_);
    fs::create_directories(temp_);
  }
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;
  ~StagedFolder() {
    std::error_code ignored;
    if (!committed_) fs::remove_all(temp_, ignored);
  }
  const fs::path& path() const { return temp_; }
  const fs::path& final_path() const { return out_; }

  /// Moves the finished folder to --out (an earlier output there is replaced).
  void commit() {
    const fs::path old = out_.parent_path() /
                         ("." + out_.filename().string() + ".old-" + std::to_string(::getpid()));
    const bool existed = fs::exists(out_);
    if (existed) fs::rename(out_, old);
    try {
      fs::rename(temp_, out_);
    } catch (...) {
      if (existed) fs::rename(old, out_);
      throw;
    }
    committed_ = true;
    if (existed) fs::remove_all(old);
  }

 private:
  fs::path out_, temp_;
  bool committed_ = false;
};

/// `j` written atomically; NaN and infinities as "nan" / "inf" / "-inf" (nlohmann would write
/// null), as every psalm command writes them.
inline void write_json(const fs::path& path, const nlohmann::json& j) {
  const std::string text = json_with_nonfinite_as_strings(j).dump(2) + "\n";
  io::write_file_atomically(path, std::as_bytes(std::span(text.data(), text.size())));
}

inline std::string score_text(float score) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(score));
  return buf;
}

inline nlohmann::json bbox_json(const Tensor<std::uint8_t>& mask) {
  const io::Rle rle = io::rle_encode(mask.data(), mask.size(0), mask.size(1));
  const auto b = io::rle_to_bbox(rle);
  return {b[0], b[1], b[2], b[3]};
}

inline std::int64_t area_of(const Tensor<std::uint8_t>& mask) {
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < mask.numel(); ++i) n += mask.data()[i] != 0;
  return n;
}

/// A unique folder name per image: its stem, with _2, _3, ... on repeats.
inline std::vector<std::string> folder_names(const std::vector<fs::path>& images) {
  std::map<std::string, int> seen;
  std::vector<std::string> out;
  for (const fs::path& p : images) {
    std::string stem = p.stem().string();
    if (stem.empty() || stem[0] == '.') stem = "image" + stem;
    const int n = ++seen[stem];
    out.push_back(n == 1 ? stem : stem + "_" + std::to_string(n));
  }
  return out;
}

/// Writes one prompt's answer into `dir` (relative to `root` in the summary) and returns its
/// summary entry; COCO results of its masks are appended to `results`.
inline nlohmann::json write_answer(const fs::path& root, const fs::path& dir, const CliPrompt& cli,
                                   const Segmentation& s, const Tensor<std::uint8_t>& image,
                                   std::int64_t image_id, std::int64_t prompt_index,
                                   nlohmann::json& results) {
  fs::create_directories(root / dir);
  nlohmann::json entry{
      {"index", prompt_index}, {"task", to_string(s.task)}, {"prompt", cli.description}};
  const SegmentPrompt& p = cli.prompt;
  if (!p.text.empty()) entry["text"] = p.text;
  if (!p.classes.empty()) entry["classes"] = p.classes;
  if (s.task == Task::gres) entry["no_target"] = s.no_target;
  nlohmann::json masks = nlohmann::json::array();
  std::vector<OverlayItem> items;
  for (std::size_t k = 0; k < s.masks.size(); ++k) {
    const SegmentMask& m = s.masks[k];
    const fs::path file = dir / ("mask_" + std::to_string(k) + ".png");
    io::save_binary_mask(root / file, m.mask);
    // The entry `psalm serve` answers with (psalm/serve/response.hpp), its RLE moved to
    // results.json and the score kept as a float (written "nan" when not finite).
    nlohmann::json entry_k = serve::mask_json(s, k);
    results.push_back({{"image_id", image_id},
                       {"category_id", entry_k["category_id"]},
                       {"segmentation", entry_k["segmentation"]},
                       {"score", m.score},
                       {"label", m.label},
                       {"prompt", prompt_index}});
    entry_k.erase("segmentation");
    entry_k["score"] = m.score;
    entry_k["file"] = file.generic_string();
    masks.push_back(std::move(entry_k));
    items.push_back({&m.mask, m.label + " " + score_text(m.score)});
  }
  entry["masks"] = masks;
  if (s.task == Task::panoptic) {
    const PanopticPrediction& pan = s.prediction.panoptic;
    io::save_png(root / dir / "panoptic.png", io::panoptic_ids_to_rgb(pan.segment_ids));
    nlohmann::json segments = nlohmann::json::array(), categories = nlohmann::json::array();
    for (std::size_t i = 0; i < pan.segments.size(); ++i) {
      const Tensor<std::uint8_t>& m = s.masks[i].mask;
      segments.push_back({{"id", pan.segments[i].id},
                          {"category_id", pan.segments[i].category_id},
                          {"area", area_of(m)},
                          {"bbox", bbox_json(m)},
                          {"iscrowd", 0}});
    }
    for (std::size_t c = 0; c < p.classes.size(); ++c)
      categories.push_back({{"id", c + 1},
                            {"name", p.classes[c]},
                            {"isthing", p.class_is_thing.empty() || p.class_is_thing[c] ? 1 : 0}});
    write_json(
        root / dir / "panoptic.json",
        {{"images",
          {{{"id", image_id},
            {"file_name", "panoptic.png"},
            {"height", s.height},
            {"width", s.width}}}},
         {"annotations",
          {{{"image_id", image_id}, {"file_name", "panoptic.png"}, {"segments_info", segments}}}},
         {"categories", categories}});
    entry["panoptic_png"] = (dir / "panoptic.png").generic_string();
    entry["panoptic_json"] = (dir / "panoptic.json").generic_string();
  }
  if (s.task == Task::semantic) {
    io::save_label_png16(root / dir / "semantic.png", s.prediction.semantic.labels);
    entry["semantic_png"] = (dir / "semantic.png").generic_string();
  }
  const std::string title = cli.description + (s.no_target ? "  (no target)" : "");
  io::save_png(root / dir / "overlay.png", render_overlay(image, items, title));
  entry["overlay"] = (dir / "overlay.png").generic_string();
  return entry;
}

/// --video: DAVIS layout in, DAVIS layout out.
inline int run_video(const cxxopts::ParseResult& args, Segmenter& seg, StagedFolder& out,
                     nlohmann::json summary, bool json) {
  const fs::path frames_dir = args["video"].as<std::string>();
  if (!fs::is_directory(frames_dir))
    throw Error("--video " + frames_dir.string() + " is not a folder");
  if (!args.count("first-mask"))
    throw UsageError("--video needs --first-mask ANNO.png (the first frame's objects)");
  const std::vector<fs::path> frames = images_in(frames_dir);
  if (frames.empty()) throw Error(frames_dir.string() + ": the folder holds no frame image");
  const fs::path anno_path = args["first-mask"].as<std::string>();
  const Tensor<std::int32_t> anno = io::load_label_png(anno_path).contiguous();  // (H0, W0)
  std::vector<std::int32_t> ids;
  for (std::int64_t i = 0; i < anno.numel(); ++i)
    if (anno.data()[i] != 0 && std::find(ids.begin(), ids.end(), anno.data()[i]) == ids.end())
      ids.push_back(anno.data()[i]);
  std::sort(ids.begin(), ids.end());
  if (ids.empty())
    throw Error(anno_path.string() + ": the annotation holds no object (every pixel is 0)");
  if (ids.back() > 255)
    throw Error(anno_path.string() + ": object id " + std::to_string(ids.back()) +
                " does not fit a DAVIS index PNG");
  // Every frame is read once up front: an unreadable frame or one of another size stops the
  // run before the model does any work.
  for (const fs::path& f : frames) {
    const Tensor<std::uint8_t> img = io::load_image(f, {.channels = 3});
    if (img.size(0) != anno.size(0) || img.size(1) != anno.size(1))
      throw Error(f.string() + " is " + std::to_string(img.size(1)) + "x" +
                  std::to_string(img.size(0)) + " but " + anno_path.string() + " is " +
                  std::to_string(anno.size(1)) + "x" + std::to_string(anno.size(0)));
  }
  std::vector<Tensor<std::uint8_t>> first;
  for (const std::int32_t id : ids) {
    Tensor<std::uint8_t> m(anno.shape());
    for (std::int64_t i = 0; i < anno.numel(); ++i) m.data()[i] = anno.data()[i] == id ? 1 : 0;
    first.push_back(std::move(m));
  }
  const std::string sequence = fs::absolute(frames_dir).lexically_normal().filename().string();
  fs::create_directories(out.path() / sequence);
  fs::create_directories(out.path() / "overlay");
  ProgressBar bar;
  const auto start = Clock::now();
  std::vector<Tensor<std::uint8_t>> images;  // the frames, kept for the overlays
  const std::vector<VideoFramePrediction> predictions = seg.segment_video(
      static_cast<std::int64_t>(frames.size()),
      [&](std::int64_t t) {
        images.push_back(io::load_image(frames[static_cast<std::size_t>(t)], {.channels = 3}));
        return images.back();
      },
      first, ids, {},
      [&](std::int64_t done, std::int64_t total) { bar.update("video", done, total); });
  bar.finish();
  nlohmann::json frame_entries = nlohmann::json::array();
  for (std::size_t t = 0; t < predictions.size(); ++t) {
    const VideoFramePrediction& p = predictions[t];
    const std::string name = frames[t].stem().string() + ".png";
    io::save_indexed_png(out.path() / sequence / name, p.palette_indices());
    std::vector<OverlayItem> items;
    nlohmann::json objects = nlohmann::json::array();
    for (std::size_t k = 0; k < p.masks.size(); ++k) {
      items.push_back(
          {&p.masks[k], "object " + std::to_string(ids[k]) + " " + score_text(p.scores[k])});
      objects.push_back({{"id", ids[k]},
                         {"score", p.scores[k]},
                         {"area", area_of(p.masks[k])},
                         {"query", p.queries[k]}});
    }
    io::save_png(out.path() / "overlay" / name,
                 render_overlay(images[t], items, "frame " + frames[t].filename().string()));
    frame_entries.push_back({{"frame", frames[t].string()},
                             {"index_png", sequence + "/" + name},
                             {"overlay", "overlay/" + name},
                             {"consistent", p.consistent},
                             {"objects", objects}});
  }
  summary["video"] = frames_dir.string();
  summary["sequence"] = sequence;
  summary["first_mask"] = anno_path.string();
  summary["objects"] = ids;
  summary["frames"] = frame_entries;
  summary["seconds"] = seconds_since(start);
  write_json(out.path() / "summary.json", summary);
  out.commit();
  if (json)
    std::printf("%s\n", json_with_nonfinite_as_strings(summary).dump(2).c_str());
  else
    std::printf("segmented %zu frames of %s (%zu objects); index PNGs in %s, overlays in %s\n",
                frames.size(), sequence.c_str(), ids.size(),
                (out.final_path() / sequence).string().c_str(),
                (out.final_path() / "overlay").string().c_str());
  return 0;
}

}  // namespace segment_detail

inline int run_segment(int argc, char** argv) {
  namespace sd = segment_detail;
  namespace fs = std::filesystem;
  cxxopts::Options options(
      "psalm segment",
      "Segment images with PSALM: masks, an overlay, COCO results (RLE) and summary.json in "
      "--out.\n"
      "  psalm segment IMAGE... --text \"the red circle\"                 referring\n"
      "  psalm segment IMAGE... --gres --text \"all circles\"            generalized referring "
      "(may say: no target)\n"
      "  psalm segment IMAGE... --classes \"person, car\" [--task instance]  panoptic (default) / "
      "instance / semantic\n"
      "  psalm segment IMAGE... --point X,Y --box X0,Y0,X1,Y1 --scribble \"X,Y;X,Y\" --mask M.png\n"
      "                                                                  interactive, one region "
      "per flag\n"
      "  psalm segment --video FRAMES/ --first-mask ANNO.png --out DIR   video objects (DAVIS "
      "layout)\n"
      "IMAGE is a file, a folder of images or a .txt list of paths. Coordinates are pixels of the\n"
      "original image (x = column, y = row). Several --text / --classes give several prompts, "
      "each\n"
      "answered on the once-encoded image.");
  options.positional_help("IMAGE...");
  // clang-format off
  options.add_options()
      ("images", "images", cxxopts::value<std::vector<std::string>>())
      ("model", "model folder (config.json + model.safetensors; default: the shipped psalm-tiny)", cxxopts::value<std::string>())
      ("out", "output folder, replaced atomically when the run completes", cxxopts::value<std::string>()->default_value("segment_out"))
      ("json", "print summary.json on stdout")
      ("overwrite", "replace --out even when it holds something else than an earlier output")
      ("text", "a referring sentence (repeatable: one prompt each)", cxxopts::value<std::string>())
      ("gres", "answer --text as generalized referring (several targets or none)")
      ("classes", "comma-separated class names (repeatable: one prompt each)", cxxopts::value<std::string>())
      ("task", "what --classes asks for: panoptic, instance or semantic", cxxopts::value<std::string>()->default_value("panoptic"))
      ("stuff", "comma-separated classes of --classes that are stuff (merged per class in panoptic)", cxxopts::value<std::string>())
      ("point", "X,Y: a click (repeatable: one region each)", cxxopts::value<std::string>())
      ("box", "X0,Y0,X1,Y1: a box (repeatable)", cxxopts::value<std::string>())
      ("scribble", "\"X,Y;X,Y;...\": a polyline (repeatable)", cxxopts::value<std::string>())
      ("mask", "M.png: a binary mask of the image's size (repeatable)", cxxopts::value<std::string>())
      ("video", "a folder of frames (sorted by name)", cxxopts::value<std::string>())
      ("first-mask", "the first frame's annotation: an indexed (DAVIS) or grey PNG, 0 = background", cxxopts::value<std::string>())
      ("no-prefix-cache", "run every prompt's whole sequence through the language model (bit-identical to evaluation; slower)")
      ("dtype", sd::kDtypeHelp, cxxopts::value<std::string>()->default_value("f32"))
      ("gpt2", "folder with the GPT-2 BPE files (default: the model folder's, else the bundled ones)", cxxopts::value<std::string>());
  // clang-format on
  options.parse_positional({"images"});
  cxxopts::ParseResult args;
  // Images and prompts repeat (one prompt or region each); every other option is given once.
  if (parse_or_help(options, argc, argv, args,
                    {"images", "text", "classes", "point", "box", "scribble", "mask"}))
    return 0;
  const bool json = args.count("json") > 0;
  const bool video = args.count("video") > 0;
  std::vector<fs::path> images;
  std::vector<sd::CliPrompt> prompts;
  if (video) {
    if (args.count("images") || args.count("text") || args.count("classes") ||
        args.count("point") || args.count("box") || args.count("scribble") || args.count("mask"))
      throw UsageError("--video takes no IMAGE and no other prompt (only --first-mask)");
    only_options(args,
                 {"video", "first-mask", "model", "out", "json", "overwrite", "gpt2",
                  "no-prefix-cache", "dtype"},
                 "--video");
  } else {
    if (args.count("first-mask")) throw UsageError("--first-mask needs --video");
    prompts = sd::parse_prompts(args);
    images = sd::expand_images(args.count("images") ? args["images"].as<std::vector<std::string>>()
                                                    : std::vector<std::string>{});
  }

  // The model (a folder that is not one stops here), then every input checked.
  const fs::path model_dir = sd::model_folder(args);
  const SegmenterOptions seg_options = sd::segmenter_options(args, model_dir);
  const auto load_start = sd::Clock::now();
  Segmenter seg = Segmenter::load(model_dir, seg_options);
  nlohmann::json summary{{"model", fs::absolute(model_dir).lexically_normal().string()},
                         {"image_size", seg.config().image_size},
                         {"prefix_cache", seg_options.cache_prefix},
                         {"load_seconds", sd::seconds_since(load_start)}};
  sd::StagedFolder out(args["out"].as<std::string>(), args.count("overwrite") > 0);
  if (video) return sd::run_video(args, seg, out, summary, json);

  std::map<std::string, Tensor<std::uint8_t>> mask_files;  // --mask files, read once
  for (const sd::CliPrompt& p : prompts)
    for (const std::string& f : p.mask_files)
      if (!f.empty() && !mask_files.count(f)) mask_files[f] = io::load_binary_mask(f);
  // Each image read and each prompt checked against its size before the model runs.
  for (const fs::path& path : images) {
    const Tensor<std::uint8_t> img = io::load_image(path, {.channels = 3});
    for (sd::CliPrompt p : prompts) {
      for (std::size_t k = 0; k < p.mask_files.size(); ++k)
        if (!p.mask_files[k].empty())
          p.prompt.regions[k] = VisualPrompt::from_mask(mask_files.at(p.mask_files[k]));
      try {
        seg.example_of(p.prompt, img.size(0), img.size(1));
      } catch (const Error& e) {
        throw Error(path.string() + ": " + e.what());
      }
    }
  }

  const std::vector<std::string> names = sd::folder_names(images);
  nlohmann::json results = nlohmann::json::array(), entries = nlohmann::json::array();
  ProgressBar bar;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const auto image_id = static_cast<std::int64_t>(i + 1);
    const Tensor<std::uint8_t> img = io::load_image(images[i], {.channels = 3});
    auto t0 = sd::Clock::now();
    EncodedImage encoded = seg.encode(img);
    nlohmann::json entry{{"file", images[i].string()}, {"id", image_id},
                         {"folder", names[i]},         {"width", img.size(1)},
                         {"height", img.size(0)},      {"encode_seconds", sd::seconds_since(t0)}};
    nlohmann::json answers = nlohmann::json::array();
    for (std::size_t j = 0; j < prompts.size(); ++j) {
      sd::CliPrompt p = prompts[j];
      for (std::size_t k = 0; k < p.mask_files.size(); ++k)
        if (!p.mask_files[k].empty())
          p.prompt.regions[k] = VisualPrompt::from_mask(mask_files.at(p.mask_files[k]));
      t0 = sd::Clock::now();
      const Segmentation s = seg.segment(encoded, p.prompt);
      const double secs = sd::seconds_since(t0);
      const fs::path dir = fs::path(names[i]) / ("p" + std::to_string(j) + "_" + to_string(s.task));
      nlohmann::json a = sd::write_answer(out.path(), dir, p, s, img, image_id,
                                          static_cast<std::int64_t>(j), results);
      a["seconds"] = secs;
      answers.push_back(a);
    }
    entry["prompts"] = answers;
    entries.push_back(entry);
    bar.update("segment", static_cast<std::int64_t>(i + 1),
               static_cast<std::int64_t>(images.size()));
  }
  bar.finish();
  sd::write_json(out.path() / "results.json", results);
  summary["images"] = entries;
  summary["results"] = "results.json";
  sd::write_json(out.path() / "summary.json", summary);
  out.commit();
  if (json) {
    std::printf("%s\n", json_with_nonfinite_as_strings(summary).dump(2).c_str());
    return 0;
  }
  for (const auto& e : entries) {
    std::printf("%s (%lldx%lld)\n", e["file"].get<std::string>().c_str(),
                static_cast<long long>(e["width"].get<std::int64_t>()),
                static_cast<long long>(e["height"].get<std::int64_t>()));
    for (const auto& a : e["prompts"]) {
      std::printf("  %s: %zu mask(s)%s, overlay %s\n", a["prompt"].get<std::string>().c_str(),
                  a["masks"].size(), a.value("no_target", false) ? " (no target)" : "",
                  (out.final_path() / a["overlay"].get<std::string>()).string().c_str());
      for (const auto& m : a["masks"])
        std::printf("    %-24s score %.3f  area %lld\n", m["label"].get<std::string>().c_str(),
                    m["score"].get<double>(),
                    static_cast<long long>(m["area"].get<std::int64_t>()));
    }
  }
  std::printf("wrote %s\n", out.final_path().string().c_str());
  return 0;
}

}  // namespace psalm::cli
