// psalm/data/synthetic/resolver.hpp — an independent resolver of referring expressions: parses
// the sentence text of the grammar in referring.hpp back into a query (determiner, attributes,
// noun, extreme, relation to an anchor phrase) and evaluates it over the scene's visible masks.
// It shares no code with the generator beyond the vocabulary, so tests can check that every
// generated sentence means what it was generated for. Unknown words are an error.
// Depends on: scene, vocabulary. Test: tests/data/test_synthetic_referring.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/data/synthetic/scene.hpp"
#include "psalm/data/synthetic/vocabulary.hpp"

namespace psalm::data::synthetic {

namespace resolver_detail {

struct Phrase {
  int size = -1, pattern = -1, colour = -1, kind = -1;  // -1: not named
  std::string extreme;                                  // empty: none
};

struct Stats {
  std::vector<std::int64_t> area;
  std::vector<double> sx, sy;  // coordinate sums, then means
};

inline Stats measure(const Scene& scene) {
  Stats s;
  std::size_t n = 1;
  for (const Object& o : scene.objects) n = std::max(n, static_cast<std::size_t>(o.id) + 1);
  s.area.assign(n, 0);
  s.sx.assign(n, 0);
  s.sy.assign(n, 0);
  for (std::int64_t y = 0; y < scene.height(); ++y)
    for (std::int64_t x = 0; x < scene.width(); ++x) {
      const auto id = static_cast<std::size_t>(
          scene.object_map[static_cast<std::size_t>(y * scene.width() + x)]);
      ++s.area[id];
      s.sx[id] += static_cast<double>(x) + 0.5;
      s.sy[id] += static_cast<double>(y) + 0.5;
    }
  for (std::size_t i = 0; i < n; ++i)
    if (s.area[i] > 0) {
      s.sx[i] /= static_cast<double>(s.area[i]);
      s.sy[i] /= static_cast<double>(s.area[i]);
    }
  return s;
}

template <class Table>
int find_word(const Table& table, const std::string& w) {
  for (std::size_t i = 0; i < table.size(); ++i)
    if (table[i] == w) return static_cast<int>(i);
  return -1;
}

/// Parses words[pos...] as [extreme] {size|pattern|colour}* noun [with stripes|with dots].
inline Phrase parse_phrase(const std::vector<std::string>& words, std::size_t& pos) {
  Phrase p;
  const std::vector<std::string> extremes = {"leftmost",   "rightmost", "topmost",
                                             "bottommost", "biggest",   "smallest"};
  for (; pos < words.size(); ++pos) {
    const std::string& w = words[pos];
    if (find_word(extremes, w) >= 0) {
      p.extreme = w;
      continue;
    }
    if (const int s = find_word(kSizeNames, w); s >= 0) {
      p.size = s;
      continue;
    }
    if (const int t = find_word(kPatternNames, w); t >= 0) {
      p.pattern = t;
      continue;
    }
    bool colour = false;
    for (int c = 0; c < kNumColours; ++c)
      if (kColours[c].name == w) p.colour = c, colour = true;
    if (colour) continue;
    break;
  }
  PSALM_CHECK(pos < words.size(), "resolver: missing noun");
  const std::string& noun = words[pos++];
  if (noun != "shape" && noun != "shapes" && noun != "object" && noun != "objects") {
    for (int k = 0; k < kNumShapes; ++k)
      if (kShapes[k].name == noun || kShapes[k].plural == noun) p.kind = k;
    PSALM_CHECK(p.kind >= 0, "resolver: unknown noun '", noun, "'");
  }
  if (pos + 1 < words.size() && words[pos] == "with") {
    PSALM_CHECK(words[pos + 1] == "stripes" || words[pos + 1] == "dots",
                "resolver: 'with' must be followed by stripes or dots, got ", words[pos + 1]);
    p.pattern = words[pos + 1] == "stripes" ? 1 : 2;
    pos += 2;
  }
  return p;
}

inline std::vector<int> candidates(const Scene& scene, const Stats& st, const Phrase& p) {
  std::vector<int> ids;
  for (const Object& o : scene.objects) {
    if (st.area[static_cast<std::size_t>(o.id)] == 0) continue;
    if (p.size >= 0 && static_cast<int>(o.size) != p.size) continue;
    if (p.pattern >= 0 && static_cast<int>(o.pattern) != p.pattern) continue;
    if (p.colour >= 0 && static_cast<int>(o.colour) != p.colour) continue;
    if (p.kind >= 0 && static_cast<int>(o.kind) != p.kind) continue;
    ids.push_back(o.id);
  }
  return ids;
}

inline std::vector<int> apply_extreme(const Stats& st, const std::string& extreme,
                                      std::vector<int> ids) {
  if (extreme.empty() || ids.empty()) return ids;
  const auto key = [&](int id) {
    const auto i = static_cast<std::size_t>(id);
    if (extreme == "leftmost") return st.sx[i];
    if (extreme == "rightmost") return -st.sx[i];
    if (extreme == "topmost") return st.sy[i];
    if (extreme == "bottommost") return -st.sy[i];
    if (extreme == "biggest") return -static_cast<double>(st.area[i]);
    return static_cast<double>(st.area[i]);  // smallest
  };
  return {*std::min_element(ids.begin(), ids.end(), [&](int a, int b) { return key(a) < key(b); })};
}

}  // namespace resolver_detail

/// The object ids a sentence of the synthetic grammar refers to (sorted). "the ..." returns every
/// object that fits (one when the sentence is unambiguous, none when nothing fits); "all ..." and
/// "the two / three ..." every object that fits. Throws psalm::Error for words outside the grammar.
inline std::vector<int> resolve_expression(const Scene& scene, const std::string& sentence) {
  using namespace resolver_detail;
  std::vector<std::string> words;
  {
    std::string cleaned;
    for (const char c : sentence)
      cleaned += (c == '.' || c == ',')
                     ? ' '
                     : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::istringstream in(cleaned);
    for (std::string w; in >> w;) words.push_back(w);
  }
  PSALM_CHECK(!words.empty(), "resolver: empty sentence");
  std::size_t pos = 0;
  if (words[pos] == "all")
    ++pos;
  else if (words[pos] == "the") {
    ++pos;
    if (pos < words.size() && (words[pos] == "two" || words[pos] == "three")) ++pos;
  }
  const Stats st = measure(scene);
  const Phrase target = parse_phrase(words, pos);
  std::vector<int> ids = candidates(scene, st, target);
  if (pos < words.size()) {
    // Relation: [to the] left of | [to the] right of | above | below | under, then "the" phrase.
    std::string rel;
    if (words[pos] == "to" && pos + 2 < words.size() && words[pos + 1] == "the") pos += 2;
    if ((words[pos] == "left" || words[pos] == "right") && pos + 1 < words.size() &&
        words[pos + 1] == "of") {
      rel = words[pos];
      pos += 2;
    } else if (words[pos] == "above" || words[pos] == "below" || words[pos] == "under") {
      rel = words[pos] == "under" ? "below" : words[pos];
      ++pos;
    }
    PSALM_CHECK(!rel.empty(), "resolver: expected a relation at '", words[pos], "' in '", sentence,
                "'");
    if (pos < words.size() && words[pos] == "the") ++pos;
    const Phrase anchor_phrase = parse_phrase(words, pos);
    const std::vector<int> anchors =
        apply_extreme(st, anchor_phrase.extreme, candidates(scene, st, anchor_phrase));
    PSALM_CHECK(anchors.size() == 1, "resolver: the anchor of '", sentence, "' matches ",
                anchors.size(), " objects");
    const auto a = static_cast<std::size_t>(anchors.front());
    std::vector<int> kept;
    for (const int id : ids) {
      const auto i = static_cast<std::size_t>(id);
      if (i == a) continue;
      const bool ok = rel == "left"    ? st.sx[i] < st.sx[a]
                      : rel == "right" ? st.sx[i] > st.sx[a]
                      : rel == "above" ? st.sy[i] < st.sy[a]
                                       : st.sy[i] > st.sy[a];
      if (ok) kept.push_back(id);
    }
    ids = kept;
  }
  PSALM_CHECK(pos == words.size(), "resolver: unexpected words after position ", pos, " in '",
              sentence, "'");
  ids = apply_extreme(st, target.extreme, ids);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace psalm::data::synthetic
