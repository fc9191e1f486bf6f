// tests/dist/mpi/test_mpi_equivalence.cpp — run by CTest as `mpirun -np 2 dist_equivalence DIR`
// (tests/CMakeLists.txt, test `dist_mpi`): two MPI ranks of batch B train exactly as one
// process of batch 2B. Two models: the 64 px test model with an MLP projector, and the same
// with PSALM's swin_conv projector, whose BatchNorm layers the trainer synchronises.
// MLP: first each rank trains alone, at the same time: rank 0 the reference (one process,
// batch 2B), rank 1 a control (one process, batch B: other batches); then both train together
// through MpiCommunicator, batch B each. Rank 0 requires every parameter and buffer within
// float32 tolerance of the reference (summation order differs between one GEMM over 2B rows
// and two over B): at most 0.01% of the elements outside |a - b| <= 1e-5 + 1e-4 |b| and none
// further apart than lr (see kMaxFraction), and the same loss at every step (relative 1e-5);
// rank 1 requires more than 1% of the elements to differ from the control's, so the comparison
// can fail. swin_conv: rank 0 trains the reference alone (batch 2B); then both ranks train
// together twice, with synchronised BatchNorm (the default), which rank 0 requires within the
// same tolerance of the reference (BatchNorm running statistics included), and with per-rank
// BatchNorm (TrainerOptions::sync_batch_norm = false, upstream's way), which must differ by
// more than 1% of the elements. Tasks: panoptic, referring, interactive and conversation
// batches (class CE, SEG BCE, region BCE, mask / dice and the token loss), K = 4 steps. Exit
// code 0 when every check holds on this rank.
// Depends on: dist/mpi, train/trainer. Test: this file.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "psalm/dist/mpi.hpp"
#include "psalm/nn.hpp"
#include "psalm/train/trainer.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kBatch = 2;  // per rank
constexpr std::int64_t kSteps = 4;
constexpr double kAtol = 1e-5, kRtol = 1e-4, kLossRtol = 1e-5;
constexpr double kLr = 1e-3;
// AdamW moves an element by about lr g / |g| per step, whatever |g| is: where a gradient
// element is at the level of float32 rounding, rounding decides its direction, so a few
// elements may move by up to ~lr per step in one run and the other way in the other
// (measured, MLP projector: 172 of 3.35 M elements outside, the largest difference 3.9e-4 in
// an attention key bias, whose true gradient is 0: softmax ignores a shift shared by every
// key; swin_conv: 237 of 3.36 M, mostly attention qkv biases again, the largest 1.06e-3 in
// class_name_projector.bias, none in the projector). A wrong BatchNorm moves 5% of the elements
// (the per-rank control), a wrong gradient average about half.
constexpr double kMaxFraction = 1e-4;  // of the elements outside kAtol + kRtol |p|
constexpr double kMaxAbs = 2 * kLr;    // no element further apart than two steps' updates

struct Run {
  std::vector<std::vector<float>> parameters;  // then the buffers
  std::vector<double> losses;
  std::vector<std::string> names;
};

/// A test model and its input encoder (the image-token count depends on the projector).
struct Setup {
  PsalmConfig config;
  InputEncoder encoder;
  explicit Setup(const PsalmConfig& c) : config(c), encoder(c, psalm_tokenizer(PSALM_GPT2_DIR)) {}
};

/// The 64 px test model (tests/fixtures/psalm/parity: swin_conv projector, res5 4 x 4 -> 2 x 2
/// image tokens, 16-wide block) with LLaVA-1.5's MLP projector instead: no BatchNorm.
PsalmConfig config_without_batch_norm() {
  PsalmConfig c = testing::small_config();
  c.projector.mm_projector_type = "mlp2x_gelu";
  c.projector.mm_hidden_size = c.projector.mm_input_embeds;
  c.projector.hidden_size = c.projector.projector_outdim;
  c.validate();
  return c;
}

/// Trains a fresh model (seed 5) for kSteps on `comm` (null: alone) with `batch` per rank;
/// `sync_batch_norm`: TrainerOptions' (only matters with BatchNorm and 2 ranks).
Run train_run(const Setup& setup, const fs::path& out, std::int64_t batch, dist::Communicator* comm,
              bool sync_batch_norm = true) {
  const PsalmConfig& config = setup.config;
  nn::InitRng rng{5};
  PsalmModel<float> model(config, rng);
  train::SyntheticExampleOptions data;
  data.scene.height = data.scene.width = config.image_size;
  data.scene.max_objects = 3;
  data.scene.seed = 9;
  train::TrainerOptions opt;
  opt.out = out;
  opt.tasks = {"panoptic", "referring", "interactive", "conversation"};
  opt.block = 2 * kBatch;  // one step per task turn in both layouts
  opt.batch_size = batch;
  opt.steps = kSteps;
  opt.lr = kLr;
  opt.warmup_fraction = 0.0;
  opt.train_vision_tower = true;
  opt.log_every = 1;
  opt.eval_examples = 1;
  opt.seed = 3;
  opt.sync_batch_norm = sync_batch_norm;
  fs::remove_all(out);
  train::Trainer<cpu> trainer(model, setup.encoder, opt,
                              train::synthetic_sources(data, opt.tasks, 1009), comm);
  Run r;
  trainer.run([&](const train::StepReport& s) { r.losses.push_back(s.loss); });
  model.for_each_parameter([&](const std::string& name, Var<float>& p) {
    r.parameters.push_back(p.value().to_vector());
    r.names.push_back(name);
  });
  model.for_each_buffer([&](const std::string& name, Tensor<float>& b, nn::BufferKind) {
    r.parameters.push_back(b.to_vector());
    r.names.push_back(name);
  });
  return r;
}

