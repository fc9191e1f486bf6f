// psalm/psalm/matcher.hpp — a generic Hungarian matcher for set prediction (PSALM_SPEC §4.1):
// cost terms are composable functors on one image's point-sampled predictions and targets
// (class -softmax probability, mask BCE, dice; add your own), weighted, summed and solved with
// linear_sum_assignment. PSALM's matcher is `HungarianMatcher::psalm(MatcherConfig)`.
// Depends on: psalm/point_sampling, psalm/linear_assignment, psalm/targets, autograd/ops/softmax,
// io/json_config. Test: tests/psalm/test_criterion.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/autograd/ops/index_select.hpp"
#include "psalm/autograd/ops/softmax.hpp"
#include "psalm/core/error.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/psalm/linear_assignment.hpp"
#include "psalm/psalm/point_sampling.hpp"
#include "psalm/psalm/targets.hpp"
#include "psalm/tensor/assign.hpp"  // the program picks the backend

namespace psalm {

// Letters: B batch, Q predictions (queries) per image, N targets of one image, C classes,
// H W predicted mask plane, Ht Wt target mask plane, P matcher points.

/// The matcher's weights and point count; JSON keys as below (PsalmConfig's "matcher").
/// ref: llava_phi.py mask_decoder_training_init (cost_* = the loss weights CLASS_WEIGHT 2,
/// MASK_WEIGHT 5, DICE_WEIGHT 5; num_points = TRAIN_NUM_POINTS 112 * 112).
struct MatcherConfig {
  double cost_class = 2.0;
  double cost_mask = 5.0;
  double cost_dice = 5.0;
  /// Weight of RegionCost (a query's region score for the region whose target it would take;
  /// interactive batches). 0 is upstream, which matches interactive batches on mask costs only;
  /// then every query whose mask fits is an equally good match and the region target flips
  /// between such duplicates from step to step (docs/results.md, "Why the tiny model learnt
  /// slowly").
  double cost_region = 0.0;
  std::int64_t num_points = 12544;  ///< uniform points per image shared by all its masks

  static MatcherConfig from_json(const io::ConfigReader& r) {
    MatcherConfig c;
    r.read("cost_class", c.cost_class);
    r.read("cost_mask", c.cost_mask);
    r.read("cost_dice", c.cost_dice);
    r.read("cost_region", c.cost_region);
    r.read("num_points", c.num_points);
    c.validate(r.source());
    return c;
  }

  /// Throws a psalm::Error naming `source` and the field for a value the matcher cannot use.
  void validate(const std::string& source = "MatcherConfig") const {
    for (const auto& [name, v] : {std::pair<const char*, double>{"cost_class", cost_class},
                                  {"cost_mask", cost_mask},
                                  {"cost_dice", cost_dice},
                                  {"cost_region", cost_region}})
      PSALM_CHECK(std::isfinite(v) && v >= 0.0, source, ": matcher.", name,
                  " must be finite and >= 0, got ", v);
    PSALM_CHECK(cost_class != 0.0 || cost_mask != 0.0 || cost_dice != 0.0 || cost_region != 0.0,
                source, ": the matcher's costs cannot all be 0");
    PSALM_CHECK(num_points > 0, source, ": matcher.num_points must be positive, got ", num_points);
  }
};

/// The matching of one image: pairs (queries[i], targets[i]), queries strictly ascending (as
/// scipy's linear_sum_assignment returns rows); min(Q, N) pairs.
struct Matching {
  std::vector<std::int64_t> queries;
  std::vector<std::int64_t> targets;

  std::size_t size() const { return queries.size(); }
  bool operator==(const Matching&) const = default;
};

/// What the cost terms of one image read.
template <autograd::Real T, Device Dev = cpu>
struct MatchInputs {
  Tensor<T, Dev> pred_points;        ///< (Q, P) predicted mask logits at the image's points
  Tensor<T, Dev> target_points;      ///< (N, P) target masks at the same points
  Tensor<T, Dev> class_logits;       ///< (Q, C), or undefined when the model has none
  std::vector<std::int64_t> labels;  ///< (N) class index per target, or empty
  /// (Q, N) each query's region logit for the region of each target (interactive: target n is
  /// region n's), or undefined: what RegionCost reads.
  Tensor<T, Dev> region_logits;

