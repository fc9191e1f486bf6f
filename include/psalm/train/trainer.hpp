// psalm/train/trainer.hpp — PSALM's training loop (PSALM_SPEC §4.5), on the CPU:
// Host code, as it encodes and evaluates examples there (psalm/inputs.hpp). Single-task batches
// in blocks per task (task_mixer.hpp), examples encoded with shuffled classes and sampled prompt
// points, the criterion on every prediction set (segmentation) or the next-token loss
// (conversation batches), AdamW with per-group learning rates and a linear warm-up + cosine
// schedule, optional gradient clipping, a check that stops on (or skips) a non-finite loss
// naming the step and the term, periodic held-out evaluation, metrics.jsonl, a loss-curve PNG
// and atomic checkpoints from which `resume` continues bit-identically (every random draw is a
// function of the seed and the step). Stage 1 trains only the projector on conversations
// (vision-language alignment); stage 2 everything but (by default) the vision tower.
// Data parallel (docs/distributed.md) with a dist::Communicator of N ranks: each step's global
// batch is N x batch_size samples, rank r encodes samples r B .. r B + B - 1 of it, every loss
// is normalised by the global batch (num_masks and the other counts all-reduced), gradients are
// averaged in buckets, BatchNorm layers (the swin_conv projector's) normalise with the global
// batch's statistics (nn::convert_sync_batch_norm; TrainerOptions::sync_batch_norm), and only
// rank 0 evaluates and writes metrics, plots and checkpoints; so N ranks of batch B train as one
// process of batch N B.
// Depends on: psalm/{model, inputs, criterion, language_loss}, nn/batch_norm, optim, dist,
// train/{checkpoint, task_mixer, evaluate, plot}. Test: tests/train/test_trainer.cpp,
// tests/dist/mpi/test_mpi_equivalence.cpp (2 ranks under mpirun).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "psalm/dist/buckets.hpp"
#include "psalm/dist/communicator.hpp"
#include "psalm/nn/batch_norm.hpp"
#include "psalm/optim/adamw.hpp"
#include "psalm/optim/clip.hpp"
#include "psalm/optim/schedule.hpp"
#include "psalm/psalm/criterion.hpp"
#include "psalm/psalm/inputs.hpp"
#include "psalm/psalm/language_loss.hpp"
#include "psalm/psalm/model.hpp"
#include "psalm/train/checkpoint.hpp"
#include "psalm/train/data_sources.hpp"
#include "psalm/train/evaluate.hpp"
#include "psalm/train/plot.hpp"
#include "psalm/train/task_mixer.hpp"

namespace psalm::train {

namespace fs = std::filesystem;

/// The name of the conversation batch kind in TrainerOptions::tasks.
inline constexpr const char* kConversation = "conversation";

struct TrainerOptions {
  fs::path out;   ///< the run folder: checkpoints, metrics.jsonl, loss.png
  int stage = 2;  ///< 1: projector only, conversations; 2: joint segmentation training
  /// Batch kinds: "panoptic", "instance", "semantic", "referring", "gres", "interactive",
  /// "conversation"; with `ratios` (empty: equal shares) and `block` samples per turn.
  std::vector<std::string> tasks{"panoptic", "referring", "gres", "interactive"};
  std::vector<double> ratios;
  std::int64_t block = 16;
  std::int64_t batch_size = 4;  ///< samples per step and rank (the global batch: ranks x this)
  std::int64_t steps = 0;       ///< total steps; 0: derived from `minutes`
  double minutes = 0;           ///< time budget: the total is planned from the first steps' pace
                                ///< and the budget is a hard stop
  double lr = 1e-4;
  double weight_decay = 0.0;
  double warmup_fraction = 0.03;
  double min_lr_ratio = 0.0;  ///< the cosine's floor, as a fraction of each group's lr
  /// Learning-rate multipliers per parameter group.
  double vision_lr_scale = 1.0, projector_lr_scale = 1.0, llm_lr_scale = 1.0,
         decoder_lr_scale = 1.0;
  bool train_vision_tower = false;  ///< stage 2: upstream keeps Swin frozen
  double clip_grad_norm = 0.0;      ///< 0: no clipping (upstream's recipe)
  bool skip_non_finite = false;     ///< false: stop with an error naming the step and term
  std::uint64_t seed = 0;
  std::int64_t log_every = 10;
  std::int64_t checkpoint_every = 0;  ///< 0: only at the end
  std::int64_t eval_every = 0;        ///< 0: only at the end
  std::int64_t eval_examples = 64;    ///< per task, from the held-out sources
  int keep_checkpoints = 2;
  /// Data parallel: BatchNorm layers in training mode use the statistics of the global batch
  /// (SyncBatchNorm), so N ranks of B train as one process of N B. false: each rank's own
  /// batch, as upstream PSALM trains under DeepSpeed (plain BatchNorm, no conversion).
  bool sync_batch_norm = true;

