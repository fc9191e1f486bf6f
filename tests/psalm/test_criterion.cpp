// Tests of psalm/psalm/{point_sampling,matcher,criterion}.hpp and the targets contract: the
// matchings, every loss term and the gradient of every prediction input against a PyTorch +
// scipy transcription of PSALM's matcher and criterion (tests/fixtures/psalm/criterion, written by
// tools/reference/psalm_criterion_fixtures.py) for each condition kind and the no-target cases;
// finite differences in double; importance sampling, the cost functors and their composition,
// the seeded sampler, the configs, the no-target definition and the errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/psalm/criterion.hpp"
#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerances.hpp"

namespace tol = psalm::testing::tol;

using namespace psalm;
using autograd::Var;
using models::mask2former::Prediction;

namespace {

// float32 against the float64 reference: every term and the total (forward), the gradients.
constexpr double kTermRtol = 1e-5, kTermAtol = 1e-6;
constexpr double kGradRtol = 1e-4, kGradAtol = 1e-6;

const char* const kCases[] = {"classes",           "classes_many_targets", "referring",
                              "regions",           "classes_no_target",    "referring_no_target",
                              "regions_no_region", "classes_all_empty",    "referring_all_empty",
                              "regions_all_empty"};

/// One fixture case: the inputs as T (leaves that collect gradients), targets and points.
template <class T>
struct Case {
  nlohmann::json meta;
  std::vector<Prediction<T>> sets;
  std::vector<SampleTargets<>> targets;
  std::vector<SetPoints<T>> points;
  Task task = Task::panoptic;
  CriterionConfig criterion;
  MatcherConfig matcher;

  explicit Case(const std::string& name) : file_(open(name)) {
    meta = nlohmann::json::parse(file_.metadata().at("case"));
    task = parse_task(meta.at("task").get<std::string>());
    criterion = CriterionConfig::from_json(io::ConfigReader(meta.at("criterion"), name));
    matcher = MatcherConfig::from_json(io::ConfigReader(meta.at("matcher"), name));
    const auto b = meta.at("batch").get<std::int64_t>();
    const auto q = meta.at("queries").get<std::int64_t>();
    const auto counts = meta.at("counts").get<std::vector<std::int64_t>>();
    const auto labels = meta.at("labels").get<std::vector<std::vector<std::int64_t>>>();
    for (std::int64_t i = 0; i < b; ++i) {
      SampleTargets<> t;
      const std::string key = "target." + std::to_string(i) + ".masks";
      if (counts[static_cast<std::size_t>(i)] > 0) t.masks = file_.load<float>(key);
      t.labels = labels[static_cast<std::size_t>(i)];
      targets.push_back(t);
    }
    const std::string kind = meta.at("kind").get<std::string>();
    const auto n_sets = meta.at("matchings").size();
    for (std::size_t s = 0; s < n_sets; ++s) {
      const std::string p = "set." + std::to_string(s) + ".";
      Prediction<T> pred;
      pred.masks = leaf(p + "masks");
      if (kind == "classes") pred.class_logits = leaf(p + "class_logits");
      if (kind == "referring") pred.seg_logits = leaf(p + "seg_logits");
      if (kind == "regions") {
        Var<T> all = has(p + "region_logits") ? leaf(p + "region_logits") : Var<T>();
        region_stacks.push_back(all);
        std::int64_t at = 0;
        for (const std::int64_t k : counts) {
          pred.region_logits.push_back(all.defined()
                                           ? autograd::slice(all, 0, at, at + k)
                                           : Var<T>(Tensor<T>::zeros({0, q})));  // (K_b, Q)
          at += k;
        }
      }
      sets.push_back(pred);
      SetPoints<T> pts;
      const std::string pp = "points." + std::to_string(s) + ".";
      pts.matcher = load(pp + "matcher");
      if (has(pp + "oversampled")) {
        pts.oversampled = load(pp + "oversampled");
        pts.fresh = load(pp + "fresh");
      }
      points.push_back(pts);
    }
  }

  bool has(const std::string& name) const {
    const auto names = file_.names();
    return std::find(names.begin(), names.end(), name) != names.end();
  }
  Tensor<T> load(const std::string& name) const {
    if constexpr (std::is_same_v<T, float>) {
      return file_.load<float>(name).clone();
    } else {
      return Tensor<T>(psalm::cast<T>(file_.load<float>(name)));
    }
  }
  Tensor<float> load_f32(const std::string& name) const { return file_.load<float>(name); }

