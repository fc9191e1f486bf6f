// psalm/psalm/criterion.hpp — PSALM's training loss (PSALM_SPEC §4.2): per prediction set a
// Hungarian matching, mask BCE + dice on importance-sampled points of the matched pairs, and the
// condition term of the batch's task (class CE with the background weight, referring BCE or
// region BCE with pos_weight), normalised by num_masks, with deep supervision and the loss
// weights; samples without any target push every score down instead of crashing. Every term
// is normalised by the whole batch's counts, which a data-parallel hook can average over
// processes, and random points can be keyed by sample (SamplePointStreams): then averaging the
// gradients of processes that each hold part of a batch equals one process holding all of it.
// Depends on: psalm/{matcher,point_sampling,targets,task}, models/mask2former/prediction_head,
// autograd/ops/{bce,dice,cross_entropy,grid_sample,index_select}. Test:
// tests/psalm/test_criterion.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "psalm/autograd/ops/arithmetic.hpp"
#include "psalm/autograd/ops/bce.hpp"
#include "psalm/autograd/ops/cross_entropy.hpp"
#include "psalm/autograd/ops/dice.hpp"
#include "psalm/autograd/ops/grid_sample.hpp"
#include "psalm/autograd/ops/index_select.hpp"
#include "psalm/autograd/ops/reduce.hpp"
#include "psalm/autograd/ops/shape.hpp"
#include "psalm/core/error.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/models/mask2former/prediction_head.hpp"
#include "psalm/psalm/matcher.hpp"
#include "psalm/psalm/point_sampling.hpp"
#include "psalm/psalm/targets.hpp"
#include "psalm/psalm/task.hpp"

namespace psalm {

// Letters: B batch, Q queries, C classes (the last is "background"), K_b regions of sample b,
// N_b targets of sample b, H W predicted mask plane, Ht Wt target plane, M matched pairs of a
// prediction set, Pm matcher points, P loss points, S oversampled candidates, R fresh points.

/// The criterion's weights and point sampling; JSON keys as below (PsalmConfig's "criterion").
/// ref: llava_phi.py mask_decoder_training_init and detectron2's MASK_FORMER defaults.
struct CriterionConfig {
  double class_weight =
      2.0;                   ///< weight of loss_class_name_class, loss_SEG_class, loss_region_class
  double mask_weight = 5.0;  ///< weight of loss_mask
  double dice_weight = 5.0;  ///< weight of loss_dice
  double no_object_weight = 0.1;          ///< CE weight of the last ("background") class
  std::int64_t num_points = 12544;        ///< P: points per matched mask
  double oversample_ratio = 3.0;          ///< S = int(P * oversample_ratio) candidates
  double importance_sample_ratio = 0.75;  ///< K = int(ratio * P) kept by uncertainty
  bool deep_supervision = true;           ///< also supervise every auxiliary prediction set

  static CriterionConfig from_json(const io::ConfigReader& r) {
    CriterionConfig c;
    r.read("class_weight", c.class_weight);
    r.read("mask_weight", c.mask_weight);
    r.read("dice_weight", c.dice_weight);
    r.read("no_object_weight", c.no_object_weight);
    r.read("num_points", c.num_points);
    r.read("oversample_ratio", c.oversample_ratio);
    r.read("importance_sample_ratio", c.importance_sample_ratio);
    r.read("deep_supervision", c.deep_supervision);
    c.validate(r.source());
    return c;
  }

  /// Throws a psalm::Error naming `source` and the field for a value the criterion cannot use.
  void validate(const std::string& source = "CriterionConfig") const {
    for (const auto& [name, v] : {std::pair<const char*, double>{"class_weight", class_weight},
                                  {"mask_weight", mask_weight},
                                  {"dice_weight", dice_weight},
                                  {"no_object_weight", no_object_weight}})
      PSALM_CHECK(std::isfinite(v) && v >= 0.0, source, ": criterion.", name,
                  " must be finite and >= 0, got ", v);
    PSALM_CHECK(num_points > 0, source, ": criterion.num_points must be positive, got ",
                num_points);
    PSALM_CHECK(std::isfinite(oversample_ratio) && oversample_ratio >= 1.0, source,
                ": criterion.oversample_ratio must be >= 1, got ", oversample_ratio);
    PSALM_CHECK(importance_sample_ratio >= 0.0 && importance_sample_ratio <= 1.0, source,
                ": criterion.importance_sample_ratio must lie in [0, 1], got ",
                importance_sample_ratio);
  }

