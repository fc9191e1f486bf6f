// psalm/data/synthetic/referring.hpp — referring expressions of a scene from a small grammar:
// unique attribute combinations ("the large striped red circle"), spatial relations ("the square
// left of the blue star"), extremes ("the leftmost triangle", "the biggest shape"), several
// paraphrases per object; and generalized ones with several targets ("all green shapes", "the two
// circles") or none ("the purple heart" when there is none). Relations and extremes use the
// centroids and areas of the visible masks and are only emitted with a clear margin.
// Depends on: scene, random, vocabulary. Test: tests/data/test_synthetic_referring.cpp (an
// independent text resolver, resolver.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "psalm/data/synthetic/random.hpp"
#include "psalm/data/synthetic/scene.hpp"
#include "psalm/data/synthetic/vocabulary.hpp"

namespace psalm::data::synthetic {

/// A noun phrase: the attributes it names (unset = not named). No kind means "shape".
struct Description {
  std::optional<SizeClass> size;
  std::optional<Pattern> pattern;
  std::optional<Colour> colour;
  std::optional<ShapeKind> kind;

  bool matches(const Object& o) const {
    return (!size || *size == o.size) && (!pattern || *pattern == o.pattern) &&
           (!colour || *colour == o.colour) && (!kind || *kind == o.kind);
  }
};

enum class Relation : std::uint8_t { left_of, right_of, above, below };
enum class Extreme : std::uint8_t { leftmost, rightmost, topmost, bottommost, biggest, smallest };

/// One object and every sentence that refers to it alone (RefCOCO "referent").
struct Referent {
  int object_id = 0;
  std::vector<std::string> sentences;
};

/// One generalized expression and its targets (object ids; empty = no target).
struct GeneralizedExpression {
  std::string sentence;
  std::vector<int> targets;
};

/// Visible-mask statistics of each object, indexed by id: pixel count and centroid (x, y).
struct ObjectStats {
  std::vector<std::int64_t> area;
  std::vector<double> cx, cy;
};

inline ObjectStats object_stats(const Scene& scene) {
  ObjectStats s;
  s.area = visible_areas(scene);
  s.cx.assign(s.area.size(), 0);
  s.cy.assign(s.area.size(), 0);
  const std::int64_t w = scene.width();
  for (std::size_t p = 0; p < scene.object_map.size(); ++p) {
    const auto id = static_cast<std::size_t>(scene.object_map[p]);
    if (id == 0) continue;
    s.cx[id] += static_cast<double>(static_cast<std::int64_t>(p) % w) + 0.5;
    s.cy[id] += static_cast<double>(static_cast<std::int64_t>(p) / w) + 0.5;
  }
  for (std::size_t id = 1; id < s.area.size(); ++id)
    if (s.area[id] > 0) {
      s.cx[id] /= static_cast<double>(s.area[id]);
      s.cy[id] /= static_cast<double>(s.area[id]);
    }
  return s;
}

namespace detail {

/// The words of a noun phrase; patterns are sometimes said after the noun ("with stripes").
inline std::string noun_phrase(const Description& d, bool plural, bool pattern_after,
                               std::string_view extreme = {}) {
  std::string s;
  const auto add = [&](std::string_view w) {
    if (!s.empty()) s += ' ';
    s += w;
  };
  if (!extreme.empty()) add(extreme);
  if (d.size) add(size_name(*d.size));
  const bool after = pattern_after && d.pattern && *d.pattern != Pattern::solid;
  if (d.pattern && !after) add(pattern_name(*d.pattern));
  if (d.colour) add(colour_name(*d.colour));
  if (d.kind)
    add(plural ? shape_plural(*d.kind) : shape_name(*d.kind));
  else
    add(plural ? "shapes" : "shape");
  if (after) add(*d.pattern == Pattern::striped ? "with stripes" : "with dots");
  return s;
}

inline std::string_view relation_words(Relation r, bool alt) {
  switch (r) {
    case Relation::left_of:
      return alt ? "to the left of" : "left of";
    case Relation::right_of:
      return alt ? "to the right of" : "right of";
    case Relation::above:
      return "above";
    case Relation::below:
      return alt ? "under" : "below";
  }
  return "";
}

inline std::string_view extreme_word(Extreme e) {
  constexpr std::array<std::string_view, 6> words = {"leftmost",   "rightmost", "topmost",
                                                     "bottommost", "biggest",   "smallest"};
  return words[static_cast<int>(e)];
}

/// Signed amount by which a is `r` of b (positive = satisfied), in pixels.
inline double relation_margin(const ObjectStats& s, int a, int b, Relation r) {
  const auto ia = static_cast<std::size_t>(a), ib = static_cast<std::size_t>(b);
  switch (r) {
    case Relation::left_of:
      return s.cx[ib] - s.cx[ia];
    case Relation::right_of:
      return s.cx[ia] - s.cx[ib];
    case Relation::above:
      return s.cy[ib] - s.cy[ia];
    case Relation::below:
      return s.cy[ia] - s.cy[ib];
  }
  return 0;
}

/// Score that the extreme maximises (position or area).
inline double extreme_score(const ObjectStats& s, int id, Extreme e) {
  const auto i = static_cast<std::size_t>(id);
  switch (e) {
    case Extreme::leftmost:
      return -s.cx[i];
    case Extreme::rightmost:
      return s.cx[i];
    case Extreme::topmost:
      return -s.cy[i];
    case Extreme::bottommost:
      return s.cy[i];
    case Extreme::biggest:
      return std::log(static_cast<double>(s.area[i]));
    case Extreme::smallest:
      return -std::log(static_cast<double>(s.area[i]));
  }
  return 0;
}

/// The 16 descriptions of an object: every subset of {size, pattern, colour} with or without kind.
inline std::vector<Description> descriptions_of(const Object& o) {
  std::vector<Description> out;
  for (int mask = 0; mask < 16; ++mask) {
    Description d;
    if (mask & 1) d.size = o.size;
    if (mask & 2) d.pattern = o.pattern;
    if (mask & 4) d.colour = o.colour;
    if (mask & 8) d.kind = o.kind;
    out.push_back(d);
  }
  return out;
}

inline std::vector<int> matching(const Scene& scene, const Description& d) {
  std::vector<int> ids;
  for (const Object& o : scene.objects)
    if (d.matches(o)) ids.push_back(o.id);
  return ids;
}

inline int named_attributes(const Description& d) {
  return int(d.size.has_value()) + int(d.pattern.has_value()) + int(d.colour.has_value()) +
         int(d.kind.has_value());
}

}  // namespace detail

/// Margins that make relations and extremes unambiguous: positions differ by at least
/// `position_margin` x min(H, W) pixels, areas by a factor of at least `area_ratio`.
struct ReferringOptions {
  int max_sentences = 5;
  double position_margin = 0.06;
  double area_ratio = 1.3;
};

/// Sentences (lower case, no final period) that each refer to exactly one object, per object
/// (objects with no unambiguous sentence are left out).
inline std::vector<Referent> referring_expressions(const Scene& scene,
                                                   const ReferringOptions& opt = {}) {
  Draws d(scene.options.seed, scene.index, Purpose::referring);
  const ObjectStats stats = object_stats(scene);
  const double margin =
      opt.position_margin * static_cast<double>(std::min(scene.height(), scene.width()));
  std::vector<Referent> out;
  for (const Object& o : scene.objects) {
    Referent r{o.id, {}};
    const auto push = [&](std::string s) {
      if (static_cast<int>(r.sentences.size()) >= opt.max_sentences) return;
      if (std::find(r.sentences.begin(), r.sentences.end(), s) == r.sentences.end())
        r.sentences.push_back(std::move(s));
    };
    // 1. Unique attribute combinations: the shortest one and the full one, then others.
    std::vector<Description> unique;
    for (const Description& desc : detail::descriptions_of(o))
      if (detail::named_attributes(desc) > 0 && detail::matching(scene, desc).size() == 1)
        unique.push_back(desc);
    std::stable_sort(unique.begin(), unique.end(), [](const Description& a, const Description& b) {
      return detail::named_attributes(a) < detail::named_attributes(b);
    });
    if (!unique.empty()) {
      push("the " + detail::noun_phrase(unique.front(), false, d.chance(0.3)));
      push("the " + detail::noun_phrase(unique.back(), false, d.chance(0.5)));
      if (unique.size() > 2)
        push(detail::noun_phrase(
            unique[static_cast<std::size_t>(d.integer(1, int(unique.size()) - 2))], false,
            d.chance(0.5)));
    }
    // 2. Extremes among the objects of one description (the kind, or all shapes).
    for (const Description& group : {Description{{}, {}, {}, o.kind}, Description{}}) {
      const std::vector<int> ids = detail::matching(scene, group);
      if (ids.size() < 2) continue;
      for (int e = 0; e < 6; ++e) {
        const auto ex = static_cast<Extreme>(e);
        const double mine = detail::extreme_score(stats, o.id, ex);
        double best_other = -1e300;
        for (const int id : ids)
          if (id != o.id) best_other = std::max(best_other, detail::extreme_score(stats, id, ex));
        const bool area = ex == Extreme::biggest || ex == Extreme::smallest;
        const double need = area ? std::log(opt.area_ratio) : margin;
        if (mine - best_other >= need && d.chance(0.6))
          push("the " + detail::noun_phrase(group, false, false, detail::extreme_word(ex)));
      }
    }
    // 3. Relations to an anchor that has a unique description: every other object of the
    // target's kind must lie clearly on the other side.
    for (const Object& anchor : scene.objects) {
      if (anchor.id == o.id) continue;
      std::optional<Description> anchor_desc;
      for (const Description& desc : detail::descriptions_of(anchor))
        if (detail::named_attributes(desc) > 0 && detail::named_attributes(desc) <= 2 &&
            desc.kind && detail::matching(scene, desc).size() == 1) {
          anchor_desc = desc;
          break;
        }
      if (!anchor_desc) continue;
      const Description target{{}, {}, {}, o.kind};
      for (int rel = 0; rel < 4; ++rel) {
        const auto rr = static_cast<Relation>(rel);
        if (detail::relation_margin(stats, o.id, anchor.id, rr) < margin) continue;
        bool clear = true;
        for (const int id : detail::matching(scene, target))
          if (id != o.id && id != anchor.id &&
              detail::relation_margin(stats, id, anchor.id, rr) > -margin)
            clear = false;
        if (clear && d.chance(0.5))
          push("the " + detail::noun_phrase(target, false, false) + " " +
               std::string(detail::relation_words(rr, d.chance(0.5))) + " the " +
               detail::noun_phrase(*anchor_desc, false, d.chance(0.3)));
      }
    }
    if (!r.sentences.empty()) out.push_back(std::move(r));
  }
  return out;
}

/// Generalized referring expressions: several targets ("all green shapes", "the two circles")
/// and no target (attributes of the scene recombined so that nothing matches). In `train`
/// scenes no-target phrases never name a held-out shape or colour-shape pair.
inline std::vector<GeneralizedExpression> generalized_expressions(const Scene& scene,
                                                                  int max_count = 6) {
  Draws d(scene.options.seed, scene.index, Purpose::extra);
  std::vector<GeneralizedExpression> out;
  const auto push = [&](std::string s, std::vector<int> t) {
    if (static_cast<int>(out.size()) >= max_count) return;
    for (const auto& e : out)
      if (e.sentence == s) return;
    out.push_back({std::move(s), std::move(t)});
  };
  constexpr std::array<std::string_view, 4> kCount = {"", "", "two", "three"};
  // Several targets: groups by colour, by kind, by pattern.
  std::vector<Description> groups;
  for (const Object& o : scene.objects) {
    groups.push_back(Description{{}, {}, o.colour, {}});
    groups.push_back(Description{{}, {}, {}, o.kind});
    groups.push_back(Description{{}, o.pattern, {}, {}});
  }
  for (const Description& g : groups) {
    const std::vector<int> ids = detail::matching(scene, g);
    if (ids.size() < 2) continue;
    bool repeated = false;  // one sentence per target set
    for (const auto& e : out) repeated = repeated || e.targets == ids;
    if (repeated) continue;
    if (ids.size() <= 3 && d.chance(0.5))
      push("the " + std::string(kCount[ids.size()]) + " " + detail::noun_phrase(g, true, false),
           ids);
    else
      push("all " + detail::noun_phrase(g, true, false), ids);
  }
  // No target: a colour (or pattern) from one object with the kind of another.
  for (int attempt = 0; attempt < 40 && static_cast<int>(out.size()) < max_count; ++attempt) {
    if (scene.objects.empty()) break;
    Description g;
    g.kind = static_cast<ShapeKind>(d.integer(0, kNumShapes - 1));
    const Object& a =
        scene.objects[static_cast<std::size_t>(d.integer(0, int(scene.objects.size()) - 1))];
    if (d.chance(0.7))
      g.colour = a.colour;
    else
      g.colour = static_cast<Colour>(d.integer(0, kNumColours - 1));
    if (d.chance(0.3)) g.pattern = static_cast<Pattern>(d.integer(0, kNumPatterns - 1));
    if (scene.options.split == Split::train && is_held_out(*g.kind, *g.colour)) continue;
    if (!detail::matching(scene, g).empty()) continue;
    push("the " + detail::noun_phrase(g, false, d.chance(0.3)), {});
    if (d.chance(0.5)) break;
  }
  return out;
}

}  // namespace psalm::data::synthetic