  /// Every leaf, in a fixed order, with its fixture name.
  std::vector<std::pair<std::string, Var<T>>> leaves() const {
    std::vector<std::pair<std::string, Var<T>>> out;
    for (std::size_t s = 0; s < sets.size(); ++s) {
      const std::string p = std::to_string(s) + ".";
      out.emplace_back(p + "masks", sets[s].masks);
      if (sets[s].class_logits.defined())
        out.emplace_back(p + "class_logits", sets[s].class_logits);
      if (sets[s].seg_logits.defined()) out.emplace_back(p + "seg_logits", sets[s].seg_logits);
      if (s < region_stacks.size() && region_stacks[s].defined())
        out.emplace_back(p + "region_logits", region_stacks[s]);
    }
    return out;
  }

  std::vector<Var<T>> region_stacks;  // (sum K_b, Q) per set, the leaves of the region logits

 private:
  static io::SafetensorsFile open(const std::string& name) {
    return io::SafetensorsFile::open(std::string(PSALM_TEST_FIXTURES_DIR) + "/psalm/criterion/" +
                                     name + ".safetensors");
  }
  Var<T> leaf(const std::string& name) const { return Var<T>::parameter(load(name)); }

  io::SafetensorsFile file_;
};

template <class T>
CriterionOutput<T> run_case(const Case<T>& c) {
  const Criterion<T> criterion(c.criterion, c.matcher);
  return criterion(c.sets, c.targets, c.task, c.points);
}

std::vector<std::int64_t> ints(const nlohmann::json& j) {
  return j.get<std::vector<std::int64_t>>();
}

double term_value(const CriterionOutput<double>& out, const std::string& name) {
  return out.term(name).value.value().item();
}

}  // namespace

TEST_CASE("criterion: matchings, every term and every input gradient match PyTorch + scipy",
          "[psalm][criterion]") {
  for (const char* name : kCases) {
    DYNAMIC_SECTION(name) {
      Case<float> c(name);
      const CriterionOutput<float> out = run_case(c);

      // Matchings of every set, exactly.
      const auto& want_m = c.meta.at("matchings");
      REQUIRE(out.matchings.size() == want_m.size());
      for (std::size_t s = 0; s < want_m.size(); ++s) {
        REQUIRE(out.matchings[s].size() == want_m[s].size());
        for (std::size_t b = 0; b < want_m[s].size(); ++b) {
          INFO("set " << s << " sample " << b);
          CHECK(out.matchings[s][b].queries == ints(want_m[s][b][0]));
          CHECK(out.matchings[s][b].targets == ints(want_m[s][b][1]));
        }
      }
      CHECK(out.num_masks == c.meta.at("num_masks").get<double>());

      // Every term, by name and in upstream's order.
      const auto& want_t = c.meta.at("terms");
      REQUIRE(out.terms.size() == want_t.size());
      for (std::size_t i = 0; i < want_t.size(); ++i) {
        const std::string tname = want_t[i][0].get<std::string>();
        const double want = want_t[i][1].get<double>();
        INFO("term " << tname);
        CHECK(out.terms[i].name == tname);
        const double got = out.terms[i].value.value().item();
        CHECK(std::fabs(got - want) <= kTermAtol + kTermRtol * std::fabs(want));
      }
      const double total = c.meta.at("total").get<double>();
      CHECK(std::fabs(out.total.value().item() - total) <= kTermAtol + kTermRtol * total);

      // d total / d every prediction input.
      autograd::backward(out.total);
      for (const auto& [leaf_name, v] : c.leaves()) {
        INFO("gradient of " << leaf_name);
        const Tensor<float> want = c.load_f32("grad." + leaf_name);
        const Tensor<float> got = v.grad().defined() ? v.grad() : Tensor<float>::zeros(v.shape());
        testing::require_close(got, want, kGradRtol, kGradAtol);
      }
    }
  }
}

TEST_CASE("criterion: gradients of the total match central finite differences in double",
          "[psalm][criterion]") {
  for (const char* name :
       {"classes", "referring", "regions", "referring_no_target", "classes_no_target"}) {
    DYNAMIC_SECTION(name) {
      Case<double> c(name);
      const auto out = run_case(c);
      autograd::backward(out.total);
      // A fixed spread of elements of every input (the whole criterion runs per evaluation).
      std::vector<std::pair<Var<double>, std::int64_t>> probes;
      std::vector<double> analytic;
      for (const auto& [leaf_name, v] : c.leaves()) {
        const std::vector<double> g = v.grad().contiguous().to_vector();
        const std::int64_t n = v.numel(), step = std::max<std::int64_t>(1, n / 12);
        for (std::int64_t i = (n / 7) % step; i < n; i += step) {
          probes.emplace_back(v, i);
          analytic.push_back(g[static_cast<std::size_t>(i)]);
        }
      }
      std::vector<double> x;
      for (const auto& [v, i] : probes) x.push_back(v.value().data()[i]);
      auto loss = [&](const std::vector<double>& values) {
        for (std::size_t k = 0; k < probes.size(); ++k)
          probes[k].first.value().data()[probes[k].second] = values[k];
        const autograd::NoGrad no_grad;
        return run_case(c).total.value().item();
      };
      testing::require_gradients_match(analytic, testing::numeric_gradient(loss, x));
    }
  }
}