  ImportanceCounts counts() const {
    return ImportanceCounts::of(num_points, oversample_ratio, importance_sample_ratio);
  }
};

/// Upstream's loss-term names (auxiliary set i appends "_i").
inline constexpr std::string_view kLossMask = "loss_mask";
inline constexpr std::string_view kLossDice = "loss_dice";
inline constexpr std::string_view kLossClassName = "loss_class_name_class";
inline constexpr std::string_view kLossSeg = "loss_SEG_class";
inline constexpr std::string_view kLossRegion = "loss_region_class";

/// The random points one prediction set consumes, for feeding a reference's points.
template <autograd::Real T, Device Dev = cpu>
struct SetPoints {
  Tensor<T, Dev> matcher;      ///< (B, Pm, 2) one set of uniform points per image (matcher)
  Tensor<T, Dev> oversampled;  ///< (M, S, 2) importance-sampling candidates per matched pair
  Tensor<T, Dev> fresh;        ///< (M, R, 2) uniform points added after the top-k
};

/// Random points keyed by sample: sample b's draws come from the stream `sample_ids[b]` under a
/// key made of `seed`, the prediction set and the draw (matcher, oversampled, fresh), so a
/// sample's points do not depend on which batch or process holds it. Ids must be unique within
/// a run (the trainer uses the task and the sample's index in that task's stream).
struct SamplePointStreams {
  std::uint64_t seed = 0;
  std::vector<std::uint64_t> sample_ids;  ///< one per sample of the batch

  /// (n, p, 2) uniform points of sample `b` for draw `draw` (0 matcher, 1 oversampled, 2 fresh)
  /// of prediction set `set`.
  template <autograd::Real T, Device Dev>
  Tensor<T, Dev> uniform(std::size_t b, std::size_t set, int draw, std::int64_t n,
                         std::int64_t p) const {
    PSALM_CHECK(b < sample_ids.size(), "SamplePointStreams: sample ", b, " of a batch with ",
                sample_ids.size(), " sample ids");
    const std::uint64_t key =
        seed + 0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(set) * 3 + draw + 1);
    return Tensor<T, Dev>::rand({n, p, 2}, key, sample_ids[b]);  // (n, p, 2)
  }
};

/// One named loss term: its unweighted value and the weight the total applies.
template <autograd::Real T, Device Dev = cpu>
struct LossTerm {
  std::string name;
  double weight = 1.0;
  autograd::Var<T, Dev> value;  ///< rank 0
};

/// What one criterion call returns.
template <autograd::Real T, Device Dev = cpu>
struct CriterionOutput {
  /// Unweighted terms in upstream's order: the final set's, then auxiliary set 0, 1, ...
  std::vector<LossTerm<T, Dev>> terms;
  autograd::Var<T, Dev> total;  ///< sum of weight * value over the terms (rank 0)
  /// matchings[s][b]: the matching of prediction set s (the decoder's order) and sample b;
  /// empty for a set that is not supervised (deep_supervision off).
  std::vector<std::vector<Matching>> matchings;
  double num_masks = 1.0;  ///< the normaliser used (after the clamp to >= 1)

  bool has(std::string_view name) const {
    for (const auto& t : terms)
      if (t.name == name) return true;
    return false;
  }
  const LossTerm<T, Dev>& term(std::string_view name) const {
    for (const auto& t : terms)
      if (t.name == name) return t;
    fail("CriterionOutput: no loss term \"", std::string(name), "\"");
  }
};

/// PSALM_criterion with its matcher and weight dictionary. Predictions are the decoder's sets
/// in its order ([0] from the initial queries ... back() the final output); the final set is
/// supervised with upstream's plain names, set i < n - 1 (deep supervision) with suffix "_i".
///
/// Samples without targets (N_b = 0: a gRES no-target expression, an image without
/// annotations) are trained towards "no object": their matching is empty, so every query's
/// class target is the background class, its SEG / region target is 0, and they add no mask
/// pair. num_masks = max(1, targets in the batch), so a batch where no sample has a target
/// works too: its mask and dice terms are 0 (kept on the graph with gradient 0), the condition
/// term pushes every score down (a batch with no region entry at all gives a region term of 0).
/// The official code fails on such samples (zamling/PSALM issue #20).
template <autograd::Real T, Device Dev = cpu>
class Criterion {
 public:
  using Var = autograd::Var<T, Dev>;
  using Prediction = models::mask2former::Prediction<T, Dev>;

