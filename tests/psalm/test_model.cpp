// Tests of psalm/psalm/model.hpp (with config.hpp, weights.hpp, embedding.hpp, conditions.hpp):
// the whole PSALM forward pass against the PyTorch composition of tools/reference/
// psalm_reference.py on the parity fixture (tests/fixtures/psalm/parity, written by
// psalm_fixtures.py): a tiny random model in the released key layout, one batch per task
// (panoptic with shuffled classes, referring, gres with a no-target sample, interactive with
// all four prompt kinds); every intermediate and every prediction set is compared.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include <map>

#include "psalm/autograd/no_grad.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/psalm/criterion.hpp"
#include "psalm/psalm/sequence_batch.hpp"
#include "psalm/psalm/weights.hpp"
#include "support/fixtures.hpp"
#include "support/tolerances.hpp"

using namespace psalm;

namespace {

const std::string kDir = std::string(PSALM_TEST_FIXTURES_DIR) + "/psalm/parity/";

using testing::require_close_to_max;

/// The SequenceBatch of the case's layouts (stored in psalm::SequenceLayout form), right-padded.
SequenceBatch batch_of(const nlohmann::json& samples) {
  std::vector<SequenceLayout> layouts;
  for (const nlohmann::json& sample : samples) {
    const nlohmann::json& lay = sample.at("layout");
    SequenceLayout l;
    l.token_ids = lay.at("token_ids").get<std::vector<std::int64_t>>();
    for (int v : lay.at("source").get<std::vector<int>>())
      l.source.push_back(static_cast<TokenSource>(v));
    l.source_index = lay.at("source_index").get<std::vector<std::int64_t>>();
    l.class_index = lay.at("class_index").get<std::vector<std::int64_t>>();
    for (int v : lay.at("refer_mask").get<std::vector<int>>())
      l.refer_mask.push_back(static_cast<std::uint8_t>(v));
    l.labels.assign(l.token_ids.size(), kIgnoreIndex);
    l.num_classes = static_cast<std::int64_t>(sample.at("prompt").at("class_name_ids").size());
    l.num_regions = sample.at("num_regions").get<std::int64_t>();
    layouts.push_back(std::move(l));
  }
  return batch_sequences(layouts);
}

PsalmModel<float> load_parity_model() {
  const PsalmConfig config =
      PsalmConfig::from_json(io::ConfigReader::from_file(kDir + "config.json"));
  nn::InitRng rng = nn::InitRng::for_loading();
  PsalmModel<float> model(config, rng);
  load_psalm_weights(model, io::SafetensorsFile::open(kDir + "weights.safetensors"));
  return model;
}

/// The case's inputs as a PsalmBatch.
PsalmBatch<float> inputs_of(const nlohmann::json& c, const io::SafetensorsFile& t) {
  PsalmBatch<float> batch;
  batch.task = parse_task(c.at("task").get<std::string>());
  batch.pixels = t.load<float>("pixels");
  batch.sequence = batch_of(c.at("samples"));
  REQUIRE(batch.sequence.length() == c.at("padded_length").get<std::int64_t>());
  if (batch.task == Task::interactive)
    for (std::size_t b = 0; b < c.at("samples").size(); ++b)
      batch.region_points.push_back(t.load<float>("region_points." + std::to_string(b)));
  return batch;
}

}  // namespace

TEST_CASE("psalm model: the parity fixture's config round-trips through JSON", "[psalm][model]") {
  const PsalmConfig c = PsalmConfig::from_json(io::ConfigReader::from_file(kDir + "config.json"));
  CHECK(c.image_size == 64);
  CHECK(c.num_image_tokens() == 4);
  const PsalmConfig again =
      PsalmConfig::from_json(io::ConfigReader::from_text(c.to_json().dump(), "round trip"));
  CHECK(again.to_json() == c.to_json());
  for (const PsalmConfig& preset : {PsalmConfig::psalm_swin_b_phi_1_5(), PsalmConfig::psalm_tiny()})
    CHECK_NOTHROW(preset.validate());
  CHECK(PsalmConfig::psalm_swin_b_phi_1_5().num_image_tokens() == 256);
}