TEST_CASE("criterion: a no-target sample trains every query towards no object",
          "[psalm][criterion]") {
  SECTION("referring: SEG logits of the no-target sample are all pushed down") {
    Case<float> c("referring_no_target");
    const auto out = run_case(c);
    autograd::backward(out.total);
    for (const auto& set : out.matchings) CHECK(set[0].size() == 0);
    for (const Prediction<float>& p : c.sets) {
      const std::vector<float> g = p.seg_logits.grad().to_vector();  // (2, Q, 1)
      for (std::int64_t q = 0; q < 8; ++q) CHECK(g[static_cast<std::size_t>(q)] > 0.0f);
      const std::vector<float> gm = p.masks.grad().to_vector();  // sample 0: no mask term
      for (std::size_t i = 0; i < gm.size() / 2; ++i) CHECK(gm[i] == 0.0f);
    }
  }
  SECTION("classes: every query of the no-target sample raises the background logit") {
    Case<float> c("classes_no_target");
    const auto out = run_case(c);
    autograd::backward(out.total);
    for (const Prediction<float>& p : c.sets) {
      const Tensor<float> g = p.class_logits.grad();  // (2, Q, C)
      for (std::int64_t q = 0; q < 8; ++q) CHECK(g.item({1, q, 5}) < 0.0f);
    }
  }
  SECTION("no target in the whole batch: mask terms are 0, backward still runs") {
    for (const char* name : {"classes_all_empty", "referring_all_empty", "regions_all_empty"}) {
      Case<float> c(name);
      const auto out = run_case(c);
      CHECK(out.num_masks == 1.0);
      for (const auto& t : out.terms)
        if (t.name.rfind("loss_mask", 0) == 0 || t.name.rfind("loss_dice", 0) == 0)
          CHECK(t.value.value().item() == 0.0f);
      REQUIRE(out.total.requires_grad());
      autograd::backward(out.total);
      for (const auto& [leaf_name, v] : c.leaves()) {
        INFO(leaf_name);
        CHECK(v.grad().defined());
      }
    }
  }
}

TEST_CASE("criterion: the seeded sampler draws in the documented order and is reproducible",
          "[psalm][criterion]") {
  Case<float> c("regions");
  const Criterion<float> criterion(c.criterion, c.matcher);
  PointSampler a(42), b(42), replay(42);
  const auto out_a = criterion(c.sets, c.targets, c.task, a);
  const auto out_b = criterion(c.sets, c.targets, c.task, b);
  CHECK(out_a.total.value().item() == out_b.total.value().item());
  CHECK(a.next_stream() == 9);  // 3 sets x (matcher, oversampled, fresh)

  // The same points passed explicitly in the documented order give the same loss.
  const ImportanceCounts n = c.criterion.counts();
  std::vector<SetPoints<float>> pts(c.sets.size());
  for (const std::size_t s : criterion.supervised_sets(c.sets.size())) {
    pts[s].matcher = replay.uniform<float>(3, c.matcher.num_points);
    std::int64_t m = 0;
    for (const Matching& mm : out_a.matchings[s]) m += static_cast<std::int64_t>(mm.size());
    pts[s].oversampled = replay.uniform<float>(m, n.num_oversampled);
    pts[s].fresh = replay.uniform<float>(m, n.num_fresh);
  }
  const auto out_c = criterion(c.sets, c.targets, c.task, pts);
  CHECK(out_c.total.value().item() == out_a.total.value().item());
  for (std::size_t s = 0; s < c.sets.size(); ++s) CHECK(out_c.matchings[s] == out_a.matchings[s]);

  PointSampler other(43);
  const auto out_d = criterion(c.sets, c.targets, c.task, other);
  CHECK(out_d.total.value().item() != out_a.total.value().item());
}

