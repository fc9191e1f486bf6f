// psalm/eval/video.hpp — semi-supervised video object segmentation metrics of the DAVIS 2017
// toolkit: region similarity J, boundary F-measure F (seg2bmap + disk matching), per-object
// mean / recall / decay over the frames between the first and the last, and J&F.
// Depends on: eval/mask_view.hpp, core/error.hpp. Test: tests/eval/test_video.cpp (fixtures
// from tools/reference/video_fixtures.py).
#pragma once

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/eval/mask_view.hpp"

namespace psalm::eval {

/// Region similarity J: |pred & gt| / |pred | gt|, 1 when both are empty.
/// ref: davis2017-evaluation davis2017/metrics.py (db_eval_iou, no void pixels).
inline double region_similarity(const MaskView& pred, const MaskView& gt) {
  check_view(pred, "predicted mask");
  check_view(gt, "ground-truth mask");
  PSALM_CHECK(pred.height == gt.height && pred.width == gt.width,
              "region similarity: prediction is ", pred.height, " x ", pred.width,
              " but ground truth is ", gt.height, " x ", gt.width);
  std::int64_t inter = 0, uni = 0;
  for (std::int64_t i = 0; i < pred.size(); ++i) {
    const bool p = pred.data[i] != 0, g = gt.data[i] != 0;
    inter += p && g;
    uni += p || g;
  }
  return uni == 0 ? 1.0 : static_cast<double>(inter) / static_cast<double>(uni);
}

/// The toolkit's one-pixel boundary map (H x W, 0/1): a pixel is on the boundary when it differs
/// from its east, south or south-east neighbour (outside the image counts as 0); the last row
/// compares only with the east neighbour, the last column only with the south one, and the
/// bottom-right pixel is never a boundary. ref: davis2017/metrics.py (_seg2bmap, same size).
inline std::vector<std::uint8_t> seg2bmap(const MaskView& seg) {
  check_view(seg, "mask");
  const std::int64_t h = seg.height, w = seg.width;
  std::vector<std::uint8_t> b(static_cast<std::size_t>(h * w), 0);
  for (std::int64_t y = 0; y + 1 < h; ++y) {
    const std::uint8_t* row = seg.data + y * w;
    const std::uint8_t* below = row + w;
    std::uint8_t* out = b.data() + y * w;
    for (std::int64_t x = 0; x + 1 < w; ++x) {
      const bool s0 = row[x] != 0;
      out[x] = s0 != (row[x + 1] != 0) || s0 != (below[x] != 0) || s0 != (below[x + 1] != 0);
    }
    out[w - 1] = (row[w - 1] != 0) != (below[w - 1] != 0);  // last column: south only
  }
  if (h > 0) {  // last row: east only; the bottom-right pixel stays 0
    const std::uint8_t* row = seg.data + (h - 1) * w;
    std::uint8_t* out = b.data() + (h - 1) * w;
    for (std::int64_t x = 0; x + 1 < w; ++x) out[x] = (row[x] != 0) != (row[x + 1] != 0);
    if (w > 0) out[w - 1] = 0;
  }
  return b;
}

/// Radius in pixels of the matching disk: `bound_th` itself when >= 1 (must be a whole number),
/// else ceil(bound_th * sqrt(H^2 + W^2)). ref: davis2017/metrics.py (f_measure, bound_pix).
inline std::int64_t boundary_radius(std::int64_t height, std::int64_t width, double bound_th) {
  PSALM_CHECK(bound_th > 0, "boundary F-measure: bound_th must be positive, got ", bound_th);
  if (bound_th >= 1) {
    PSALM_CHECK(bound_th == std::floor(bound_th),
                "boundary F-measure: a pixel radius (bound_th >= 1) must be a whole number, got ",
                bound_th);
    return static_cast<std::int64_t>(bound_th);
  }
  const double diag = std::sqrt(static_cast<double>(height * height + width * width));
  return static_cast<std::int64_t>(std::ceil(bound_th * diag));
}

namespace detail {

/// Number of pixels set in `a` that have a pixel set in `b` within the disk
/// {(dy, dx): dy^2 + dx^2 <= r^2} (a binary dilation of `b` by skimage's disk(r), sampled at a).
inline std::int64_t count_matched(const std::vector<std::uint8_t>& a,
                                  const std::vector<std::uint8_t>& b, std::int64_t h,
                                  std::int64_t w, std::int64_t r) {
  // Row prefix sums of b: prefix[y * (w + 1) + x] = sum of b[y][0..x).
  std::vector<std::int32_t> prefix(static_cast<std::size_t>(h * (w + 1)), 0);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      prefix[static_cast<std::size_t>(y * (w + 1) + x + 1)] =
          prefix[static_cast<std::size_t>(y * (w + 1) + x)] +
          b[static_cast<std::size_t>(y * w + x)];
  std::vector<std::int64_t> half(static_cast<std::size_t>(r + 1));  // half width of row dy
  for (std::int64_t dy = 0; dy <= r; ++dy) {
    std::int64_t hw = 0;
    while ((hw + 1) * (hw + 1) + dy * dy <= r * r) ++hw;
    half[static_cast<std::size_t>(dy)] = hw;
  }
  std::int64_t matched = 0;
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t x = 0; x < w; ++x) {
      if (!a[static_cast<std::size_t>(y * w + x)]) continue;
      bool hit = false;
      for (std::int64_t dy = -r; dy <= r && !hit; ++dy) {
        const std::int64_t yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        const std::int64_t hw = half[static_cast<std::size_t>(dy < 0 ? -dy : dy)];
        const std::int64_t x0 = x - hw < 0 ? 0 : x - hw;
        const std::int64_t x1 = x + hw + 1 > w ? w : x + hw + 1;
        const std::int32_t* row = prefix.data() + yy * (w + 1);
        hit = row[x1] - row[x0] > 0;
      }
      matched += hit;
    }
  }
  return matched;
}