  std::int64_t queries() const { return pred_points.size(0); }
  std::int64_t targets() const { return target_points.size(0); }
};

/// One image's MatchInputs: predicted mask logits (Q, H, W) and target masks (N, Ht, Wt), both
/// point-sampled at the same `points` (P, 2) in [0, 1] (each plane in its own normalised
/// coordinates, as upstream's point_sample).
template <autograd::Real T, Device Dev>
MatchInputs<T, Dev> sample_match_inputs(const Tensor<T, Dev>& pred_masks,
                                        const Tensor<T, Dev>& target_masks,
                                        const Tensor<T, Dev>& points,
                                        Tensor<T, Dev> class_logits = {},
                                        std::vector<std::int64_t> labels = {}) {
  PSALM_CHECK(pred_masks.rank() == 3, "matcher: predicted masks must be (Q, H, W), got ",
              pred_masks.shape());
  PSALM_CHECK(target_masks.rank() == 3, "matcher: target masks must be (N, Ht, Wt), got ",
              target_masks.shape());
  PSALM_CHECK(points.rank() == 2 && points.size(1) == 2,
              "matcher: points must be (P, 2) (x, y) in [0, 1], got ", points.shape());
  const std::int64_t q = pred_masks.size(0), n = target_masks.size(0), p = points.size(0);
  const Tensor<T, Dev> pts = points.unsqueeze(0);  // (1, P, 2)
  MatchInputs<T, Dev> in;
  // All masks of the image are channels of one sample: one set of points for all of them.
  in.pred_points = point_sample_values(pred_masks.unsqueeze(0), pts).view({q, p});  // (Q, P)
  in.target_points =
      n == 0 ? Tensor<T, Dev>::zeros({0, p})
             : point_sample_values(target_masks.unsqueeze(0), pts).view({n, p});  // (N, P)
  in.class_logits = std::move(class_logits);
  in.labels = std::move(labels);
  return in;
}

/// A cost term: MatchInputs -> (Q, N) cost, or an undefined tensor when the term does not
/// apply to these inputs (then it adds nothing).
template <autograd::Real T, Device Dev = cpu>
using CostFunction = std::function<Tensor<T, Dev>(const MatchInputs<T, Dev>&)>;

/// -softmax(class_logits)[q, labels[n]]; absent without class logits (upstream matches
/// referring and interactive batches on mask costs only).
/// ref: pretrain_criterion.py hungarian_matcher_PSALM (cost_class = -class_prob[:, tgt_ids]).
struct ClassCost {
  template <autograd::Real T, Device Dev>
  Tensor<T, Dev> operator()(const MatchInputs<T, Dev>& in) const {
    if (!in.class_logits.defined()) return {};
    PSALM_CHECK(in.class_logits.rank() == 2 && in.class_logits.size(0) == in.queries(),
                "ClassCost: class logits must be (", in.queries(), ", C), got ",
                in.class_logits.shape());
    const std::int64_t c = in.class_logits.size(1), n = in.targets();
    PSALM_CHECK(static_cast<std::int64_t>(in.labels.size()) == n, "ClassCost: ", n, " targets but ",
                in.labels.size(), " labels");
    for (const std::int64_t l : in.labels)
      PSALM_CHECK(l >= 0 && l < c, "ClassCost: label ", l, " outside the ", c, " classes");
    const autograd::NoGrad no_grad;
    const Tensor<T, Dev> prob =
        autograd::softmax(autograd::Var<T, Dev>(in.class_logits)).value();  // (Q, C)
    const auto idx = Tensor<std::int64_t, Dev>::from_data(in.labels, {n});  // (N)
    const Tensor<T, Dev> picked =
        autograd::index_select(autograd::Var<T, Dev>(prob), 1, idx).value();  // (Q, N)
    return Tensor<T, Dev>(-picked);                                           // (Q, N)
  }
};

/// -sigmoid(region_logits)[q, n]: a query that already scores high for a target's region is
/// the cheaper match, as ClassCost does for classes; absent without region logits. Not
/// upstream's (see MatcherConfig::cost_region). Referring has no such term on purpose: its SEG
/// score is one number per query, the same for every target, so a cost on it only pulls the
/// target onto whichever query scores high already (measured: the SEG loss drops to 0 while
/// the masks stop improving).
struct RegionCost {
  /// (Q, N) cost, or an undefined tensor when the batch has no region logits.
  template <autograd::Real T, Device Dev>
  Tensor<T, Dev> operator()(const MatchInputs<T, Dev>& in) const {
    if (!in.region_logits.defined()) return {};
    PSALM_CHECK(in.region_logits.shape() == Shape({in.queries(), in.targets()}),
                "RegionCost: region logits must be (", in.queries(), ", ", in.targets(), "), got ",
                in.region_logits.shape());
    return Tensor<T, Dev>(-sigmoid(in.region_logits));  // (Q, N)
  }
};

/// Mean over points of BCE-with-logits(pred, target) for every pair:
/// (softplus(-x) . t + softplus(x) . (1 - t)) / P = (sum_p softplus(x) - x . t) / P
/// (softplus(-x) = softplus(x) - x: one softplus and one product instead of two each).
/// ref: Mask2Former_Simplify/utils/matcher.py batch_sigmoid_ce_loss.
struct MaskBceCost {
  template <autograd::Real T, Device Dev>
  Tensor<T, Dev> operator()(const MatchInputs<T, Dev>& in) const {
    const std::int64_t p = in.pred_points.size(1);
    const Tensor<T, Dev> neg(softplus(in.pred_points));       // (Q, P) BCE against 0
    const Tensor<T, Dev> neg_sum = psalm::sum(neg, 1, true);  // (Q, 1)
    const Tensor<T, Dev> xt =
        matmul(in.pred_points, in.target_points, {.transpose_b = true});  // (Q, N)
    return Tensor<T, Dev>((neg_sum - xt) / static_cast<T>(p));            // (Q, N)
  }
};

/// 1 - (2 sum(s t) + 1) / (sum(s) + sum(t) + 1) with s = sigmoid(pred) for every pair.
/// ref: Mask2Former_Simplify/utils/matcher.py batch_dice_loss.
struct DiceCost {
  template <autograd::Real T, Device Dev>
  Tensor<T, Dev> operator()(const MatchInputs<T, Dev>& in) const {
    const Tensor<T, Dev> s(sigmoid(in.pred_points));                                  // (Q, P)
    const Tensor<T, Dev> inter = matmul(s, in.target_points, {.transpose_b = true});  // (Q, N)
    const Tensor<T, Dev> s_sum = psalm::sum(s, 1, true);                              // (Q, 1)
    const Tensor<T, Dev> t_sum =
        psalm::sum(in.target_points, 1, false).view({1, in.targets()});            // (1, N)
    return Tensor<T, Dev>(T(1) - (T(2) * inter + T(1)) / (s_sum + t_sum + T(1)));  // (Q, N)
  }
};

/// A weighted sum of cost terms, minimised per image by linear_sum_assignment.
template <autograd::Real T, Device Dev = cpu>
class HungarianMatcher {
 public:
  struct Term {
    std::string name;
    double weight;
    CostFunction<T, Dev> cost;
  };

