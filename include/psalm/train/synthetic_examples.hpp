// psalm/train/synthetic_examples.hpp — the bundled synthetic scenes as PSALM examples of every
// task (psalm/example.hpp), generated on the fly: panoptic / instance / semantic (the class
// list and every segment), referring (one unambiguous sentence and its object), generalized
// referring (a group, a single object or no target), interactive (every object prompted by a
// point, scribble, box or mask), image-grounded conversations (captions and questions) for
// the LLaVA-style batches, and videos for video object segmentation. Every example is a pure
// function of (options, task, index).
// Depends on: data/synthetic, psalm/example, tensor/host. Test:
// tests/train/test_synthetic_examples.cpp.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "psalm/data/synthetic.hpp"
#include "psalm/psalm/example.hpp"
#include "psalm/tensor/host.hpp"

namespace psalm::train {

namespace syn = data::synthetic;

// Letters: H W the scene, N targets, K prompts.

struct SyntheticExampleOptions {
  syn::SceneOptions scene;  ///< size, seed, split (train scenes never show held-out names)
  /// Classes tasks: list the held-out categories too (open-vocabulary evaluation).
  bool include_held_out_classes = false;
  /// Referring: train on all sentences of the referent joined (' s1. s2.', upstream's RefCOCO
  /// training) instead of one sentence.
  bool join_referent_sentences = false;
  /// Visual prompts: point and scribble pixels are grown into discs of these radii, given as
  /// a fraction of the longer image side (upstream: 10 and 5 px on ~640 px COCO images).
  double point_radius = 10.0 / 640.0;
  double scribble_radius = 5.0 / 640.0;
  /// Interactive: every object prompted by this kind (evaluation per prompt kind); unset, each
  /// object draws one of the kinds its mask supports (upstream's training).
  std::optional<VisualPromptKind> prompt_kind;
};

namespace detail {

inline Tensor<std::uint8_t> stack_masks(const std::vector<std::vector<std::uint8_t>>& masks,
                                        std::int64_t h, std::int64_t w) {
  Tensor<std::uint8_t> out(Shape{static_cast<std::int64_t>(masks.size()), h, w});  // (N, H, W)
  for (std::size_t n = 0; n < masks.size(); ++n)
    std::copy(masks[n].begin(), masks[n].end(), out.data() + static_cast<std::int64_t>(n) * h * w);
  return out;
}

inline Tensor<std::uint8_t> image_of(const syn::Scene& scene) { return scene.image; }

inline std::int64_t radius_px(double fraction, const syn::Scene& s) {
  return std::max<std::int64_t>(
      1, std::llround(fraction * static_cast<double>(std::max(s.height(), s.width()))));
}

}  // namespace detail

/// The class names a classes-task example lists (canonical order = panoptic_categories()
/// order, held-out ones dropped unless asked for), with thing flags and category ids.
struct SyntheticClassList {
  std::vector<std::string> names;
  std::vector<std::uint8_t> is_thing;
  std::vector<int> category_ids;
};

inline SyntheticClassList synthetic_class_list(bool include_held_out) {
  SyntheticClassList out;
  for (const auto& c : syn::panoptic_categories()) {
    if (c.held_out && !include_held_out) continue;
    out.names.push_back(c.name);
    out.is_thing.push_back(c.isthing ? 1 : 0);
    out.category_ids.push_back(c.id);
  }
  return out;
}

/// Example `index` of `task`. Scenes without a usable target for the task (no unambiguous
/// referent, no object to prompt) are skipped deterministically: the next scene index is used.
inline Example synthetic_example(Task task, const SyntheticExampleOptions& opt,
                                 std::uint64_t index) {
  for (std::uint64_t attempt = 0; attempt < 64; ++attempt) {
    const std::uint64_t scene_index = index * 64 + attempt;  // disjoint from other indices
    const syn::Scene scene = syn::generate_scene(opt.scene, scene_index);
    const std::int64_t h = scene.height(), w = scene.width();
    syn::Draws d(opt.scene.seed, scene_index, syn::Purpose::task_sample);
    Example ex;
    ex.task = task;
    ex.image = detail::image_of(scene);
    switch (condition_kind(task)) {
      case ConditionKind::classes: {
        const SyntheticClassList classes = synthetic_class_list(opt.include_held_out_classes);
        ex.class_names = classes.names;
        ex.class_is_thing = classes.is_thing;
        std::vector<std::int32_t> ids;
        const std::vector<syn::PanopticSegment> segments = syn::panoptic_segments(scene, &ids);
        std::vector<std::vector<std::uint8_t>> masks;
        for (const syn::PanopticSegment& s : segments) {
          const auto found =
              std::find(classes.category_ids.begin(), classes.category_ids.end(), s.category_id);
          if (found == classes.category_ids.end()) continue;  // a held-out object: unlabelled
          std::vector<std::uint8_t> m(ids.size());
          for (std::size_t p = 0; p < ids.size(); ++p) m[p] = ids[p] == s.id ? 1 : 0;
          masks.push_back(std::move(m));
          ex.target_labels.push_back(found - classes.category_ids.begin());
        }
        ex.target_masks = detail::stack_masks(masks, h, w);
        return ex;
      }
      case ConditionKind::referring: {
        if (task == Task::referring) {
          const std::vector<syn::Referent> referents = syn::referring_expressions(scene);
          if (referents.empty()) continue;
          const syn::Referent& r = referents[static_cast<std::size_t>(
              d.integer(0, static_cast<int>(referents.size()) - 1))];
          if (opt.join_referent_sentences) {
            for (const std::string& s : r.sentences) ex.sentence += " " + s + ".";
          } else {
            ex.sentence = r.sentences[static_cast<std::size_t>(
                d.integer(0, static_cast<int>(r.sentences.size()) - 1))];
          }
          ex.target_masks = detail::stack_masks({syn::visible_mask(scene, r.object_id)}, h, w);
          return ex;
        }
        // gres: one expression of any kind (a group, a single referent, or no target).
        std::vector<syn::GeneralizedExpression> options = syn::generalized_expressions(scene);
        for (const syn::Referent& r : syn::referring_expressions(scene))
          options.push_back({r.sentences.front(), {r.object_id}});
        if (options.empty()) continue;
        const syn::GeneralizedExpression& e =
            options[static_cast<std::size_t>(d.integer(0, static_cast<int>(options.size()) - 1))];
        ex.sentence = e.sentence;
        std::vector<std::vector<std::uint8_t>> masks;
        for (int id : e.targets) masks.push_back(syn::visible_mask(scene, id));
        ex.target_masks = detail::stack_masks(masks, h, w);
        return ex;
      }
      case ConditionKind::regions: {
        if (scene.objects.empty()) continue;
        const std::vector<syn::PromptMasks> prompts = syn::interactive_prompts(scene);
        std::vector<std::vector<std::uint8_t>> prompt_masks, targets;
        for (std::size_t k = 0; k < scene.objects.size(); ++k) {
          const syn::PromptMasks& p = prompts[k];
          const std::vector<const std::vector<std::uint8_t>*> kinds{&p.point, &p.scribble, &p.box,
                                                                    &p.mask};
          std::vector<int> usable;
          for (int t = 0; t < 4; ++t)
            if (std::any_of(kinds[t]->begin(), kinds[t]->end(), [](auto v) { return v != 0; }))
              usable.push_back(t);
          if (opt.prompt_kind) {
            const int want = static_cast<int>(*opt.prompt_kind);
            if (std::find(usable.begin(), usable.end(), want) == usable.end()) continue;
            usable.assign(1, want);
          }
          if (usable.empty()) continue;
          const int kind =
              usable[static_cast<std::size_t>(d.integer(0, static_cast<int>(usable.size()) - 1))];
          ex.prompt_kinds.push_back(static_cast<VisualPromptKind>(kind));
          std::vector<std::uint8_t> m = *kinds[kind];
          if (kind == 0) m = syn::dilate_disc(m, h, w, detail::radius_px(opt.point_radius, scene));
          if (kind == 1)
            m = syn::dilate_disc(m, h, w, detail::radius_px(opt.scribble_radius, scene));
          prompt_masks.push_back(std::move(m));
          targets.push_back(syn::visible_mask(scene, scene.objects[k].id));
        }
        if (prompt_masks.empty()) continue;
        ex.prompt_masks = detail::stack_masks(prompt_masks, h, w);
        ex.target_masks = detail::stack_masks(targets, h, w);
        return ex;
      }
    }
  }
  fail("synthetic_example: no usable scene for task ", to_string(task), " near index ", index);
}

/// Video `index` of `options` (generate_video: the first frame is a scene of options.scene,
/// then every object moves) as a VideoExample: the objects visible in the first frame are
/// numbered 1..K in scene order, and objects hidden there are background in every frame (DAVIS
/// annotates the first frame's objects). A video whose first frame shows no object is skipped
/// deterministically (the next video index is used). Video indices start at 2^32, apart from
/// the scenes of synthetic_example.
inline VideoExample synthetic_video(const syn::VideoOptions& options, std::uint64_t index) {
  for (std::uint64_t attempt = 0; attempt < 64; ++attempt) {
    const syn::Video video = syn::generate_video(options, (1ull << 32) + index * 64 + attempt);
    const syn::Scene& first = video.frames.front();
    std::vector<std::int32_t> renumber;  // scene object id -> 1..K, 0: not in the first frame
    std::int32_t k = 0;
    for (const syn::Object& o : first.objects) {
      if (o.id >= static_cast<int>(renumber.size()))
        renumber.resize(static_cast<std::size_t>(o.id) + 1, 0);
      if (std::find(first.object_map.begin(), first.object_map.end(), o.id) !=
          first.object_map.end())
        renumber[static_cast<std::size_t>(o.id)] = ++k;
    }
    if (k == 0) continue;
    VideoExample out;
    out.name = "synthetic_" + std::to_string(index);
    for (const syn::Scene& f : video.frames) {
      out.frames.push_back(f.image);
      Tensor<std::int32_t> ids =
          host_full<std::int32_t>(Shape{f.height(), f.width()}, 0);  // (H0, W0)
      for (std::size_t p = 0; p < f.object_map.size(); ++p) {
        const std::int32_t id = f.object_map[p];
        if (id > 0 && id < static_cast<std::int32_t>(renumber.size()))
          ids.data()[p] = renumber[static_cast<std::size_t>(id)];
      }
      out.annotations.push_back(std::move(ids));
    }
    return out;
  }
  fail("synthetic_video: no video with a visible object near index ", index);
}

namespace detail {

inline std::string count_word(std::size_t n) {
  static const char* const kWords[] = {"no",   "one", "two",   "three", "four",
                                       "five", "six", "seven", "eight", "nine"};
  return n < 10 ? kWords[n] : std::to_string(n);
}

/// "a small striped red circle" (the article agrees with the first word).
inline std::string object_phrase(const syn::Object& o) {
  std::string words = std::string(syn::size_name(o.size)) + " ";
  if (o.pattern != syn::Pattern::solid) words += std::string(syn::pattern_name(o.pattern)) + " ";
  words += std::string(syn::colour_name(o.colour)) + " " + std::string(syn::shape_name(o.kind));
  return std::string("aeiou").find(words[0]) != std::string::npos ? "an " + words : "a " + words;
}

/// The scene in one sentence: its objects left to right, then the background classes.
inline std::string caption_of(const syn::Scene& scene) {
  std::vector<const syn::Object*> objects;
  for (const syn::Object& o : scene.objects) objects.push_back(&o);
  std::sort(objects.begin(), objects.end(),
            [](const syn::Object* a, const syn::Object* b) { return a->cx < b->cx; });
  std::string out;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (i > 0) out += i + 1 == objects.size() ? " and " : ", ";
    out += object_phrase(*objects[i]);
  }
  std::vector<std::string> stuff;
  for (const auto kind : scene.stuff.kinds) {
    const std::string name(syn::kStuff[static_cast<int>(kind)].name);
    if (std::find(stuff.begin(), stuff.end(), name) == stuff.end()) stuff.push_back(name);
  }
  out += objects.empty() ? "only " : " on ";
  for (std::size_t i = 0; i < stuff.size(); ++i) {
    if (i > 0) out += i + 1 == stuff.size() ? " and " : ", ";
    out += stuff[i];
  }
  out += ".";
  out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

}  // namespace detail

/// Conversation `index` about a synthetic scene (the LLaVA-style batches and stage-1
/// alignment): a caption request or a simple question the scene graph answers — how many
/// shapes, the colour of the only <shape>, the shape of the only <colour> object.
inline ConversationExample synthetic_conversation(const SyntheticExampleOptions& opt,
                                                  std::uint64_t index) {
  const syn::Scene scene = syn::generate_scene(opt.scene, index * 64);
  syn::Draws d(opt.scene.seed, index * 64, syn::Purpose::caption);
  ConversationExample ex;
  ex.image = scene.image;
  std::vector<std::pair<std::string, std::string>> qa;
  qa.emplace_back("Describe the image briefly.", detail::caption_of(scene));
  qa.emplace_back("How many shapes are there?", detail::count_word(scene.objects.size()) + ".");
  for (const syn::Object& o : scene.objects) {
    const auto same_kind = std::count_if(scene.objects.begin(), scene.objects.end(),
                                         [&](const syn::Object& x) { return x.kind == o.kind; });
    if (same_kind == 1)
      qa.emplace_back("What colour is the " + std::string(syn::shape_name(o.kind)) + "?",
                      std::string(syn::colour_name(o.colour)) + ".");
    const auto same_colour =
        std::count_if(scene.objects.begin(), scene.objects.end(),
                      [&](const syn::Object& x) { return x.colour == o.colour; });
    if (same_colour == 1) {
      const std::string shape(syn::shape_name(o.kind));
      qa.emplace_back(
          "What shape is the " + std::string(syn::colour_name(o.colour)) + " object?",
          (std::string("aeiou").find(shape[0]) != std::string::npos ? "an " : "a ") + shape + ".");
    }
  }
  const auto& [user, assistant] =
      qa[static_cast<std::size_t>(d.integer(0, static_cast<int>(qa.size()) - 1))];
  ex.user = user;
  ex.assistant = assistant;
  return ex;
}

/// The kind of a synthetic_conversation question, for per-kind scores: "caption", "count",
/// "colour", "shape", or "other" for a question synthetic_conversation does not ask.
inline std::string synthetic_question_kind(const std::string& question) {
  if (question == "Describe the image briefly.") return "caption";
  if (question == "How many shapes are there?") return "count";
  if (question.rfind("What colour is the ", 0) == 0) return "colour";
  if (question.rfind("What shape is the ", 0) == 0) return "shape";
  return "other";
}

}  // namespace psalm::train