/// Boundary F-measure with an explicit disk radius `r` (pixels). The work is restricted to the
/// bounding box of pred | gt grown by one pixel on each side (clipped to the image): outside it
/// both boundary maps are 0, and the one-pixel margin keeps seg2bmap's last-row / last-column
/// rule where the image really ends, so the result equals the full-image computation.
inline double boundary_f_measure_radius(const MaskView& pred, const MaskView& gt, std::int64_t r) {
  const std::int64_t h = pred.height, w = pred.width;
  std::int64_t y0 = h, y1 = -1, x0 = w, x1 = -1;
  for (std::int64_t y = 0; y < h; ++y) {
    const std::uint8_t* p = pred.data + y * w;
    const std::uint8_t* g = gt.data + y * w;
    for (std::int64_t x = 0; x < w; ++x) {
      if ((p[x] | g[x]) == 0) continue;
      y0 = y < y0 ? y : y0;
      y1 = y;
      x0 = x < x0 ? x : x0;
      x1 = x > x1 ? x : x1;
    }
  }
  if (y1 < 0) return 1.0;  // no boundary on either side: P = R = 1
  y0 = y0 > 0 ? y0 - 1 : 0;
  x0 = x0 > 0 ? x0 - 1 : 0;
  y1 = y1 + 2 < h ? y1 + 2 : h;  // exclusive
  x1 = x1 + 2 < w ? x1 + 2 : w;
  const std::int64_t ch = y1 - y0, cw = x1 - x0;
  std::vector<std::uint8_t> pc(static_cast<std::size_t>(ch * cw)), gc(pc.size());
  for (std::int64_t y = 0; y < ch; ++y)
    for (std::int64_t x = 0; x < cw; ++x) {
      pc[static_cast<std::size_t>(y * cw + x)] = pred.data[(y0 + y) * w + x0 + x] != 0;
      gc[static_cast<std::size_t>(y * cw + x)] = gt.data[(y0 + y) * w + x0 + x] != 0;
    }
  const auto fg_b = seg2bmap(MaskView{pc.data(), ch, cw});
  const auto gt_b = seg2bmap(MaskView{gc.data(), ch, cw});
  std::int64_t n_fg = 0, n_gt = 0;
  for (std::size_t i = 0; i < fg_b.size(); ++i) {
    n_fg += fg_b[i];
    n_gt += gt_b[i];
  }
  double precision, recall;
  if (n_fg == 0 && n_gt > 0) {
    precision = 1.0;
    recall = 0.0;
  } else if (n_fg > 0 && n_gt == 0) {
    precision = 0.0;
    recall = 1.0;
  } else if (n_fg == 0 && n_gt == 0) {
    precision = recall = 1.0;
  } else {
    precision =
        static_cast<double>(count_matched(fg_b, gt_b, ch, cw, r)) / static_cast<double>(n_fg);
    recall = static_cast<double>(count_matched(gt_b, fg_b, ch, cw, r)) / static_cast<double>(n_gt);
  }
  return precision + recall == 0.0 ? 0.0 : 2.0 * precision * recall / (precision + recall);
}

}  // namespace detail