  HungarianMatcher() = default;

  /// PSALM's matcher: cost_mask * MaskBceCost + cost_class * ClassCost + cost_dice * DiceCost
  /// (upstream's order of summation), on `num_points` shared uniform points per image; with
  /// cost_region > 0, + cost_region * RegionCost last.
  static HungarianMatcher psalm(const MatcherConfig& c) {
    c.validate();
    HungarianMatcher m;
    m.num_points_ = c.num_points;
    m.add("mask", c.cost_mask, MaskBceCost{});
    m.add("class", c.cost_class, ClassCost{});
    m.add("dice", c.cost_dice, DiceCost{});
    if (c.cost_region > 0.0) m.add("region", c.cost_region, RegionCost{});
    return m;
  }

  /// Appends a term; terms are summed in the order they were added.
  HungarianMatcher& add(std::string name, double weight, CostFunction<T, Dev> cost) {
    PSALM_CHECK(std::isfinite(weight), "HungarianMatcher: term \"", name, "\" has weight ", weight);
    terms_.push_back(Term{std::move(name), weight, std::move(cost)});
    return *this;
  }

  const std::vector<Term>& terms() const { return terms_; }
  /// Points per image the batch call expects (0 when built without a config).
  std::int64_t num_points() const { return num_points_; }

  /// The total cost (Q, N): sum of weight * term over the terms that apply.
  Tensor<T, Dev> cost_matrix(const MatchInputs<T, Dev>& in) const {
    const std::int64_t q = in.queries(), n = in.targets();
    Tensor<T, Dev> total = Tensor<T, Dev>::zeros({q, n});  // (Q, N)
    for (const Term& t : terms_) {
      const Tensor<T, Dev> c = t.cost(in);  // (Q, N) or undefined
      if (!c.defined()) continue;
      PSALM_CHECK(c.shape() == total.shape(), "HungarianMatcher: term \"", t.name,
                  "\" returned a cost of shape ", c.shape(), ", expected ", total.shape());
      total.assign(total + c * static_cast<T>(t.weight));
    }
    return total;
  }