TEST_CASE("psalm model: forward matches the PyTorch composition for every task", "[psalm][model]") {
  PsalmModel<float> model = load_parity_model();
  model.train();  // the fixture runs PyTorch in train mode: the projector's BN uses batch stats
  const nlohmann::json cases = testing::load_json("psalm/parity/cases.json").at("cases");
  const double rtol = testing::tol::psalm_forward_rtol, atol = testing::tol::psalm_forward_atol;
  for (const nlohmann::json& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    INFO("case " << name);
    const io::SafetensorsFile t = io::SafetensorsFile::open(kDir + c.at("file").get<std::string>());
    const PsalmBatch<float> batch = inputs_of(c, t);
    const PsalmOutput<float> out = model(batch);
    require_close_to_max(out.image_tokens.value(), t.load<float>("image_tokens"), "image_tokens",
                         rtol, atol);
    require_close_to_max(out.inputs_embeds.value(), t.load<float>("inputs_embeds"), "inputs_embeds",
                         rtol, atol);
    require_close_to_max(out.hidden.value(), t.load<float>("hidden"), "hidden", rtol, atol);
    require_close_to_max(out.queries.value(), t.load<float>("queries"), "queries", rtol, atol);
    const Conditions<float>& cond = out.conditions;
    if (cond.class_conditions.defined())
      require_close_to_max(cond.class_conditions.value(), t.load<float>("class_conditions"),
                           "class_conditions", rtol, atol);
    if (cond.referring_conditions.defined())
      require_close_to_max(cond.referring_conditions.value(), t.load<float>("referring_conditions"),
                           "referring_conditions", rtol, atol);
    for (std::size_t b = 0; b < cond.region_conditions.size(); ++b)
      require_close_to_max(cond.region_conditions[b].value(),
                           t.load<float>("region_conditions." + std::to_string(b)),
                           "region_conditions", rtol, atol);
    REQUIRE(out.predictions.size() == 4);
    for (std::size_t s = 0; s < out.predictions.size(); ++s) {
      const std::string p = "out." + std::to_string(s) + ".";
      const Prediction<float>& pred = out.predictions[s];
      require_close_to_max(pred.masks.value(), t.load<float>(p + "pred_masks"), p + "pred_masks",
                           rtol, atol);
      if (pred.class_logits.defined())
        require_close_to_max(pred.class_logits.value(), t.load<float>(p + "pred_class_name_logits"),
                             p + "pred_class_name_logits", rtol, atol);
      if (pred.seg_logits.defined())
        require_close_to_max(pred.seg_logits.value(), t.load<float>(p + "pred_SEG_logits"),
                             p + "pred_SEG_logits", rtol, atol);
      for (std::size_t b = 0; b < pred.region_logits.size(); ++b)
        require_close_to_max(pred.region_logits[b].value(),
                             t.load<float>(p + "pred_region_logits." + std::to_string(b)),
                             p + "pred_region_logits", rtol, atol);
    }
  }
}