  void validate() const {
    PSALM_CHECK(stage == 1 || stage == 2, "train: stage must be 1 or 2, got ", stage);
    PSALM_CHECK(!tasks.empty(), "train: no tasks");
    PSALM_CHECK(ratios.empty() || ratios.size() == tasks.size(), "train: ", ratios.size(),
                " ratios for ", tasks.size(), " tasks");
    PSALM_CHECK(batch_size >= 1 && batch_size <= 4096, "train: batch size ", batch_size,
                " is outside 1 .. 4096");
    PSALM_CHECK(steps > 0 || minutes > 0, "train: give a number of steps or a time budget");
    PSALM_CHECK(steps >= 0 && minutes >= 0, "train: steps and minutes must be >= 0");
    PSALM_CHECK(std::isfinite(lr) && lr > 0 && lr < 10, "train: learning rate ", lr,
                " is not in (0, 10)");
    PSALM_CHECK(warmup_fraction >= 0 && warmup_fraction < 1, "train: warmup_fraction ",
                warmup_fraction, " is not in [0, 1)");
    PSALM_CHECK(clip_grad_norm >= 0, "train: clip_grad_norm must be >= 0");
    PSALM_CHECK(log_every >= 1 && checkpoint_every >= 0 && eval_every >= 0 && eval_examples >= 1,
                "train: log_every must be >= 1, checkpoint_every / eval_every >= 0, "
                "eval_examples >= 1");
    for (const std::string& t : tasks)
      if (t != kConversation) (void)parse_task(t);
    PSALM_CHECK(stage == 2 || (tasks.size() == 1 && tasks.front() == kConversation),
                "train: stage 1 trains the projector on conversations only (tasks = "
                "conversation)");
  }
};

/// What one step did (the progress line and metrics.jsonl are made of these).
struct StepReport {
  std::int64_t step = 0;   ///< 1-based: steps completed
  std::int64_t total = 0;  ///< planned steps
  std::string task;
  double loss = 0.0;
  std::vector<std::pair<std::string, double>> terms;  ///< weighted terms summed over the sets
  double lr = 0.0;
  double grad_norm = 0.0;
  double seconds = 0.0;  ///< wall time of this run so far (since start or resume)
  double steps_per_second = 0.0;
  /// Seconds this run has spent in collectives (data parallel; 0 in one process).
  double communication_seconds = 0.0;
  bool skipped = false;
};

template <Device Dev = cpu>
class Trainer {
 public:
  /// `comm`: the ranks training together (null: this process alone); it must outlive the
  /// trainer, and every rank must pass the same options and data.
  Trainer(PsalmModel<float, Dev>& model, const InputEncoder& encoder, TrainerOptions options,
          DataSources data, dist::Communicator* comm = nullptr)
      : model_(model),
        encoder_(encoder),
        opt_(std::move(options)),
        data_(std::move(data)),
        criterion_(model.config().criterion, model.config().matcher),
        comm_(comm ? comm : &single_),
        buckets_(*comm_) {
    opt_.validate();
    for (const std::string& t : opt_.tasks) {
      if (t == kConversation)
        PSALM_CHECK(static_cast<bool>(data_.conversations), "train: no conversation source");
      else
        PSALM_CHECK(data_.train.contains(t), "train: no data source for task ", t);
    }
    std::vector<double> ratios = opt_.ratios;
    if (ratios.empty()) ratios.assign(opt_.tasks.size(), 1.0);
    mixer_.emplace(ratios, opt_.block, opt_.batch_size * comm_->size());
    if (comm_->size() > 1)
      criterion_.average_over_processes = [this](std::span<double> v) { average(v); };
    if (comm_->size() > 1 && opt_.sync_batch_norm) {
      bn_sync_.emplace(*comm_);
      if (nn::convert_sync_batch_norm(model_, &*bn_sync_) == 0) bn_sync_.reset();
    }
    setup_parameters();
  }
  /// Takes the synchronised BatchNorm out of the model again (it outlives the trainer).
  ~Trainer() {
    if (bn_sync_) nn::convert_sync_batch_norm(model_, nullptr);
  }
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Steps completed (after a resume: those of the checkpoint).
  std::int64_t step() const { return step_; }
  std::int64_t total_steps() const { return total_; }
  /// Seconds spent in collectives so far (0 in one process).
  double communication_seconds() const {
    return collective_seconds_ + buckets_.communication_seconds();
  }