TEST_CASE("criterion: deep supervision off supervises the final set only; the averaging hook",
          "[psalm][criterion]") {
  Case<double> c("referring");
  CriterionConfig cfg = c.criterion;
  const auto full = run_case(c);
  cfg.deep_supervision = false;
  const Criterion<double> final_only(cfg, c.matcher);
  const auto out = final_only(c.sets, c.targets, c.task, c.points);
  REQUIRE(out.terms.size() == 3);
  CHECK(out.terms[0].name == "loss_SEG_class");
  CHECK(out.matchings[0].empty());
  CHECK(out.matchings[2] == full.matchings[2]);
  for (const auto& t : out.terms) CHECK(t.value.value().item() == term_value(full, t.name));

  // Counts averaged over processes (here: twice the local ones) divide the terms.
  Criterion<double> reduced(c.criterion, c.matcher);
  reduced.average_over_processes = [](std::span<double> v) {
    for (double& x : v) x *= 2.0;
  };
  const auto r = reduced(c.sets, c.targets, c.task, c.points);
  CHECK(r.num_masks == 2.0 * full.num_masks);
  CHECK(term_value(r, "loss_mask") ==
        Approx(term_value(full, "loss_mask") / 2).epsilon(tol::f64_rtol));
  CHECK(term_value(r, "loss_dice_1") ==
        Approx(term_value(full, "loss_dice_1") / 2).epsilon(tol::f64_rtol));
}

namespace {

/// The samples `keep` of a case's prediction sets (slices of the same leaves) and targets.
template <class T>
std::pair<std::vector<Prediction<T>>, std::vector<SampleTargets<>>> subset(
    const Case<T>& c, const std::vector<std::int64_t>& keep) {
  std::vector<Prediction<T>> sets;
  for (std::size_t set = 0; set < c.sets.size(); ++set) {
    const Prediction<T>& p = c.sets[set];
    Prediction<T> s;
    auto rows = [&](const Var<T>& v) {
      if (!v.defined()) return v;
      std::vector<Var<T>> parts;
      for (const std::int64_t i : keep) parts.push_back(autograd::slice(v, 0, i, i + 1));
      return parts.size() == 1 ? parts.front() : autograd::concat(parts, 0);  // (|keep|, ...)
    };
    s.masks = rows(p.masks);
    s.class_logits = rows(p.class_logits);
    s.seg_logits = rows(p.seg_logits);
    // Region logits sliced afresh from the stacked leaf: the case's own slices were recorded
    // on a tape that an earlier backward has consumed.
    const bool stacked = set < c.region_stacks.size() && c.region_stacks[set].defined();
    for (const std::int64_t i : keep) {
      if (p.region_logits.empty()) continue;
      std::int64_t at = 0;
      for (std::int64_t j = 0; j < i; ++j) at += c.targets[static_cast<std::size_t>(j)].count();
      const std::int64_t k = c.targets[static_cast<std::size_t>(i)].count();
      s.region_logits.push_back(stacked ? autograd::slice(c.region_stacks[set], 0, at, at + k)
                                        : p.region_logits[static_cast<std::size_t>(i)]);
    }
    sets.push_back(s);
  }
  std::vector<SampleTargets<>> targets;
  for (const std::int64_t i : keep) targets.push_back(c.targets[static_cast<std::size_t>(i)]);
  return {sets, targets};
}

}  // namespace