namespace {

/// The case's targets (masks at T x T, labels) as the criterion reads them.
std::vector<SampleTargets<cpu>> targets_of(const nlohmann::json& c, const io::SafetensorsFile& t,
                                           std::int64_t side) {
  std::vector<SampleTargets<cpu>> out;
  const nlohmann::json& samples = c.at("samples");
  for (std::size_t b = 0; b < samples.size(); ++b) {
    SampleTargets<cpu> s;
    const std::int64_t n = samples[b].at("num_targets").get<std::int64_t>();
    s.masks = n == 0 ? Tensor<float>::zeros(Shape{0, side, side})
                     : Tensor<float>(cast<float>(t.load<std::uint8_t>(
                           "targets." + std::to_string(b) + ".masks")));  // (N, T, T)
    if (!samples[b].at("target_labels").is_null())
      s.labels = samples[b].at("target_labels").get<std::vector<std::int64_t>>();
    out.push_back(std::move(s));
  }
  return out;
}

/// The fixture's random points per prediction set; no-target samples have no matcher points
/// (zeros stand in: the matcher never reads them).
std::vector<SetPoints<float>> points_of(const nlohmann::json& c, const io::SafetensorsFile& t,
                                        std::int64_t sets, std::int64_t matcher_points) {
  std::vector<SetPoints<float>> out;
  const nlohmann::json& samples = c.at("samples");
  const auto b = static_cast<std::int64_t>(samples.size());
  for (std::int64_t s = 0; s < sets; ++s) {
    SetPoints<float> p;
    p.matcher = Tensor<float>::zeros(Shape{b, matcher_points, 2});  // (B, Pm, 2)
    for (std::int64_t i = 0; i < b; ++i) {
      const std::string name = "matcher_points." + std::to_string(s) + "." + std::to_string(i);
      if (t.contains(name)) p.matcher.select(0, i).assign(t.load<float>(name));
    }
    const std::string prefix = "criterion_points." + std::to_string(s) + ".";
    if (t.contains(prefix + "oversampled")) {
      p.oversampled = t.load<float>(prefix + "oversampled");
      p.fresh = t.load<float>(prefix + "fresh");
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

TEST_CASE("psalm model: matching, every loss term and every gradient match PyTorch",
          "[psalm][model][criterion]") {
  PsalmModel<float> model = load_parity_model();
  model.train();
  const PsalmConfig& config = model.config();
  const Criterion<float> criterion(config.criterion, config.matcher);
  const nlohmann::json fixture = testing::load_json("psalm/parity/cases.json");
  const double rtol = testing::tol::psalm_forward_rtol, atol = testing::tol::psalm_forward_atol;
  const double grad_rtol = testing::tol::psalm_grad_rtol, grad_atol = testing::tol::psalm_grad_atol;
  std::map<std::string, Tensor<float>> grad_sum;
  for (const nlohmann::json& c : fixture.at("cases")) {
    INFO("case " << c.at("name").get<std::string>());
    const io::SafetensorsFile t = io::SafetensorsFile::open(kDir + c.at("file").get<std::string>());
    const PsalmBatch<float> batch = inputs_of(c, t);
    model.zero_grad();
    PsalmOutput<float> out = model(batch);
    for (Var<float>* v : {&out.image_tokens, &out.inputs_embeds, &out.hidden, &out.queries})
      v->retain_grad();
    const std::vector<SampleTargets<cpu>> targets = targets_of(c, t, config.image_size);
    const CriterionOutput<float> loss =
        criterion(out.predictions, targets, batch.task,
                  points_of(c, t, static_cast<std::int64_t>(out.predictions.size()),
                            config.matcher.num_points));

    // The matching of every prediction set and sample.
    const nlohmann::json& matching = c.at("matching");
    REQUIRE(loss.matchings.size() == matching.size());
    for (std::size_t s = 0; s < matching.size(); ++s)
      for (std::size_t b = 0; b < matching[s].size(); ++b) {
        INFO("set " << s << " sample " << b);
        CHECK(loss.matchings[s][b].queries ==
              matching[s][b].at("pred").get<std::vector<std::int64_t>>());
        CHECK(loss.matchings[s][b].targets ==
              matching[s][b].at("tgt").get<std::vector<std::int64_t>>());
      }
    // Every loss term (unweighted) and the weighted total.
    for (const LossTerm<float>& term : loss.terms) {
      INFO(term.name);
      REQUIRE(t.contains("loss." + term.name));
      require_close_to_max(term.value.value().view({1}), t.load<float>("loss." + term.name),
                           term.name, rtol, atol);
    }
    require_close_to_max(loss.total.value().view({1}), t.load<float>("loss_total"), "loss_total",
                         rtol, atol);

    autograd::backward(loss.total);
    require_close_to_max(out.image_tokens.grad(), t.load<float>("grad_act.image_tokens"),
                         "d image_tokens", grad_rtol, grad_atol);
    require_close_to_max(out.inputs_embeds.grad(), t.load<float>("grad_act.inputs_embeds"),
                         "d inputs_embeds", grad_rtol, grad_atol);
    require_close_to_max(out.hidden.grad(), t.load<float>("grad_act.hidden"), "d hidden", grad_rtol,
                         grad_atol);
    require_close_to_max(out.queries.grad(), t.load<float>("grad_act.queries"), "d queries",
                         grad_rtol, grad_atol);
    // Per-case parameter gradients where the fixture stores them; the rest accumulate.
    nn::StateDict<float> grads;
    model.for_each_parameter([&](const std::string& name, Var<float>& p) {
      grads.insert(name,
                   p.grad().defined() ? p.grad().contiguous() : Tensor<float>::zeros(p.shape()));
    });
    const nn::StateDict<float> fused =
        models::phi::to_fused_layout(grads, config.phi.num_attention_heads);
    for (const auto& [name, g] : fused) {
      if (t.contains("grad." + name))
        require_close_to_max(g, t.load<float>("grad." + name), "d " + name, grad_rtol, grad_atol);
      auto [it, fresh] = grad_sum.emplace(name, g.clone());
      if (!fresh) it->second.assign(it->second + g);
    }
  }
  // Every parameter's gradient of the sum of the four totals (Swin included).
  const io::SafetensorsFile sum = io::SafetensorsFile::open(kDir + "grad_sum.safetensors");
  std::size_t compared = 0;
  for (const auto& [name, g] : grad_sum) {
    REQUIRE(sum.contains("grad." + name));
    require_close_to_max(g, sum.load<float>("grad." + name), "sum d " + name, grad_rtol, grad_atol);
    ++compared;
  }
  CHECK(compared == sum.size());
}

TEST_CASE("psalm model: visual prompts pool from region_tokens when given (a reference image)",
          "[psalm][model]") {
  PsalmModel<float> model = load_parity_model();
  model.eval();
  const autograd::NoGrad no_grad;
  const auto vec = [](const Tensor<float>& x) { return x.contiguous().to_vector(); };
  const nlohmann::json cases = testing::load_json("psalm/parity/cases.json").at("cases");
  const auto found = std::find_if(cases.begin(), cases.end(),
                                  [](const auto& c) { return c.at("task") == "interactive"; });
  REQUIRE(found != cases.end());
  const io::SafetensorsFile t = io::SafetensorsFile::open(kDir + "interactive.safetensors");
  PsalmBatch<float> batch = inputs_of(*found, t);
  REQUIRE(batch.batch() == 2);
  const PsalmOutput<float> own = model(batch);
  const std::int64_t n = own.image_tokens.size(1), d = own.image_tokens.size(2);
  auto tokens_of = [&](std::int64_t s) {  // (N, D)
    return own.image_tokens.value().select(0, s).contiguous();
  };
  // Sample 0's <region> positions (flat: sample 0 starts at 0), in region order.
  std::vector<std::int64_t> pos;
  const Tensor<std::uint8_t> source = batch.sequence.source.contiguous();       // (B, L)
  const Tensor<std::int64_t> index = batch.sequence.source_index.contiguous();  // (B, L)
  for (std::int64_t r = 0; r < batch.sequence.num_regions[0]; ++r)
    for (std::int64_t p = 0; p < batch.sequence.length(); ++p)
      if (static_cast<TokenSource>(source.data()[p]) == TokenSource::region && index.data()[p] == r)
        pos.push_back(p);
  const std::int64_t k0 = batch.sequence.num_regions[0];
  auto region_rows = [&](const PsalmOutput<float>& out) {  // (K_0, D) of sample 0
    Tensor<float> rows(Shape{k0, d});
    const Tensor<float> e = out.inputs_embeds.value().contiguous();  // (B, L, D)
    for (std::int64_t k = 0; k < k0; ++k)
      for (std::int64_t c = 0; c < d; ++c)
        rows.data()[k * d + c] = e.data()[pos[static_cast<std::size_t>(k)] * d + c];
    return rows;
  };

  // Sample 0 prompted with regions of sample 1's image: its region tokens are the pooling of
  // sample 1's tokens at sample 0's points; sample 1 is untouched.
  batch.region_tokens = {tokens_of(1), Tensor<float>()};
  const PsalmOutput<float> other = model(batch);
  const Tensor<float> want =
      region_pool(Var<float>(tokens_of(1)), batch.region_points[0]).value();  // (K_0, D)
  CHECK(vec(region_rows(other)) == vec(want));
  CHECK(vec(region_rows(other)) != vec(region_rows(own)));
  CHECK(vec(other.last().masks.value().select(0, 1).contiguous()) ==
        vec(own.last().masks.value().select(0, 1).contiguous()));

  // Its own tokens given explicitly: the same forward pass as without them.
  batch.region_tokens = {tokens_of(0), tokens_of(1)};
  const PsalmOutput<float> same = model(batch);
  CHECK(vec(same.last().masks.value()) == vec(own.last().masks.value()));

  batch.region_tokens = {tokens_of(0)};
  CHECK_THROWS_AS(model(batch), Error);  // one entry for two samples
  batch.region_tokens = {Tensor<float>::zeros(Shape{n + 1, d}), Tensor<float>()};
  CHECK_THROWS_AS(model(batch), Error);  // not the image's token count
}