  explicit Criterion(const CriterionConfig& criterion = {}, const MatcherConfig& matcher = {})
      : config_(criterion),
        matcher_(HungarianMatcher<T, Dev>::psalm(matcher)),
        region_cost_(matcher.cost_region > 0.0) {
    config_.validate();
  }

  /// This batch's normalisers: targets (num_masks before the clamp), matched pairs
  /// (sum_b min(N_b, Q)) and entries of the condition term (B Q).
  static constexpr std::size_t kNormalisers = 3;

  /// Data-parallel hook: replaces this process's normalisers in place by their means over all
  /// processes (an all-reduce divided by the world size; upstream does so for num_masks).
  /// Every term then divides by the whole batch's counts, so the mean of the processes'
  /// gradients is the gradient of one process holding every sample. Unset: one process.
  std::function<void(std::span<double>)> average_over_processes;

  const CriterionConfig& config() const { return config_; }
  const HungarianMatcher<T, Dev>& matcher() const { return matcher_; }

  /// The loss with every random point given: points[s] for prediction set s (entries of sets
  /// that are not supervised are ignored; oversampled / fresh may be undefined when the set
  /// matches no pair).
  CriterionOutput<T, Dev> operator()(const std::vector<Prediction>& predictions,
                                     const std::vector<SampleTargets<Dev>>& targets, Task task,
                                     const std::vector<SetPoints<T, Dev>>& points) const {
    PSALM_CHECK(points.size() == predictions.size(), "criterion: ", predictions.size(),
                " prediction sets but points for ", points.size());
    const ImportanceCounts n = config_.counts();
    return run(
        predictions, targets, task, [&](std::size_t s, std::int64_t) { return points[s].matcher; },
        [&](std::size_t s, const std::vector<Matching>& matching) {
          const std::int64_t m = pairs(matching);
          const SetPoints<T, Dev>& p = points[s];
          if (m == 0) return std::pair{p.oversampled, p.fresh};
          PSALM_CHECK(
              p.oversampled.defined() && p.oversampled.shape() == Shape({m, n.num_oversampled, 2}),
              "criterion: set ", s, " matched ", m, " pairs: oversampled points must be (", m, ", ",
              n.num_oversampled, ", 2), got ", p.oversampled.shape());
          PSALM_CHECK(p.fresh.defined() && p.fresh.shape() == Shape({m, n.num_fresh, 2}),
                      "criterion: set ", s, " matched ", m, " pairs: fresh points must be (", m,
                      ", ", n.num_fresh, ", 2), got ", p.fresh.shape());
          return std::pair{p.oversampled, p.fresh};
        });
  }

  /// The loss with the points drawn from `sampler`, per supervised set in upstream's order
  /// (final, aux 0, aux 1, ...): the matcher's (B, Pm, 2), then (M, S, 2) and (M, R, 2).
  CriterionOutput<T, Dev> operator()(const std::vector<Prediction>& predictions,
                                     const std::vector<SampleTargets<Dev>>& targets, Task task,
                                     PointSampler& sampler) const {
    const ImportanceCounts n = config_.counts();
    return run(
        predictions, targets, task,
        [&](std::size_t, std::int64_t b) {
          return sampler.uniform<T, Dev>(b, matcher_.num_points());  // (B, Pm, 2)
        },
        [&](std::size_t, const std::vector<Matching>& matching) {
          const std::int64_t m = pairs(matching);
          Tensor<T, Dev> over = sampler.uniform<T, Dev>(m, n.num_oversampled);  // (M, S, 2)
          Tensor<T, Dev> fresh = sampler.uniform<T, Dev>(m, n.num_fresh);       // (M, R, 2)
          return std::pair{over, fresh};
        });
  }