TEST_CASE("criterion: two processes holding halves of a batch equal one process holding it",
          "[psalm][criterion][dist]") {
  // Data parallel: each "process" computes the loss of its samples with the normalisers
  // averaged over both (the hook), and the mean of their totals (what averaging gradients
  // differentiates) is the whole batch's loss, term by term and in every gradient. Points
  // are keyed by sample, so a sample draws the same points in either layout.
  for (const char* name : {"classes", "referring", "regions"}) {
    DYNAMIC_SECTION(name) {
      const Case<double> c(name);
      const auto b = static_cast<std::int64_t>(c.targets.size());
      SamplePointStreams all{.seed = 7, .sample_ids = {}};
      for (std::int64_t i = 0; i < b; ++i) all.sample_ids.push_back(100 + 3 * i);
      const Criterion<double> one(c.criterion, c.matcher);
      const auto whole = one(c.sets, c.targets, c.task, all);
      autograd::backward(whole.total);
      std::vector<Tensor<double>> want;
      for (const auto& [leaf, v] : c.leaves()) {
        want.push_back(v.grad().defined() ? v.grad().clone() : Tensor<double>::zeros(v.shape()));
        Var<double>(v).zero_grad();
      }

      const std::vector<std::vector<std::int64_t>> halves = {{0}, [&] {
                                                               std::vector<std::int64_t> r;
                                                               for (std::int64_t i = 1; i < b; ++i)
                                                                 r.push_back(i);
                                                               return r;
                                                             }()};
      // Each half's own normalisers (recorded), then their mean as the hook's answer.
      std::vector<std::vector<double>> local(2);
      std::vector<SamplePointStreams> streams(2, SamplePointStreams{.seed = 7, .sample_ids = {}});
      for (std::size_t r = 0; r < 2; ++r) {
        for (const std::int64_t i : halves[r])
          streams[r].sample_ids.push_back(all.sample_ids[static_cast<std::size_t>(i)]);
        Criterion<double> probe(c.criterion, c.matcher);
        probe.average_over_processes = [&, r](std::span<double> v) {
          local[r].assign(v.begin(), v.end());
        };
        const autograd::NoGrad no_grad;
        const auto [sets, targets] = subset(c, halves[r]);
        (void)probe(sets, targets, c.task, streams[r]);
      }
      std::vector<CriterionOutput<double>> parts, alone;
      for (std::size_t r = 0; r < 2; ++r) {
        Criterion<double> dp(c.criterion, c.matcher);
        dp.average_over_processes = [&](std::span<double> v) {
          for (std::size_t k = 0; k < v.size(); ++k) v[k] = (local[0][k] + local[1][k]) / 2;
        };
        const auto [sets, targets] = subset(c, halves[r]);
        parts.push_back(dp(sets, targets, c.task, streams[r]));
        const autograd::NoGrad no_grad;
        alone.push_back(one(sets, targets, c.task, streams[r]));
      }
      std::size_t differ_alone = 0;
      for (const auto& t : whole.terms) {
        INFO("term " << t.name);
        const double mean = (term_value(parts[0], t.name) + term_value(parts[1], t.name)) / 2;
        CHECK(mean == Approx(t.value.value().item()).epsilon(1e-12).margin(1e-14));
        // Without the hook each half normalises by its own counts: not the batch's loss.
        const double local_mean = (term_value(alone[0], t.name) + term_value(alone[1], t.name)) / 2;
        if (std::fabs(local_mean - t.value.value().item()) > 1e-6) ++differ_alone;
      }
      CHECK(differ_alone > 0);
      autograd::backward(autograd::scale(parts[0].total + parts[1].total, 0.5));
      std::size_t k = 0;
      for (const auto& [leaf, v] : c.leaves()) {
        INFO("gradient of " << leaf);
        const Tensor<double> got = v.grad().defined() ? v.grad() : Tensor<double>::zeros(v.shape());
        testing::require_close(got, want[k++], 1e-10, 1e-13);
      }
    }
  }
}

TEST_CASE("criterion: bad inputs are clear errors", "[psalm][criterion]") {
  Case<float> c("classes");
  const Criterion<float> criterion(c.criterion, c.matcher);
  SECTION("targets for another batch size") {
    auto t = c.targets;
    t.pop_back();
    CHECK_THROWS_WITH(criterion(c.sets, t, c.task, c.points),
                      Catch::Contains("samples of targets"));
  }
  SECTION("a label outside the named classes (the last class is background)") {
    auto t = c.targets;
    t[0].labels[0] = 5;
    CHECK_THROWS_WITH(criterion(c.sets, t, c.task, c.points), Catch::Contains("background"));
  }
  SECTION("labels and masks disagree") {
    auto t = c.targets;
    t[1].labels.push_back(0);
    CHECK_THROWS_WITH(criterion(c.sets, t, c.task, c.points), Catch::Contains("labels"));
  }
  SECTION("a referring task without SEG logits") {
    CHECK_THROWS_WITH(criterion(c.sets, c.targets, Task::referring, c.points),
                      Catch::Contains("SEG logits"));
  }
  SECTION("region logits that do not match the targets") {
    auto sets = c.sets;
    for (auto& p : sets) p.region_logits = {Var<float>(Tensor<float>::zeros({2, 8}))};
    CHECK_THROWS_WITH(criterion(sets, c.targets, Task::interactive, c.points),
                      Catch::Contains("region logits"));
  }
  SECTION("points of the wrong shape") {
    auto pts = c.points;
    pts[2].oversampled = pts[2].oversampled.slice(1, 0, 10);
    CHECK_THROWS_WITH(criterion(c.sets, c.targets, c.task, pts),
                      Catch::Contains("oversampled points must be"));
    auto pts2 = c.points;
    pts2.pop_back();
    CHECK_THROWS_WITH(criterion(c.sets, c.targets, c.task, pts2), Catch::Contains("points for"));
  }
  SECTION("target masks of different sizes") {
    auto t = c.targets;
    t[1].masks = Tensor<float>::zeros({2, 32, 32});
    CHECK_THROWS_WITH(criterion(c.sets, t, c.task, c.points),
                      Catch::Contains("pad them to the input size"));
  }
}