/// How two runs' parameters differ.
struct Difference {
  double max_abs = 0.0;                           ///< the largest |a - b|
  std::int64_t beyond = 0, total = 0;             ///< elements outside kAtol + kRtol |b|, of all
  std::string worst;                              ///< the parameter holding max_abs
  std::map<std::string, std::int64_t> beyond_in;  ///< elements outside, per parameter
  double fraction() const { return static_cast<double>(beyond) / static_cast<double>(total); }
};

Difference difference(const Run& a, const Run& b) {
  Difference d;
  for (std::size_t i = 0; i < a.parameters.size(); ++i)
    for (std::size_t k = 0; k < a.parameters[i].size(); ++k) {
      const double x = a.parameters[i][k], y = b.parameters[i][k], e = std::fabs(x - y);
      if (!(e <= kAtol + kRtol * std::fabs(y))) {
        ++d.beyond;
        ++d.beyond_in[a.names[i]];
      }
      if (!(e <= d.max_abs)) {
        d.max_abs = e;
        d.worst = a.names[i];
      }
      ++d.total;
    }
  return d;
}

void print(const char* what, const Difference& d) {
  std::printf(
      "%s: %lld of %lld parameter and buffer elements outside %.0e + %.0e |p| (%.2g%%), max "
      "|diff| %.3g (%s)\n",
      what, static_cast<long long>(d.beyond), static_cast<long long>(d.total), kAtol, kRtol,
      100.0 * d.fraction(), d.max_abs, d.worst.c_str());
  std::vector<std::pair<std::int64_t, std::string>> most;  // the parameters with most outside
  for (const auto& [name, n] : d.beyond_in) most.emplace_back(n, name);
  std::sort(most.rbegin(), most.rend());
  for (std::size_t i = 0; i < std::min<std::size_t>(most.size(), 4); ++i)
    std::printf("  %lld outside in %s\n", static_cast<long long>(most[i].first),
                most[i].second.c_str());
}

/// On rank 0 (which sees the steps' losses): `together` equals `reference` within tolerance.
bool equal_within_tolerance(const char* what, const Run& together, const Run& reference) {
  if (together.parameters.size() != reference.parameters.size() ||
      together.losses.size() != static_cast<std::size_t>(kSteps))
    return false;
  const Difference d = difference(together, reference);
  print(what, d);
  bool ok = d.fraction() <= kMaxFraction && d.max_abs <= kMaxAbs;
  for (std::size_t s = 0; s < together.losses.size(); ++s) {
    const double a = together.losses[s], b = reference.losses[s];
    std::printf("  step %zu loss: 2 ranks %.7f, 1 process %.7f\n", s + 1, a, b);
    ok = ok && std::fabs(a - b) <= kLossRtol * std::fabs(b);
  }
  return ok;
}

/// `run` differs from `control` by far more than the tolerance: the comparison can fail.
bool differs(const char* what, const Run& run, const Run& control) {
  if (run.parameters.size() != control.parameters.size()) return false;
  const Difference d = difference(run, control);
  print(what, d);
  return d.fraction() > 100 * kMaxFraction;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mpirun -np 2 dist_equivalence WORK_DIR\n");
    return 2;
  }
  dist::MpiCommunicator comm;
  if (comm.size() != 2) {
    std::fprintf(stderr, "dist_equivalence: run me with mpirun -np 2 (got %d ranks)\n",
                 comm.size());
    return 2;
  }
  const fs::path work = fs::path(argv[1]) / ("rank" + std::to_string(comm.rank()));
  const int rank = comm.rank();
  bool ok = true;
  {  // The MLP projector. Alone, concurrently: the reference (rank 0) and the control (rank 1).
    const Setup mlp(config_without_batch_norm());
    const Run alone = train_run(mlp, work / "alone", rank == 0 ? 2 * kBatch : kBatch, nullptr);
    comm.barrier();
    const Run together = train_run(mlp, work / "together", kBatch, &comm);
    ok = rank == 0
             ? equal_within_tolerance("mlp: 2 ranks x batch 2 vs 1 process x batch 4", together,
                                      alone)
             : differs("mlp control: 2 ranks x batch 2 vs 1 process x batch 2", together, alone);
  }
  {  // swin_conv (BatchNorm): the reference on rank 0, then together with and without sync.
    const Setup swin_conv(testing::small_config());
    Run reference;
    if (rank == 0) reference = train_run(swin_conv, work / "swin_conv_alone", 2 * kBatch, nullptr);
    comm.barrier();
    const Run synced = train_run(swin_conv, work / "swin_conv_sync", kBatch, &comm);
    const Run per_rank = train_run(swin_conv, work / "swin_conv_per_rank", kBatch, &comm, false);
    if (rank == 0) {
      const bool equal = equal_within_tolerance(
          "swin_conv, synchronised BatchNorm: 2 ranks x batch 2 vs 1 process x batch 4", synced,
          reference);
      const bool control =
          differs("swin_conv control, per-rank BatchNorm: 2 ranks x batch 2 vs 1 process x batch 4",
                  per_rank, reference);
      ok = ok && equal && control;
    }
  }
  std::printf("dist_equivalence rank %d: %s\n", rank, ok ? "every check holds" : "FAILED");
  std::fflush(stdout);
  if (ok) fs::remove_all(work);
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "dist_equivalence: %s\n", e.what());
  return 1;
}