  /// Continues from the run folder's latest checkpoint (same options and data required).
  void resume() {
    const fs::path dir = latest_checkpoint(opt_.out);
    const nlohmann::json state = load_checkpoint(dir, model_, named_);
    step_ = state.at("step").get<std::int64_t>();
    total_ = state.at("total_steps").get<std::int64_t>();
    PSALM_CHECK(state.at("seed").get<std::uint64_t>() == opt_.seed,
                "resume: the checkpoint was "
                "trained with seed ",
                state.at("seed").get<std::uint64_t>(), ", not ", opt_.seed);
    const int ranks = state.value("ranks", 1);
    PSALM_CHECK(ranks == comm_->size(), "resume: the checkpoint was trained by ", ranks,
                " rank(s); resume it with the same number (this run has ", comm_->size(), ")");
    make_schedule();
    if (!comm_->is_root()) return;
    // metrics.jsonl keeps the lines of steps the checkpoint has seen (a crash may have left
    // later ones).
    const fs::path metrics = opt_.out / "metrics.jsonl";
    if (fs::exists(metrics)) {
      std::ifstream in(metrics);
      std::string line, kept;
      while (std::getline(in, line)) {
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("step", std::int64_t{0}) <= step_) kept += line + "\n";
      }
      detail::write_text_atomically(metrics, kept);
    }
  }

  /// Trains until the planned total. `on_step` sees every step; `on_eval` every evaluation.
  /// Data parallel: only rank 0 calls them and writes the run folder.
  void run(const std::function<void(const StepReport&)>& on_step = {},
           const std::function<void(const EvaluationResult&, std::int64_t)>& on_eval = {}) {
    const bool root = comm_->is_root();
    std::ofstream metrics;
    if (root) {
      fs::create_directories(opt_.out);
      metrics.open(opt_.out / "metrics.jsonl", std::ios::app);
      PSALM_CHECK(metrics.good(), "train: cannot write ", (opt_.out / "metrics.jsonl").string());
    }
    broadcast_parameters();
    if (opt_.steps > 0 && total_ == 0) total_ = opt_.steps;
    if (total_ > 0 && !schedule_) make_schedule();
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t first = step_;
    const double budget = opt_.steps > 0 ? 0.0 : opt_.minutes * 60.0;  // seconds; 0: none
    while (total_ == 0 || step_ < total_) {
      const std::int64_t done = step_ - first;
      if (budget > 0 && (done == kTimingSteps || done == kRetimingSteps)) {
        // Time budget: plan the total from the pace so far (stored for resume), once early and
        // once more when the pace has settled; the budget itself is a hard stop below.
        const double elapsed = root_seconds(start);
        const double per_step = elapsed / static_cast<double>(done);
        total_ = std::max<std::int64_t>(
            step_ + 1, step_ + static_cast<std::int64_t>((budget - elapsed) / per_step));
        make_schedule();
      }
      if (!schedule_) make_provisional_schedule();
      StepReport r = train_step();
      // Every rank takes rank 0's clock, so all agree on the plan and on the hard stop.
      r.seconds = budget > 0 ? root_seconds(start) : seconds_since(start);
      r.steps_per_second = static_cast<double>(step_ - first) / std::max(r.seconds, 1e-9);
      r.communication_seconds = communication_seconds();
      if (budget > 0 && r.seconds >= budget && step_ < total_)
        total_ = r.total = step_;  // out of time: this step is the last (evaluated and saved)
      if (!root) continue;
      if (on_step) on_step(r);
      if (step_ % opt_.log_every == 0 || step_ == total_) {
        nlohmann::json j = {{"step", step_},        {"total", total_},
                            {"task", r.task},       {"loss", r.loss},
                            {"lr", r.lr},           {"grad_norm", r.grad_norm},
                            {"seconds", r.seconds}, {"skipped", r.skipped}};
        for (const auto& [name, v] : r.terms) j["terms"][name] = v;
        metrics << j.dump() << "\n" << std::flush;
      }
      const bool last = total_ > 0 && step_ == total_;
      if ((opt_.eval_every > 0 && step_ % opt_.eval_every == 0) || last)
        evaluate_all(metrics, on_eval);
      if ((opt_.checkpoint_every > 0 && step_ % opt_.checkpoint_every == 0) || last) checkpoint();
    }
  }