TEST_CASE("matcher: cost functors against per-pair losses; composition; class cost absent",
          "[psalm][matcher]") {
  const Tensor<double> pred = Tensor<double>::randn({4, 9}, 3, 0.0, 2.0);  // (Q, P)
  Tensor<double> tgt(Tensor<double>::rand({3, 9}, 4) > 0.5);               // (N, P)
  MatchInputs<double> in{pred, tgt, Tensor<double>::randn({4, 5}, 5), {1, 4, 0}, {}};
  const Tensor<double> bce = MaskBceCost{}(in), dice = DiceCost{}(in), cls = ClassCost{}(in);
  REQUIRE(bce.shape() == Shape({4, 3}));
  // Independent path: the autograd losses on each pair alone.
  for (std::int64_t q = 0; q < 4; ++q)
    for (std::int64_t n = 0; n < 3; ++n) {
      const Var<double> x(pred.slice(0, q, q + 1).contiguous());  // (1, P)
      const Tensor<double> y = tgt.slice(0, n, n + 1).contiguous();
      const double want_bce = autograd::binary_cross_entropy_with_logits(x, y).value().item();
      const double want_dice = autograd::dice_loss(x, y).value().item();
      CHECK(bce.item({q, n}) == Approx(want_bce).epsilon(tol::f64_rtol));
      CHECK(dice.item({q, n}) == Approx(want_dice).epsilon(tol::f64_rtol));
      const Tensor<double> logits = in.class_logits;
      double z = 0;
      for (std::int64_t k = 0; k < 5; ++k) z += std::exp(logits.item({q, k}));
      CHECK(cls.item({q, n}) ==
            Approx(-std::exp(logits.item({q, in.labels[static_cast<std::size_t>(n)]})) / z)
                .epsilon(tol::f64_rtol));
    }

  // PSALM's matcher = 5 bce + 2 class + 5 dice; without class logits the class term is absent.
  const auto psalm = HungarianMatcher<double>::psalm(MatcherConfig{});
  const Tensor<double> total = psalm.cost_matrix(in);
  for (std::int64_t q = 0; q < 4; ++q)
    for (std::int64_t n = 0; n < 3; ++n)
      CHECK(total.item({q, n}) ==
            Approx(5 * bce.item({q, n}) + 2 * cls.item({q, n}) + 5 * dice.item({q, n}))
                .epsilon(tol::f64_rtol));
  MatchInputs<double> no_class{pred, tgt, {}, {}, {}};
  const Tensor<double> masks_only = psalm.cost_matrix(no_class);
  CHECK(masks_only.item({1, 2}) ==
        Approx(5 * bce.item({1, 2}) + 5 * dice.item({1, 2})).epsilon(tol::f64_rtol));

  // A custom term composes: a huge cost everywhere except query 3 <-> target n forces it.
  HungarianMatcher<double> custom = HungarianMatcher<double>::psalm(MatcherConfig{});
  custom.add("prefer_last_query", 1.0, [](const MatchInputs<double>& m) {
    Tensor<double> c = Tensor<double>::full({m.queries(), m.targets()}, 1e3);
    for (std::int64_t n = 0; n < m.targets(); ++n) c.data()[3 * m.targets() + n] = 0.0;
    c.data()[3 * m.targets() + 1] = -1e3;
    return c;
  });
  const Matching forced = custom.match(in);
  REQUIRE(forced.size() == 3);
  CHECK(forced.queries[2] == 3);
  CHECK(forced.targets[2] == 1);

  // No targets or no predictions: an empty matching.
  MatchInputs<double> none{pred, Tensor<double>::zeros({0, 9}), {}, {}, {}};
  CHECK(psalm.match(none).size() == 0);
}

TEST_CASE("matcher: one set of points per image, shared by every prediction and target",
          "[psalm][matcher]") {
  // Two identical predictions sampled at one set of points see identical values, so the
  // point-sampled inputs equal a direct grid_sample of each mask with the same points.
  const Tensor<float> masks = Tensor<float>::randn({3, 6, 6}, 8);    // (Q, H, W)
  Tensor<float> targets(Tensor<float>::rand({2, 12, 12}, 9) > 0.5);  // (N, Ht, Wt)
  PointSampler sampler(1);
  const Tensor<float> pts = sampler.uniform<float>(1, 20).view({20, 2});  // (P, 2)
  const MatchInputs<float> in = sample_match_inputs(masks, targets, pts);
  for (std::int64_t q = 0; q < 3; ++q) {
    const Tensor<float> one = point_sample_values(
        masks.slice(0, q, q + 1).unsqueeze(0).contiguous(), pts.unsqueeze(0).contiguous());
    testing::require_close(in.pred_points.slice(0, q, q + 1).contiguous(), one.view({1, 20}),
                           testing::tol::f32_rtol, testing::tol::f32_atol);
  }
  CHECK(in.target_points.shape() == Shape({2, 20}));
  CHECK_THROWS_WITH(
      HungarianMatcher<float>::psalm(MatcherConfig{})(
          masks.unsqueeze(0), {}, {SampleTargets<>{targets, {}}}, sampler.uniform<float>(1, 20)),
      Catch::Contains("the config asks for 12544"));
}