  /// The loss with the points drawn per sample (SamplePointStreams): sample b's matcher points
  /// (1, Pm, 2) and, for its M_b matched pairs, (M_b, S, 2) and (M_b, R, 2), stacked in sample
  /// order.
  CriterionOutput<T, Dev> operator()(const std::vector<Prediction>& predictions,
                                     const std::vector<SampleTargets<Dev>>& targets, Task task,
                                     const SamplePointStreams& streams) const {
    const ImportanceCounts n = config_.counts();
    const std::int64_t pm = matcher_.num_points();
    return run(
        predictions, targets, task,
        [&](std::size_t s, std::int64_t b) {
          std::vector<Tensor<T, Dev>> parts;
          for (std::int64_t i = 0; i < b; ++i)
            parts.push_back(streams.uniform<T, Dev>(static_cast<std::size_t>(i), s, 0, 1, pm));
          return stack_rows(parts);  // (B, Pm, 2)
        },
        [&](std::size_t s, const std::vector<Matching>& matching) {
          std::vector<Tensor<T, Dev>> over, fresh;
          for (std::size_t i = 0; i < matching.size(); ++i) {
            const auto m = static_cast<std::int64_t>(matching[i].size());
            if (m == 0) continue;
            over.push_back(streams.uniform<T, Dev>(i, s, 1, m, n.num_oversampled));  // (M_b, S, 2)
            fresh.push_back(streams.uniform<T, Dev>(i, s, 2, m, n.num_fresh));       // (M_b, R, 2)
          }
          return std::pair{stack_rows(over), stack_rows(fresh)};  // (M, S, 2), (M, R, 2)
        });
  }

  /// The indices of the supervised prediction sets in upstream's order: n - 1 (final), then
  /// 0 .. n - 2 when deep supervision is on.
  std::vector<std::size_t> supervised_sets(std::size_t n) const {
    std::vector<std::size_t> out;
    if (n == 0) return out;
    out.push_back(n - 1);
    if (config_.deep_supervision)
      for (std::size_t i = 0; i + 1 < n; ++i) out.push_back(i);
    return out;
  }

 private:
  /// Targets as T, shared by every set (no copy for float).
  struct BatchTargets {
    std::vector<Tensor<T, Dev>> masks;  // per sample (N_b, Ht, Wt), undefined when N_b = 0
    const std::vector<SampleTargets<Dev>>* samples = nullptr;
    std::int64_t count = 0;  // sum of N_b
  };

  static std::int64_t pairs(const std::vector<Matching>& matching) {
    std::int64_t m = 0;
    for (const Matching& mm : matching) m += static_cast<std::int64_t>(mm.size());
    return m;
  }

  /// Tensors (n_i, P, 2) stacked along the first axis; undefined when there are none.
  static Tensor<T, Dev> stack_rows(const std::vector<Tensor<T, Dev>>& parts) {
    if (parts.empty()) return Tensor<T, Dev>();
    if (parts.size() == 1) return parts.front();
    const autograd::NoGrad no_grad;
    std::vector<Var> vars(parts.begin(), parts.end());
    return autograd::concat(vars, 0).value();  // (sum n_i, P, 2)
  }

  /// The batch's normalisers: num_masks (clamped to >= 1), and the means over processes of the
  /// matched pairs and condition-term entries (those of this batch in one process).
  struct Normalisers {
    double num_masks = 1.0, matched = 0.0, entries = 0.0, targets = 0.0;
  };

  Normalisers normalisers(const BatchTargets& bt, std::int64_t b, std::int64_t q) const {
    double v[kNormalisers] = {static_cast<double>(bt.count), 0.0, static_cast<double>(b * q)};
    for (const SampleTargets<Dev>& t : *bt.samples)
      v[1] += static_cast<double>(std::min(t.count(), q));
    if (average_over_processes) average_over_processes(std::span<double>(v, kNormalisers));
    for (const double x : v)
      PSALM_CHECK(std::isfinite(x) && x >= 0, "criterion: average_over_processes returned ", x);
    // ref: pretrain_criterion.py num_masks all-reduced / world size, clamp(min=1)
    return {std::max(v[0], 1.0), v[1], v[2], v[0]};
  }