  /// Writes a checkpoint of the current step (also done by run()); rank 0 only.
  void checkpoint() {
    if (!comm_->is_root()) return;
    save_checkpoint(opt_.out, step_, model_, model_.config().to_json(), named_,
                    {{"total_steps", total_},
                     {"seed", opt_.seed},
                     {"stage", opt_.stage},
                     {"tasks", opt_.tasks},
                     {"ranks", comm_->size()},
                     {"batch_size", opt_.batch_size}},
                    opt_.keep_checkpoints);
    write_loss_plot();
  }

 private:
  static constexpr std::int64_t kTimingSteps = 5, kRetimingSteps = 50;

  static double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }

  /// v[i] = mean over the ranks of v[i] (host doubles), timed.
  void average(std::span<double> v) {
    const auto t = std::chrono::steady_clock::now();
    comm_->all_reduce_sum(v.data(), v.size());
    for (double& x : v) x /= static_cast<double>(comm_->size());
    collective_seconds_ += seconds_since(t);
  }

  /// Rank 0's seconds since `start`, on every rank.
  double root_seconds(std::chrono::steady_clock::time_point start) {
    double s = comm_->is_root() ? seconds_since(start) : 0.0;
    if (comm_->size() > 1) {
      average(std::span<double>(&s, 1));
      s *= static_cast<double>(comm_->size());
    }
    return s;
  }

  /// Every rank starts from rank 0's parameters (trainable or not).
  void broadcast_parameters() {
    if (comm_->size() == 1) return;
    std::vector<Var<float, Dev>*> vars;
    std::vector<Tensor<float, Dev>> values;
    model_.for_each_parameter([&](const std::string&, Var<float, Dev>& p) {
      vars.push_back(&p);
      values.push_back(p.value());
    });
    buckets_.broadcast(values, 0);
    for (std::size_t i = 0; i < vars.size(); ++i) vars[i]->value().assign(values[i]);
  }

  /// Data parallel, after the local backward: every rank's gradients are replaced by their
  /// mean over the ranks. A parameter no rank reached keeps no gradient (as in one process);
  /// one that only some ranks reached counts zeros for the others. `scalars` (the loss and its
  /// terms, a "this rank failed" flag) are averaged in the same call.
  void average_gradients(std::vector<double>& scalars) {
    std::vector<Var<float, Dev>*> params;
    for (auto& g : optimizer_->groups())
      for (auto& p : g.params) params.push_back(&p);
    const std::size_t n = scalars.size();
    for (const auto* p : params) scalars.push_back(p->grad().defined() ? 1.0 : 0.0);
    average(scalars);
    std::vector<Tensor<float, Dev>> grads(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (scalars[n + i] == 0.0) continue;
      grads[i] = params[i]->grad().defined() ? params[i]->grad()
                                             : Tensor<float, Dev>::zeros(params[i]->shape());
    }
    scalars.resize(n);
    buckets_.average(grads);
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (!grads[i].defined()) continue;
      params[i]->zero_grad();
      params[i]->grad_ref().accumulate(std::move(grads[i]));
    }
  }

  /// Which parameters train, and their groups (vision tower, projector, LLM, decoder).
  void setup_parameters() {
    std::vector<optim::ParamGroup<float, Dev>> groups(4);
    const double scales[4] = {opt_.vision_lr_scale, opt_.projector_lr_scale, opt_.llm_lr_scale,
                              opt_.decoder_lr_scale};
    named_.names.assign(4, {});
    const bool vision = opt_.stage == 2 && opt_.train_vision_tower;
    model_.set_vision_tower_trainable(vision);
    model_.for_each_parameter([&](const std::string& name, Var<float, Dev>& p) {
      int g = 3;
      if (name.starts_with("model.vision_tower."))
        g = 0;
      else if (name.starts_with("model.mm_projector."))
        g = 1;
      else if (name.starts_with("model.") || name.starts_with("lm_head.") || name == "seg_query")
        g = 2;
      const bool trains = opt_.stage == 1 ? g == 1 : (g != 0 || vision);
      if (trains != p.requires_grad()) p = Var<float, Dev>(p.value(), trains);
      if (!trains) return;
      groups[static_cast<std::size_t>(g)].params.push_back(p);
      named_.names[static_cast<std::size_t>(g)].push_back(name);
    });
    for (std::size_t g = 0; g < 4; ++g) {
      groups[g].lr = opt_.lr * scales[g];
      groups[g].weight_decay = opt_.weight_decay;
    }
    optimizer_.emplace(std::move(groups));
    named_.optimizer = &*optimizer_;
  }

  void make_schedule() {
    const auto warmup =
        static_cast<std::int64_t>(opt_.warmup_fraction * static_cast<double>(total_));
    for (auto& g : optimizer_->groups()) g.lr = g.initial_lr >= 0 ? g.initial_lr : g.lr;
    schedule_.emplace(*optimizer_,
                      optim::warmup_cosine_schedule(warmup, total_, opt_.min_lr_ratio));
    for (std::int64_t s = 0; s < step_; ++s) schedule_->step();
  }

  /// Before a time budget fixes the total: the warm-up's first steps at a tiny rate.
  void make_provisional_schedule() {
    for (auto& g : optimizer_->groups()) g.lr = g.initial_lr >= 0 ? g.initial_lr : g.lr;
    schedule_.emplace(*optimizer_, optim::linear_warmup_schedule(1000));
    for (std::int64_t s = 0; s < step_; ++s) schedule_->step();
  }

  /// The encoding randomness of sample `index` of task `t` (class order, prompt points).
  EncodeOptions encode_options(std::size_t t, std::int64_t index) const {
    return {.shuffle_classes = true,
            .random_region_points = true,
            .seed = opt_.seed ^ 0x5EED5EEDull,
            .stream = (static_cast<std::uint64_t>(t) << 48) ^ static_cast<std::uint64_t>(index)};
  }

  /// The id of sample `index` of task `t`: its encoding stream and its point streams.
  static std::uint64_t sample_id(std::size_t t, std::int64_t index) {
    return (static_cast<std::uint64_t>(t) << 48) ^ static_cast<std::uint64_t>(index);
  }

  /// True on every rank when `bad` is true on any (one collective when data parallel).
  bool any_rank(bool bad) {
    if (comm_->size() == 1) return bad;
    double v = bad ? 1.0 : 0.0;
    average(std::span<double>(&v, 1));
    return v > 0.0;
  }

  StepReport train_step() {
    const MixedBatch mb = mixer_->batch(step_);
    const std::string& task = opt_.tasks[mb.task];
    // This rank's samples of the global batch: positions rank B .. rank B + B - 1.
    const std::int64_t first = mb.first_sample + comm_->rank() * opt_.batch_size;
    const bool parallel = comm_->size() > 1;
    StepReport r;
    r.task = task;
    Var<float, Dev> total;
    if (task == kConversation) {
      std::vector<EncodedConversation> encoded;
      for (std::int64_t i = 0; i < opt_.batch_size; ++i)
        encoded.push_back(encoder_.encode(data_.conversations(first + i)));
      const PsalmBatch<float> batch = collate(std::span<const EncodedConversation>(encoded));
      // Synchronised BatchNorm runs collectives in the projector: every rank must run it, as
      // one process's batch would be all images or all text (collate refuses a mix).
      double with_images = batch.pixels.defined() ? 1.0 : 0.0;  // the ranks' share
      if (bn_sync_) average(std::span<double>(&with_images, 1));
      if (with_images > 0.0 && with_images < 1.0)
        fail("train: step ", step_ + 1, " (", task, "): some ranks' conversation batches have ",
             "images and others' none; a batch must be all images or all text");
      double tokens = 0.0;  // data parallel: the global batch's labelled positions per rank
      if (parallel) {
        tokens = static_cast<double>(labelled_positions(batch.sequence.labels));
        average(std::span<double>(&tokens, 1));
      }
      total =
          next_token_loss(model_.language_logits(to_device(batch)), batch.sequence.labels, tokens);
      r.terms.emplace_back("loss_llm", static_cast<double>(total.value().item()));
    } else {
      const auto& source = data_.train.at(task);
      std::vector<EncodedExample> encoded;
      SamplePointStreams points{.seed = opt_.seed ^ 0x9011715ull, .sample_ids = {}};
      for (std::int64_t i = 0; i < opt_.batch_size; ++i) {
        Example ex = source(first + i);
        PSALM_CHECK(ex.task == parse_task(task), "train: the ", task, " source gave a ",
                    to_string(ex.task), " example");
        encoded.push_back(encoder_.encode(ex, encode_options(mb.task, first + i)));
        points.sample_ids.push_back(sample_id(mb.task, first + i));
      }
      const EncodedBatch batch = collate(encoded);
      model_.train();
      const PsalmOutput<float, Dev> out = model_(to_device(batch.inputs));
      const std::string bad = non_finite_prediction(out.predictions);
      if (any_rank(!bad.empty())) {
        if (!opt_.skip_non_finite)
          fail("train: step ", step_ + 1, " (", task, "): the ",
               bad.empty() ? "predictions of another rank" : bad, " are not finite");
        return skipped_step(std::move(r));
      }
      const CriterionOutput<float, Dev> loss =
          criterion_(out.predictions, to_device(batch.targets), parse_task(task), points);
      total = loss.total;
      std::map<std::string, double> sums;  // weighted, summed over the prediction sets
      std::vector<std::string> order;
      for (const LossTerm<float, Dev>& t : loss.terms) {
        const double v = static_cast<double>(t.value.value().item());
        if (!std::isfinite(v) && !opt_.skip_non_finite && !parallel)
          fail("train: step ", step_ + 1, " (", task, "): loss term ", t.name, " is ", v);
        const std::string base = t.name.substr(0, t.name.find_last_not_of("0123456789_") + 1);
        if (!sums.contains(base)) order.push_back(base);
        sums[base] += t.weight * v;
      }
      for (const std::string& name : order) r.terms.emplace_back(name, sums[name]);
    }
    r.loss = static_cast<double>(total.value().item());
    r.lr = optimizer_->groups().empty() ? 0.0 : max_lr();
    bool finite = std::isfinite(r.loss);
    if (parallel) {
      // The loss and its terms become the global batch's (the mean over ranks), and a rank
      // whose loss is not finite makes every rank skip (or stop) this step.
      // Synchronised BatchNorm's backward runs collectives: every rank runs backward or none.
      if (bn_sync_ ? !any_rank(!finite) : finite) autograd::backward(total);
      std::vector<double> scalars{finite ? 0.0 : 1.0, finite ? r.loss : 0.0};
      for (const auto& [name, v] : r.terms) scalars.push_back(std::isfinite(v) ? v : 0.0);
      average_gradients(scalars);
      if (scalars[0] > 0.0) {
        if (!opt_.skip_non_finite)
          fail("train: step ", step_ + 1, " (", task, "): the loss is ",
               finite ? "not finite on another rank" : std::to_string(r.loss));
        finite = false;
        r.loss = NAN;
      } else {
        r.loss = scalars[1];
        for (std::size_t k = 0; k < r.terms.size(); ++k) r.terms[k].second = scalars[2 + k];
      }
    }
    if (!finite) {
      if (!opt_.skip_non_finite)
        fail("train: step ", step_ + 1, " (", task, "): the loss is ", r.loss);
      r.skipped = true;
    } else {
      if (!parallel) autograd::backward(total);
      std::vector<Var<float, Dev>> params;
      for (auto& g : optimizer_->groups())
        for (auto& p : g.params) params.push_back(p);
      r.grad_norm =
          optim::clip_grad_norm(params, opt_.clip_grad_norm > 0 ? opt_.clip_grad_norm : INFINITY);
      if (!std::isfinite(r.grad_norm)) {
        if (!opt_.skip_non_finite)
          fail("train: step ", step_ + 1, " (", task, "): the gradient norm is ", r.grad_norm,
               " (loss ", r.loss, ")");
        r.skipped = true;
      } else {
        optimizer_->step();
      }
    }
    optimizer_->zero_grad();
    schedule_->step();
    ++step_;
    r.step = step_;
    r.total = total_;
    return r;
  }

  /// "prediction set s mask logits" (or class / SEG / region logits) when one holds a NaN or
  /// infinity, else "".
  static std::string non_finite_prediction(
      const std::vector<models::mask2former::Prediction<float, Dev>>& sets) {
    auto finite = [](const Var<float, Dev>& v) {
      if (!v.defined()) return true;
      const std::vector<float> x = v.value().to_vector();
      return std::all_of(x.begin(), x.end(), [](float f) { return std::isfinite(f); });
    };
    for (std::size_t s = 0; s < sets.size(); ++s) {
      const std::string set = "prediction set " + std::to_string(s) + " ";
      if (!finite(sets[s].masks)) return set + "mask logits";
      if (!finite(sets[s].class_logits)) return set + "class logits";
      if (!finite(sets[s].seg_logits)) return set + "SEG logits";
      for (const auto& r : sets[s].region_logits)
        if (!finite(r)) return set + "region logits";
    }
    return "";
  }

  /// Ends a step that trains nothing (a non-finite loss or prediction, skipped by request).
  StepReport skipped_step(StepReport r) {
    r.skipped = true;
    r.loss = NAN;
    r.lr = max_lr();
    optimizer_->zero_grad();
    schedule_->step();
    ++step_;
    r.step = step_;
    r.total = total_;
    return r;
  }

  double max_lr() const {
    double m = 0;
    for (const auto& g : optimizer_->groups()) m = std::max(m, g.lr);
    return m;
  }

  static PsalmBatch<float, Dev> to_device(const PsalmBatch<float>& b) {
    if constexpr (std::is_same_v<Dev, cpu>) {
      return b;
    } else {
      PsalmBatch<float, Dev> out;
      out.task = b.task;
      if (b.pixels.defined()) out.pixels = b.pixels.template to<Dev>();
      out.sequence = b.sequence;
      for (const auto& p : b.region_points) out.region_points.push_back(p.template to<Dev>());
      for (const auto& r : b.region_tokens)
        out.region_tokens.push_back(r.defined() ? r.template to<Dev>() : Tensor<float, Dev>());
      return out;
    }
  }
  static std::vector<SampleTargets<Dev>> to_device(const std::vector<SampleTargets<cpu>>& t) {
    if constexpr (std::is_same_v<Dev, cpu>) {
      return t;
    } else {
      std::vector<SampleTargets<Dev>> out;
      for (const auto& s : t) out.push_back({s.masks.template to<Dev>(), s.labels});
      return out;
    }
  }

  void evaluate_all(std::ofstream& metrics,
                    const std::function<void(const EvaluationResult&, std::int64_t)>& on_eval) {
    for (const auto& [name, source] : data_.held_out) {
      const EvaluationResult r =
          evaluate<Dev>(model_, encoder_, parse_task(name), source, opt_.eval_examples);
      metrics << nlohmann::json{{"step", step_},
                                {"eval", name},
                                {"examples", r.examples},
                                {"metrics", r.metrics}}
                     .dump()
              << "\n"
              << std::flush;
      if (on_eval) on_eval(r, step_);
    }
    model_.train();
  }

  /// loss.png in the run folder: every logged loss (light) and its moving average (dark).
  void write_loss_plot() const {
    std::vector<double> x, y;
    const fs::path metrics = opt_.out / "metrics.jsonl";
    std::ifstream in(metrics);
    std::string line;
    while (std::getline(in, line)) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("loss") || !j.at("loss").is_number())
        continue;  // skipped: null
      x.push_back(j.at("step").get<double>());
      y.push_back(j.at("loss").get<double>());
    }
    if (x.size() < 2) return;
    const Tensor<std::uint8_t> img =
        plot_series({{x, y, {170, 190, 230}}, {x, moving_average(y, 20), {20, 60, 160}}}, 640, 360);
    const std::vector<std::uint8_t> png = io::encode_png(img);
    io::AtomicFile f(opt_.out / "loss.png");
    f.write(std::as_bytes(std::span(png.data(), png.size())));
    f.commit();
  }

  PsalmModel<float, Dev>& model_;
  const InputEncoder& encoder_;
  TrainerOptions opt_;
  DataSources data_;
  Criterion<float, Dev> criterion_;
  dist::SingleProcess single_;
  dist::Communicator* comm_;
  dist::Buckets<Dev> buckets_;
  std::optional<autograd::CollectiveBatchNormSync<dist::Communicator>> bn_sync_;
  double collective_seconds_ = 0.0;
  std::optional<TaskMixer> mixer_;
  std::optional<optim::AdamW<float, Dev>> optimizer_;
  std::optional<optim::LambdaLr<optim::AdamW<float, Dev>>> schedule_;
  NamedOptimizer<float, Dev> named_;
  std::int64_t step_ = 0, total_ = 0;
};

}  // namespace psalm::train