TEST_CASE("point sampling: importance counts, top-k of -|logit| then the fresh points",
          "[psalm][point_sampling]") {
  const ImportanceCounts psalm = ImportanceCounts::of(12544, 3.0, 0.75);
  CHECK(psalm.num_oversampled == 37632);
  CHECK(psalm.num_uncertain == 9408);
  CHECK(psalm.num_fresh == 3136);
  const ImportanceCounts odd = ImportanceCounts::of(64, 2.5, 0.7);  // int() truncates
  CHECK(odd.num_oversampled == 160);
  CHECK(odd.num_uncertain == 44);
  CHECK(odd.num_fresh == 20);
  CHECK_THROWS_WITH(ImportanceCounts::of(64, 0.5, 0.7), Catch::Contains("oversample_ratio"));

  // A 2x2 logit plane; candidates at the pixel centres read the pixel values exactly.
  const Tensor<float> logits = Tensor<float>::from_data({3.0f, -0.5f, 0.25f, -2.0f}, {1, 1, 2, 2});
  const Tensor<float> cand =
      Tensor<float>::from_data({0.25f, 0.25f, 0.75f, 0.25f, 0.25f, 0.75f, 0.75f, 0.75f},
                               {1, 4, 2});  // values 3, -.5, .25, -2
  const Tensor<float> fresh = Tensor<float>::from_data({0.1f, 0.9f}, {1, 1, 2});  // (1, 1, 2)
  const std::vector<float> got = uncertain_points(logits, cand, fresh, 2).to_vector();
  // Most uncertain first: |0.25| (0.25, 0.75), then |-0.5| (0.75, 0.25); then the fresh point.
  CHECK(got == std::vector<float>{0.25f, 0.75f, 0.75f, 0.25f, 0.1f, 0.9f});
  CHECK_THROWS_WITH(uncertain_points(logits, cand, fresh, 5), Catch::Contains("cannot keep"));
  const Tensor<float> bad = Tensor<float>::from_data({NAN, 0.f, 0.f, 0.f}, {1, 1, 2, 2});
  CHECK_THROWS_WITH(uncertain_points(bad, cand, fresh, 2), Catch::Contains("non-finite"));
}

TEST_CASE(
    "point sampling: the seeded sampler is reproducible, uniform in [0, 1), one stream per draw",
    "[psalm][point_sampling]") {
  PointSampler a(7), b(7);
  const Tensor<float> x = a.uniform<float>(3, 50), y = b.uniform<float>(3, 50);
  CHECK(x.shape() == Shape({3, 50, 2}));
  CHECK(x.to_vector() == y.to_vector());
  CHECK(a.uniform<float>(3, 50).to_vector() != x.to_vector());  // the next stream
  for (const float v : x.to_vector()) CHECK((v >= 0.0f && v < 1.0f));
  double mean = 0;
  const std::vector<double> many = PointSampler(9).uniform<double>(1, 5000).to_vector();
  for (const double v : many) mean += v / static_cast<double>(many.size());
  CHECK(std::fabs(mean - 0.5) < 0.02);
}