  template <class MatcherPoints, class MaskPoints>
  CriterionOutput<T, Dev> run(const std::vector<Prediction>& predictions,
                              const std::vector<SampleTargets<Dev>>& targets, Task task,
                              MatcherPoints&& matcher_points, MaskPoints&& mask_points) const {
    const ConditionKind kind = condition_kind(task);
    const BatchTargets bt = check_inputs(predictions, targets, kind);
    CriterionOutput<T, Dev> out;
    const std::int64_t b = predictions.front().masks.size(0);
    const Normalisers norm = normalisers(bt, b, predictions.front().masks.size(1));
    out.num_masks = norm.num_masks;
    out.matchings.resize(predictions.size());
    for (const std::size_t s : supervised_sets(predictions.size())) {
      const Prediction& p = predictions[s];
      const std::string suffix = s + 1 == predictions.size() ? "" : "_" + std::to_string(s);
      const Tensor<T, Dev> pts = matcher_points(s, b);  // (B, Pm, 2)
      PSALM_CHECK(pts.defined(), "criterion: no matcher points for prediction set ", s);
      const Tensor<T, Dev> class_logits =
          kind == ConditionKind::classes ? p.class_logits.value() : Tensor<T, Dev>();
      std::vector<Matching> matching = matcher_(p.masks.value(), class_logits, targets, pts,
                                                region_cost_ && kind == ConditionKind::regions
                                                    ? matcher_region_logits(p, targets)
                                                    : std::vector<Tensor<T, Dev>>{});
      // ref: pretrain_criterion.py losses = [SEG_labels, class_name_labels, masks, region_labels]
      auto add = [&](std::string_view name, double weight, Var value) {
        out.terms.push_back({std::string(name) + suffix, weight, value});
        const Var weighted = autograd::scale(value, weight);
        out.total = out.total.defined() ? out.total + weighted : weighted;
      };
      if (kind == ConditionKind::referring)
        add(kLossSeg, config_.class_weight, seg_term(p, matching, norm));
      if (kind == ConditionKind::classes)
        add(kLossClassName, config_.class_weight, class_term(p, matching, targets, norm));
      auto [loss_mask, loss_dice] = mask_terms(p, matching, bt, s, mask_points, out.num_masks);
      add(kLossMask, config_.mask_weight, loss_mask);
      add(kLossDice, config_.dice_weight, loss_dice);
      if (kind == ConditionKind::regions)
        add(kLossRegion, config_.class_weight, region_term(p, matching, norm));
      out.matchings[s] = std::move(matching);
    }
    return out;
  }

  BatchTargets check_inputs(const std::vector<Prediction>& predictions,
                            const std::vector<SampleTargets<Dev>>& targets,
                            ConditionKind kind) const {
    PSALM_CHECK(!predictions.empty(), "criterion: no prediction sets");
    PSALM_CHECK(predictions.front().masks.defined() && predictions.front().masks.rank() == 4,
                "criterion: mask logits must be (B, Q, H, W), got ",
                predictions.front().masks.shape());
    const std::int64_t b = predictions.front().masks.size(0);
    const std::int64_t q = predictions.front().masks.size(1);
    PSALM_CHECK(static_cast<std::int64_t>(targets.size()) == b, "criterion: ", b,
                " samples predicted but ", targets.size(), " samples of targets");
    BatchTargets bt;
    bt.samples = &targets;
    std::int64_t ht = -1, wt = -1;
    for (std::int64_t i = 0; i < b; ++i) {
      const SampleTargets<Dev>& t = targets[static_cast<std::size_t>(i)];
      const std::int64_t n = t.count();
      if (n > 0) {
        PSALM_CHECK(t.masks.rank() == 3, "criterion: sample ", i,
                    ": target masks must be (N, Ht, Wt), got ", t.masks.shape());
        if (ht < 0) {
          ht = t.masks.size(1);
          wt = t.masks.size(2);
        }
        // Upstream pads the batch's targets to one size (nested_tensor_from_tensor_list); the
        // masks arrive padded to the input size, so differing sizes are a caller error.
        PSALM_CHECK(t.masks.size(1) == ht && t.masks.size(2) == wt, "criterion: sample ", i,
                    ": target masks of ", t.masks.size(1), "x", t.masks.size(2),
                    ", other samples' are ", ht, "x", wt, " (pad them to the input size)");
      }
      if constexpr (std::is_same_v<T, float>) {
        bt.masks.push_back(n > 0 ? t.masks : Tensor<T, Dev>());
      } else {
        bt.masks.push_back(n > 0 ? Tensor<T, Dev>(psalm::cast<T>(t.masks)) : Tensor<T, Dev>());
      }
      bt.count += n;
    }
    for (std::size_t s = 0; s < predictions.size(); ++s) {
      const Prediction& p = predictions[s];
      PSALM_CHECK(
          p.masks.defined() && p.masks.rank() == 4 && p.masks.size(0) == b && p.masks.size(1) == q,
          "criterion: prediction set ", s, ": mask logits must be (", b, ", ", q, ", H, W), got ",
          p.masks.shape());
      switch (kind) {
        case ConditionKind::classes: {
          PSALM_CHECK(p.class_logits.defined() && p.class_logits.rank() == 3 &&
                          p.class_logits.size(0) == b && p.class_logits.size(1) == q &&
                          p.class_logits.size(2) >= 2,
                      "criterion: prediction set ", s, ": a class task needs class logits (", b,
                      ", ", q, ", C >= 2), got ", p.class_logits.shape());
          const std::int64_t c = p.class_logits.size(2);
          for (std::int64_t i = 0; i < b; ++i) {
            const SampleTargets<Dev>& t = targets[static_cast<std::size_t>(i)];
            PSALM_CHECK(static_cast<std::int64_t>(t.labels.size()) == t.count(),
                        "criterion: sample ", i, " has ", t.count(), " target masks but ",
                        t.labels.size(), " labels");
            for (const std::int64_t l : t.labels)
              PSALM_CHECK(l >= 0 && l < c - 1, "criterion: sample ", i, ": label ", l,
                          " outside the ", c - 1, " named classes (", c - 1, " is \"background\")");
          }
          break;
        }
        case ConditionKind::referring:
          PSALM_CHECK(p.seg_logits.defined() && p.seg_logits.shape() == Shape({b, q, 1}),
                      "criterion: prediction set ", s, ": a referring task needs SEG logits (", b,
                      ", ", q, ", 1), got ", p.seg_logits.shape());
          break;
        case ConditionKind::regions: {
          const bool none = p.region_logits.empty() && bt.count == 0;
          PSALM_CHECK(none || static_cast<std::int64_t>(p.region_logits.size()) == b,
                      "criterion: prediction set ", s, ": an interactive task needs region ",
                      "logits for each of the ", b, " samples, got ", p.region_logits.size());
          for (std::size_t i = 0; i < p.region_logits.size(); ++i) {
            const Var& r = p.region_logits[i];
            const std::int64_t n = targets[i].count();
            PSALM_CHECK(r.defined() && r.rank() == 2 && r.size(1) == q && r.size(0) == n,
                        "criterion: prediction set ", s, ", sample ", i, ": region logits ",
                        "must be (", n, ", ", q, ") (one target mask per region, in region ",
                        "order), got ", r.shape());
          }
          break;
        }
      }
    }
    return bt;
  }