/// Boundary F-measure between a predicted and a gt mask. Precision = share of predicted
/// boundary pixels within the disk of a gt boundary pixel, recall the converse;
/// no predicted boundary: P = 1, R = 0 (both empty: P = R = 1); no gt boundary: P = 0, R = 1;
/// F = 2PR / (P + R), 0 when P + R = 0. ref: davis2017/metrics.py (f_measure, no void pixels).
inline double boundary_f_measure(const MaskView& pred, const MaskView& gt,
                                 double bound_th = 0.008) {
  check_view(pred, "predicted mask");
  check_view(gt, "ground-truth mask");
  PSALM_CHECK(pred.height == gt.height && pred.width == gt.width,
              "boundary F-measure: prediction is ", pred.height, " x ", pred.width,
              " but ground truth is ", gt.height, " x ", gt.width);
  const std::int64_t r = boundary_radius(pred.height, pred.width, bound_th);
  return detail::boundary_f_measure_radius(pred, gt, r);
}

/// Mean, recall (share of frames with value > 0.5) and decay of one object's per-frame values.
struct VideoStatistics {
  double mean = std::numeric_limits<double>::quiet_NaN();
  double recall = std::numeric_limits<double>::quiet_NaN();
  double decay = std::numeric_limits<double>::quiet_NaN();
};

/// Decay: the frames are cut into 4 bins with boundaries ids_i = round(1 + i (n - 1) / 4) - 1
/// (halves rounded up), bin i = values[ids_i .. ids_{i+1}] inclusive; decay = mean(bin 0) -
/// mean(bin 3). ref: davis2017/utils.py (db_statistics). The toolkit casts the ids to uint8,
/// which wraps for sequences longer than 256 evaluated frames; psalm does not wrap.
inline VideoStatistics video_statistics(std::span<const double> values) {
  const auto n = static_cast<std::int64_t>(values.size());
  PSALM_CHECK(n > 0, "video statistics: no frame values");
  VideoStatistics s;
  double sum = 0.0, above = 0.0;
  for (double v : values) {
    sum += v;
    above += v > 0.5 ? 1.0 : 0.0;
  }
  s.mean = sum / static_cast<double>(n);
  s.recall = above / static_cast<double>(n);
  std::int64_t ids[5];
  for (int i = 0; i < 5; ++i) {
    const double pos = 1.0 + static_cast<double>(i) * static_cast<double>(n - 1) / 4.0;
    ids[i] = static_cast<std::int64_t>(std::floor(pos + 1e-10 + 0.5)) - 1;
  }
  auto bin_mean = [&](std::int64_t from, std::int64_t to) {  // inclusive, clipped like slicing
    double acc = 0.0;
    std::int64_t cnt = 0;
    for (std::int64_t k = from; k <= to && k < n; ++k, ++cnt)
      acc += values[static_cast<std::size_t>(k)];
    return acc / static_cast<double>(cnt);
  };
  s.decay = bin_mean(ids[0], ids[1]) - bin_mean(ids[3], ids[4]);
  return s;
}

/// Scores of one object of one sequence over the evaluated frames.
struct ObjectScores {
  std::string sequence;
  std::int64_t object_id = 0;  // 1..K
  std::vector<double> j, f;    // (evaluated frames)
  VideoStatistics j_stats, f_stats;
};

struct VideoResult {
  std::string protocol;
  std::vector<ObjectScores> objects;
  double jf_mean = std::numeric_limits<double>::quiet_NaN();
  double j_mean = std::numeric_limits<double>::quiet_NaN(), j_recall = j_mean, j_decay = j_mean;
  double f_mean = j_mean, f_recall = j_mean, f_decay = j_mean;

  /// The toolkit's global table, then J-Mean / F-Mean per object (`sequence_k`).
  std::string to_string() const {
    std::ostringstream s;
    s << protocol << "\n" << std::fixed << std::setprecision(3);
    s << "J&F-Mean   J-Mean J-Recall  J-Decay   F-Mean F-Recall  F-Decay   (percent)\n";
    for (const double v : {jf_mean, j_mean, j_recall, j_decay, f_mean, f_recall})
      s << std::setw(8) << 100.0 * v << " ";
    s << std::setw(8) << 100.0 * f_decay << "\n";
    s << "object  J-Mean  F-Mean   (percent)\n";
    for (const auto& o : objects)
      s << o.sequence << "_" << o.object_id << "  " << 100.0 * o.j_stats.mean << "  "
        << 100.0 * o.f_stats.mean << "\n";
    return s.str();
  }
};

/// The most objects one sequence may have (ids 1..K of the first annotation): indexed PNGs
/// hold up to 255, 16-bit label PNGs up to 65535.
inline constexpr std::int64_t kMaxVideoObjects = 65535;