TEST_CASE("criterion: cost_region matches duplicate masks by their region score",
          "[psalm][criterion][matcher]") {
  // Queries 0 and 1 both draw the left half (query 1 misses one pixel), query 2 the right half.
  // Matching on masks alone (upstream, cost_region 0) gives region 0 to query 0 whatever the
  // region logits say, so the region target lands on a query the head scores low; with
  // cost_region the query that already scores high for the region (1) is taken.
  Tensor<float> logits(Shape{1, 3, 4, 4});  // (B, Q, H, W)
  for (std::int64_t y = 0; y < 4; ++y)
    for (std::int64_t x = 0; x < 4; ++x) {
      const bool left = x < 2;
      logits.data()[0 * 16 + y * 4 + x] = left ? 6.f : -6.f;
      logits.data()[1 * 16 + y * 4 + x] = left && (x > 0 || y > 0) ? 6.f : -6.f;
      logits.data()[2 * 16 + y * 4 + x] = left ? -6.f : 6.f;
    }
  Tensor<float> halves = Tensor<float>::zeros({2, 8, 8});  // (N, Ht, Wt): left, right
  for (std::int64_t y = 0; y < 8; ++y)
    for (std::int64_t x = 0; x < 8; ++x) halves.data()[(x < 4 ? 0 : 64) + y * 8 + x] = 1.f;
  CriterionConfig cc;
  cc.num_points = 64;
  cc.deep_supervision = false;
  MatcherConfig mc;
  mc.num_points = 64;
  Prediction<float> p;
  p.masks = Var<float>(logits);
  p.region_logits.push_back(Var<float>(Tensor<float>::from_data(
      {-4.f, 4.f, -4.f, -4.f, -4.f, 4.f}, {2, 3})));  // (K, Q): region 0 -> 1, region 1 -> 2
  const std::vector<SampleTargets<>> targets{{halves, {}}};
  auto matched = [&](Task task) {
    PointSampler sampler(3);
    return Criterion<float>(cc, mc)({p}, targets, task, sampler).matchings[0][0];
  };
  CHECK(matched(Task::interactive).queries == std::vector<std::int64_t>{0, 2});
  mc.cost_region = 5.0;
  const Matching m = matched(Task::interactive);
  CHECK(m.queries == std::vector<std::int64_t>{1, 2});
  CHECK(m.targets == std::vector<std::int64_t>{0, 1});

  // The term itself: -sigmoid of the (Q, N) logits; absent without them.
  MatchInputs<float> in;
  in.pred_points = Tensor<float>::zeros({2, 5});
  in.target_points = Tensor<float>::zeros({1, 5});
  CHECK_FALSE(RegionCost{}(in).defined());
  in.region_logits = Tensor<float>::from_data({0.f, 2.f}, {2, 1});
  const Tensor<float> cost = RegionCost{}(in);
  CHECK(cost.item({0, 0}) == Approx(-0.5f));
  CHECK(cost.item({1, 0}) == Approx(-1.f / (1.f + std::exp(-2.f))));
  in.region_logits = Tensor<float>::zeros({1, 2});
  CHECK_THROWS_WITH(RegionCost{}(in), Catch::Contains("must be (2, 1)"));
  CHECK(HungarianMatcher<float>::psalm(mc).terms().back().name == "region");
  CHECK(HungarianMatcher<float>::psalm(MatcherConfig{}).terms().size() == 3);  // upstream's
}

TEST_CASE("criterion: configs read the composition's JSON names and reject bad values",
          "[psalm][criterion]") {
  const auto r = io::ConfigReader::from_text(
      R"({"matcher": {"cost_class": 1.5, "cost_mask": 4.0, "cost_dice": 3.0, "num_points": 100,
                      "cost_region": 0.5},
          "criterion": {"class_weight": 1.0, "mask_weight": 2.0, "dice_weight": 3.0,
                        "no_object_weight": 0.2, "num_points": 50, "oversample_ratio": 2.0,
                        "importance_sample_ratio": 0.5, "deep_supervision": false}})",
      "config.json");
  const MatcherConfig m = MatcherConfig::from_json(r.child("matcher"));
  CHECK(m.cost_class == 1.5);
  CHECK(m.cost_mask == 4.0);
  CHECK(m.cost_dice == 3.0);
  CHECK(m.num_points == 100);
  CHECK(m.cost_region == 0.5);
  CHECK(MatcherConfig::from_json(io::ConfigReader::from_text("{}", "m")).cost_region == 0.0);
  const CriterionConfig c = CriterionConfig::from_json(r.child("criterion"));
  CHECK(c.class_weight == 1.0);
  CHECK(c.mask_weight == 2.0);
  CHECK(c.dice_weight == 3.0);
  CHECK(c.no_object_weight == 0.2);
  CHECK(c.num_points == 50);
  CHECK(c.oversample_ratio == 2.0);
  CHECK(c.importance_sample_ratio == 0.5);
  CHECK_FALSE(c.deep_supervision);
  const CriterionConfig d = CriterionConfig::from_json(io::ConfigReader::from_text("{}", "d"));
  CHECK(d.num_points == 12544);
  CHECK(d.deep_supervision);
  CHECK_THROWS_WITH(
      MatcherConfig::from_json(io::ConfigReader::from_text(R"({"cost_dice": -1})", "m.json")),
      Catch::Contains("matcher.cost_dice"));
  CHECK_THROWS_WITH(MatcherConfig::from_json(io::ConfigReader::from_text(
                        R"({"cost_class": 0, "cost_mask": 0, "cost_dice": 0})", "m.json")),
                    Catch::Contains("cannot all be 0"));
  CHECK_THROWS_WITH(CriterionConfig::from_json(io::ConfigReader::from_text(
                        R"({"importance_sample_ratio": 1.5})", "c.json")),
                    Catch::Contains("criterion.importance_sample_ratio"));
  CHECK_THROWS_WITH(
      CriterionConfig::from_json(io::ConfigReader::from_text(R"({"num_points": "x"})", "c.json")),
      Catch::Contains("num_points"));
}