  /// What RegionCost reads, per sample (Q, N_b): target k is region k's, so entry (q, k) is
  /// region logit (k, q).
  static std::vector<Tensor<T, Dev>> matcher_region_logits(
      const Prediction& p, const std::vector<SampleTargets<Dev>>& targets) {
    std::vector<Tensor<T, Dev>> out;
    const std::int64_t q = p.masks.size(1);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const std::int64_t n = targets[i].count();
      if (n == 0) {
        out.emplace_back();
        continue;
      }
      const std::vector<T> region =
          p.region_logits[i].value().contiguous().to_vector();  // (N_b, Q)
      std::vector<T> c(static_cast<std::size_t>(q * n));
      for (std::int64_t j = 0; j < q; ++j)
        for (std::int64_t k = 0; k < n; ++k)
          c[static_cast<std::size_t>(j * n + k)] = region[static_cast<std::size_t>(k * q + j)];
      out.push_back(Tensor<T, Dev>::from_data(c, {q, n}));  // (Q, N_b)
    }
    return out;
  }

  /// 0, on the graph of the set's mask logits (gradient 0), for terms over nothing.
  static Var zero_like_masks(const Prediction& p) {
    return autograd::scale(autograd::sum(p.masks), 0.0);
  }

  /// ref: pretrain_criterion.py loss_class_name_labels (CE weight 1, the last class
  /// no_object_weight; unmatched queries target the last class; weighted mean). The mean's
  /// divisor, sum_i w[y_i] = matched + (B Q - matched) no_object_weight (each target is matched
  /// once), is the batch's over every process.
  Var class_term(const Prediction& p, const std::vector<Matching>& matching,
                 const std::vector<SampleTargets<Dev>>& targets, const Normalisers& norm) const {
    const std::int64_t b = p.class_logits.size(0), q = p.class_logits.size(1),
                       c = p.class_logits.size(2);
    std::vector<std::int64_t> target(static_cast<std::size_t>(b * q), c - 1);  // (B * Q)
    for (std::int64_t i = 0; i < b; ++i) {
      const Matching& m = matching[static_cast<std::size_t>(i)];
      for (std::size_t k = 0; k < m.size(); ++k)
        target[static_cast<std::size_t>(i * q + m.queries[k])] =
            targets[static_cast<std::size_t>(i)].labels[static_cast<std::size_t>(m.targets[k])];
    }
    std::vector<T> weight(static_cast<std::size_t>(c), T(1));
    weight.back() = static_cast<T>(config_.no_object_weight);
    autograd::CrossEntropyOptions<T, Dev> opt;
    opt.weight = Tensor<T, Dev>::from_data(weight, {c});  // (C)
    opt.reduction = autograd::Reduction::sum;
    const double divisor = norm.matched + (norm.entries - norm.matched) * config_.no_object_weight;
    return autograd::scale(
        autograd::cross_entropy(autograd::reshape(p.class_logits, {b * q, c}),
                                Tensor<std::int64_t, Dev>::from_data(target, {b * q}), opt),
        1.0 / divisor);
  }

  /// ref: pretrain_criterion.py loss_SEG_labels (target 1 on matched queries,
  /// pos_weight = (B Q - num_masks) / num_masks, mean over B Q; B Q of the batch over every
  /// process).
  Var seg_term(const Prediction& p, const std::vector<Matching>& matching,
               const Normalisers& norm) const {
    const std::int64_t b = p.seg_logits.size(0), q = p.seg_logits.size(1);
    std::vector<T> target(static_cast<std::size_t>(b * q), T(0));  // (B, Q, 1)
    for (std::int64_t i = 0; i < b; ++i)
      for (const std::int64_t qi : matching[static_cast<std::size_t>(i)].queries)
        target[static_cast<std::size_t>(i * q + qi)] = T(1);
    autograd::BceOptions<T, Dev> opt;
    opt.pos_weight = Tensor<T, Dev>::full(
        {1}, static_cast<T>((norm.entries - norm.num_masks) / norm.num_masks));  // (1)
    opt.reduction = autograd::Reduction::sum;
    return autograd::scale(autograd::binary_cross_entropy_with_logits(
                               p.seg_logits, Tensor<T, Dev>::from_data(target, {b, q, 1}), opt),
                           1.0 / norm.entries);
  }

  /// ref: pretrain_criterion.py loss_region_labels (target[k, q] = 1 iff query q is matched to
  /// target k; all samples' (K_b, Q) logits flattened together; pos_weight =
  /// (entries - num_masks) / num_masks, mean). Entries are K_b Q = N_b Q per sample, so the
  /// batch's over every process are targets * Q.
  Var region_term(const Prediction& p, const std::vector<Matching>& matching,
                  const Normalisers& norm) const {
    std::vector<Var> flat;
    std::vector<T> target;
    for (std::size_t i = 0; i < p.region_logits.size(); ++i) {
      const Var& r = p.region_logits[i];
      const std::int64_t k = r.size(0), q = r.size(1);
      if (k * q == 0) continue;
      flat.push_back(autograd::reshape(r, {k * q}));  // (K_b Q)
      const std::size_t at = target.size();
      target.resize(at + static_cast<std::size_t>(k * q), T(0));
      const Matching& m = matching[i];
      for (std::size_t j = 0; j < m.size(); ++j)
        target[at + static_cast<std::size_t>(m.targets[j] * q + m.queries[j])] = T(1);
    }
    if (flat.empty()) return zero_like_masks(p);
    const auto entries = static_cast<std::int64_t>(target.size());
    const double all_entries = norm.targets * static_cast<double>(p.masks.size(1));
    const Var x = flat.size() == 1 ? flat.front() : autograd::concat(flat, 0);  // (sum K_b Q)
    autograd::BceOptions<T, Dev> opt;
    opt.pos_weight = Tensor<T, Dev>::full(
        {1}, static_cast<T>((all_entries - norm.num_masks) / norm.num_masks));  // (1)
    opt.reduction = autograd::Reduction::sum;
    return autograd::scale(autograd::binary_cross_entropy_with_logits(
                               x, Tensor<T, Dev>::from_data(target, {entries}), opt),
                           1.0 / all_entries);
  }

  /// The matched targets read at their pair's points: (M, P), pairs in mask_terms' order.
  /// Each target is matched at most once, so every sample's masks (N_b, 1, Ht, Wt) are sampled
  /// in place with the points of the pair that took each target (any pair's for unmatched
  /// targets), never copying the full-resolution masks.
  static Tensor<T, Dev> target_labels(const std::vector<Matching>& matching, const BatchTargets& bt,
                                      const Tensor<T, Dev>& coords) {
    const autograd::NoGrad no_grad;
    const std::int64_t np = coords.size(1);
    std::vector<Var> parts;
    std::int64_t first = 0;  // index of the sample's first pair in coords
    for (std::size_t i = 0; i < matching.size(); ++i) {
      const Matching& mt = matching[i];
      const auto mb = static_cast<std::int64_t>(mt.size());
      if (mb == 0) continue;
      const Tensor<T, Dev>& masks = bt.masks[i];  // (N_b, Ht, Wt)
      const std::int64_t nb = masks.size(0);
      std::vector<std::int64_t> pair_of(static_cast<std::size_t>(nb), first);  // (N_b)
      for (std::int64_t j = 0; j < mb; ++j)
        pair_of[static_cast<std::size_t>(mt.targets[static_cast<std::size_t>(j)])] = first + j;
      const Tensor<T, Dev> pts =
          autograd::index_select(Var(coords), 0,
                                 Tensor<std::int64_t, Dev>::from_data(pair_of, {nb}))
              .value();  // (N_b, P, 2)
      const Var sampled(point_sample_values(masks.unsqueeze(1), pts).view({nb, np}));  // (N_b, P)
      parts.push_back(autograd::index_select(
          sampled, 0, Tensor<std::int64_t, Dev>::from_data(mt.targets, {mb})));  // (M_b, P)
      first += mb;
    }
    return (parts.size() == 1 ? parts.front() : autograd::concat(parts, 0)).value();  // (M, P)
  }

  /// ref: pretrain_criterion.py loss_masks (matched pairs in sample order, each sample's pairs
  /// in ascending query order; importance-sampled points; BCE mean over points summed over
  /// pairs / num_masks; dice summed over pairs / num_masks).
  template <class MaskPoints>
  std::pair<Var, Var> mask_terms(const Prediction& p, const std::vector<Matching>& matching,
                                 const BatchTargets& bt, std::size_t set, MaskPoints& mask_points,
                                 double num_masks) const {
    const std::int64_t b = p.masks.size(0), q = p.masks.size(1), h = p.masks.size(2),
                       w = p.masks.size(3);
    std::vector<std::int64_t> src;  // (M) flat query index b * Q + q
    for (std::int64_t i = 0; i < b; ++i)
      for (const std::int64_t qi : matching[static_cast<std::size_t>(i)].queries)
        src.push_back(i * q + qi);
    const auto m = static_cast<std::int64_t>(src.size());
    auto [over, fresh] = mask_points(set, matching);
    if (m == 0) {
      const Var zero = zero_like_masks(p);
      return {zero, zero};
    }
    const ImportanceCounts n = config_.counts();
    const Var src_masks =
        autograd::reshape(autograd::index_select(autograd::reshape(p.masks, {b * q, h, w}), 0,
                                                 Tensor<std::int64_t, Dev>::from_data(src, {m})),
                          {m, 1, h, w});  // (M, 1, H, W)
    const Tensor<T, Dev> coords =
        uncertain_points(src_masks.value(), over, fresh, n.num_uncertain);  // (M, P, 2)
    const std::int64_t np = coords.size(1);
    const Tensor<T, Dev> labels = target_labels(matching, bt, coords);  // (M, P)
    const Var logits =
        autograd::reshape(autograd::point_sample(src_masks, Var(coords)), {m, np});  // (M, P)
    autograd::BceOptions<T, Dev> bce;
    bce.reduction = autograd::Reduction::sum;
    const Var loss_mask =
        autograd::scale(autograd::binary_cross_entropy_with_logits(logits, labels, bce),
                        1.0 / (static_cast<double>(np) * num_masks));
    autograd::DiceOptions dice;
    dice.num_masks = num_masks;
    const Var loss_dice = autograd::dice_loss(logits, labels, dice);
    return {loss_mask, loss_dice};
  }

  CriterionConfig config_;
  HungarianMatcher<T, Dev> matcher_;
  bool region_cost_ = false;  ///< the matcher reads region logits (cost_region > 0)
};

}  // namespace psalm