struct VideoProtocol {
  double bound_th = 0.008;          // F matching radius: ratio of the diagonal, or pixels if >= 1
  bool skip_first_and_last = true;  // semi-supervised DAVIS: frames 1 .. T-2 are scored
  std::int32_t void_label = 255;    // gt value turned into background (toolkit: 255)
};

/// Semi-supervised DAVIS evaluation over indexed annotations (0 = background, 1..K objects).
/// Per sequence: K = the largest id in the first gt frame; gt void pixels become background and
/// gt ids above K are ignored; predictions may use ids 0..K only (an id above K is an error, as
/// the toolkit stops there), and an object the prediction never names scores as empty masks.
/// ref: davis2017-evaluation davis2017/evaluation.py (_evaluate_semisupervised, evaluate),
/// evaluation_method.py (global means).
class VideoEvaluator {
 public:
  explicit VideoEvaluator(VideoProtocol protocol = {}) : protocol_(protocol) {
    PSALM_CHECK(protocol_.bound_th > 0, "video evaluation: bound_th must be positive");
  }

  void reset() { objects_.clear(); }

  /// Adds one sequence: `pred[t]` and `gt[t]` are the indexed masks of frame t (all frames,
  /// including the first and last; they are skipped here when the protocol says so).
  void add_sequence(const std::string& name, std::span<const LabelView> pred,
                    std::span<const LabelView> gt) {
    PSALM_CHECK(pred.size() == gt.size(), "video evaluation: sequence '", name, "' has ",
                pred.size(), " predicted frames but ", gt.size(), " annotated frames");
    const std::size_t first = protocol_.skip_first_and_last ? 1 : 0;
    PSALM_CHECK(gt.size() >= first * 2 + 1, "video evaluation: sequence '", name, "' has ",
                gt.size(), " frames; at least ", first * 2 + 1, " are needed");
    const std::size_t last = gt.size() - first;  // exclusive
    check_view(gt[0], "first ground-truth frame");
    const std::int64_t h = gt[0].height, w = gt[0].width;
    std::int64_t k = 0;
    for (std::size_t t = 0; t < gt.size(); ++t) {
      check_view(gt[t], "ground-truth frame");
      check_view(pred[t], "predicted frame");
      PSALM_CHECK(gt[t].height == h && gt[t].width == w, "video evaluation: sequence '", name,
                  "' gt frame ", t, " is ", gt[t].height, " x ", gt[t].width, ", frame 0 is ", h,
                  " x ", w);
      for (std::int64_t i = 0; i < gt[t].size(); ++i) {
        const std::int32_t g = gt[t].data[i];
        PSALM_CHECK(g >= 0, "video evaluation: sequence '", name, "' gt frame ", t,
                    " has a negative id ", g);
        if (t == 0 && g != protocol_.void_label && g > k) k = g;
      }
    }
    PSALM_CHECK(k <= kMaxVideoObjects, "video evaluation: sequence '", name,
                "' first annotation has object id ", k, ", more than ", kMaxVideoObjects,
                " objects");
    for (std::size_t t = first; t < last; ++t) {
      PSALM_CHECK(pred[t].height == h && pred[t].width == w, "video evaluation: sequence '", name,
                  "' predicted frame ", t, " is ", pred[t].height, " x ", pred[t].width,
                  " but its annotation is ", h, " x ", w);
      for (std::int64_t i = 0; i < pred[t].size(); ++i) {
        const std::int32_t p = pred[t].data[i];
        if (p < 0 || p > k) [[unlikely]] {
          if (k == 0)
            fail("video evaluation: sequence '", name, "' predicted frame ", t, " uses object id ",
                 p, " but the first annotation has no objects (only background)");
          fail("video evaluation: sequence '", name, "' predicted frame ", t, " uses object id ", p,
               " but the first annotation has objects 1..", k);
        }
      }
    }
    const std::size_t frames = last - first;
    std::vector<ObjectScores> scores(static_cast<std::size_t>(k));
    for (std::int64_t obj = 1; obj <= k; ++obj) {
      auto& s = scores[static_cast<std::size_t>(obj - 1)];
      s.sequence = name;
      s.object_id = obj;
      s.j.reserve(frames);
      s.f.reserve(frames);
    }
    // Per frame: one pass finds each object's bounding box over pred | gt; J and F are then
    // computed on that box grown by one pixel (see detail::boundary_f_measure_radius), with the
    // disk radius of the full frame.
    const std::int64_t radius = boundary_radius(h, w, protocol_.bound_th);
    std::vector<std::int64_t> box(static_cast<std::size_t>(4 * k));  // (K, 4) y0 y1 x0 x1
    std::vector<std::uint8_t> pm, gm;
    for (std::size_t t = first; t < last; ++t) {
      for (std::int64_t obj = 0; obj < k; ++obj) {
        std::int64_t* bx = box.data() + 4 * obj;
        bx[0] = h, bx[1] = -1, bx[2] = w, bx[3] = -1;
      }
      auto grow = [&](std::int64_t id, std::int64_t y, std::int64_t x) {
        if (id < 1 || id > k) return;
        std::int64_t* bx = box.data() + 4 * (id - 1);
        bx[0] = y < bx[0] ? y : bx[0];
        bx[1] = y;
        bx[2] = x < bx[2] ? x : bx[2];
        bx[3] = x > bx[3] ? x : bx[3];
      };
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
          grow(pred[t].data[y * w + x], y, x);
          grow(gt[t].data[y * w + x], y, x);  // void (255) and ids above K are skipped
        }
      for (std::int64_t obj = 1; obj <= k; ++obj) {
        auto& s = scores[static_cast<std::size_t>(obj - 1)];
        const std::int64_t* bx = box.data() + 4 * (obj - 1);
        if (bx[1] < 0) {  // absent from both: J = 1 and F = 1 (no boundary on either side)
          s.j.push_back(1.0);
          s.f.push_back(1.0);
          continue;
        }
        const std::int64_t y0 = bx[0] > 0 ? bx[0] - 1 : 0, x0 = bx[2] > 0 ? bx[2] - 1 : 0;
        const std::int64_t y1 = bx[1] + 2 < h ? bx[1] + 2 : h, x1 = bx[3] + 2 < w ? bx[3] + 2 : w;
        const std::int64_t ch = y1 - y0, cw = x1 - x0;
        pm.resize(static_cast<std::size_t>(ch * cw));
        gm.resize(pm.size());
        for (std::int64_t y = 0; y < ch; ++y)
          for (std::int64_t x = 0; x < cw; ++x) {
            const std::int64_t src = (y0 + y) * w + x0 + x;
            pm[static_cast<std::size_t>(y * cw + x)] = pred[t].data[src] == obj;
            gm[static_cast<std::size_t>(y * cw + x)] = gt[t].data[src] == obj;
          }
        const MaskView pv{pm.data(), ch, cw}, gv{gm.data(), ch, cw};
        s.j.push_back(region_similarity(pv, gv));
        s.f.push_back(detail::boundary_f_measure_radius(pv, gv, radius));
      }
    }
    for (auto& s : scores) {
      s.j_stats = video_statistics(s.j);
      s.f_stats = video_statistics(s.f);
      objects_.push_back(std::move(s));
    }
  }

  /// Global numbers: means over all objects of all sequences of the per-object statistics;
  /// J&F = (J-Mean + F-Mean) / 2.
  VideoResult result() const {
    VideoResult r;
    r.protocol = describe_protocol();
    r.objects = objects_;
    if (objects_.empty()) return r;
    double jm = 0, jr = 0, jd = 0, fm = 0, fr = 0, fd = 0;
    for (const auto& o : objects_) {
      jm += o.j_stats.mean;
      jr += o.j_stats.recall;
      jd += o.j_stats.decay;
      fm += o.f_stats.mean;
      fr += o.f_stats.recall;
      fd += o.f_stats.decay;
    }
    const auto n = static_cast<double>(objects_.size());
    r.j_mean = jm / n;
    r.j_recall = jr / n;
    r.j_decay = jd / n;
    r.f_mean = fm / n;
    r.f_recall = fr / n;
    r.f_decay = fd / n;
    r.jf_mean = (r.j_mean + r.f_mean) / 2.0;
    return r;
  }

  std::string describe_protocol() const {
    std::ostringstream s;
    s << "video object segmentation (DAVIS 2017 toolkit, semi-supervised): J = IoU (both empty "
         "-> 1); F = boundary F-measure, seg2bmap boundaries matched within a disk of radius ";
    if (protocol_.bound_th >= 1)
      s << protocol_.bound_th << " px";
    else
      s << "ceil(" << protocol_.bound_th << " * image diagonal)";
    s << "; frames scored: "
      << (protocol_.skip_first_and_last ? "all but the first and last" : "all") << "; gt void "
      << protocol_.void_label
      << " -> background; per object mean, recall (> 0.5), decay (4 bins); global = mean over "
         "objects, J&F = (J-Mean + F-Mean) / 2";
    return s.str();
  }

  const std::vector<ObjectScores>& objects() const { return objects_; }

 private:
  VideoProtocol protocol_;
  std::vector<ObjectScores> objects_;
};

}  // namespace psalm::eval