  /// The minimum-cost matching of one image (empty without predictions or targets).
  Matching match(const MatchInputs<T, Dev>& in) const {
    const std::int64_t q = in.queries(), n = in.targets();
    if (q == 0 || n == 0) return {};
    const std::vector<T> cost = cost_matrix(in).contiguous().to_vector();  // (Q, N)
    for (std::size_t i = 0; i < cost.size(); ++i)
      PSALM_CHECK(std::isfinite(static_cast<double>(cost[i])), "HungarianMatcher: cost (",
                  static_cast<std::int64_t>(i) / n, ", ", static_cast<std::int64_t>(i) % n, ") is ",
                  static_cast<double>(cost[i]), " (non-finite predictions?)");
    const std::vector<double> c64(cost.begin(), cost.end());
    const Assignment a = linear_sum_assignment(std::span<const double>(c64), q, n);
    return Matching{a.rows, a.cols};
  }

  /// One matching per image of a batch: mask logits (B, Q, H, W), class logits (B, Q, C) or
  /// undefined, targets (B samples; labels read only when class logits are given), each
  /// image's uniform points (B, P, 2), and optionally per image its region logits (Q, N_b)
  /// (RegionCost; empty: none). No gradient.
  std::vector<Matching> operator()(const Tensor<T, Dev>& masks, const Tensor<T, Dev>& class_logits,
                                   const std::vector<SampleTargets<Dev>>& targets,
                                   const Tensor<T, Dev>& points,
                                   const std::vector<Tensor<T, Dev>>& region_logits = {}) const {
    PSALM_CHECK(masks.rank() == 4, "HungarianMatcher: mask logits must be (B, Q, H, W), got ",
                masks.shape());
    const std::int64_t b = masks.size(0), q = masks.size(1);
    PSALM_CHECK(static_cast<std::int64_t>(targets.size()) == b, "HungarianMatcher: ", b,
                " predictions but ", targets.size(), " samples of targets");
    PSALM_CHECK(points.rank() == 3 && points.size(0) == b && points.size(2) == 2,
                "HungarianMatcher: points must be (", b, ", P, 2), got ", points.shape());
    PSALM_CHECK(num_points_ == 0 || points.size(1) == num_points_,
                "HungarianMatcher: ", points.size(1),
                " points per image given, the config asks for ", num_points_);
    PSALM_CHECK(
        !class_logits.defined() ||
            (class_logits.rank() == 3 && class_logits.size(0) == b && class_logits.size(1) == q),
        "HungarianMatcher: class logits must be (", b, ", ", q, ", C), got ", class_logits.shape());
    PSALM_CHECK(region_logits.empty() || static_cast<std::int64_t>(region_logits.size()) == b,
                "HungarianMatcher: region logits for ", region_logits.size(),
                " samples of a batch of ", b);
    std::vector<Matching> out;
    out.reserve(static_cast<std::size_t>(b));
    for (std::int64_t i = 0; i < b; ++i) {
      const SampleTargets<Dev>& t = targets[static_cast<std::size_t>(i)];
      if (t.count() == 0) {  // nothing to match: every query is unmatched ("no object")
        out.emplace_back();
        continue;
      }
      PSALM_CHECK(t.masks.rank() == 3, "HungarianMatcher: sample ", i,
                  ": target masks must be (N, Ht, Wt), got ", t.masks.shape());
      Tensor<T, Dev> target_masks;  // (N, Ht, Wt)
      if constexpr (std::is_same_v<T, float>)
        target_masks = t.masks;  // no copy of the full-resolution masks
      else
        target_masks = Tensor<T, Dev>(psalm::cast<T>(t.masks));
      MatchInputs<T, Dev> in =
          sample_match_inputs(masks.select(0, i), target_masks, points.select(0, i),
                              class_logits.defined() ? class_logits.select(0, i) : Tensor<T, Dev>(),
                              class_logits.defined() ? t.labels : std::vector<std::int64_t>{});
      if (!region_logits.empty()) in.region_logits = region_logits[static_cast<std::size_t>(i)];
      out.push_back(match(in));
    }
    return out;
  }

 private:
  std::vector<Term> terms_;
  std::int64_t num_points_ = 0;
};

}  // namespace psalm
