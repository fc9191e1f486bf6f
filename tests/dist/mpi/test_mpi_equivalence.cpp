// tests/dist/mpi/test_mpi_equivalence.cpp — run by CTest as `mpirun -np 2 dist_equivalence DIR`
// (tests/CMakeLists.txt, test `dist_mpi`): two MPI ranks of batch B train exactly as one
// process of batch 2B. First each rank trains alone, at the same time: rank 0 the reference
// (one process, batch 2B), rank 1 a control (one process, batch B: other batches). Then
// both train together through MpiCommunicator, batch B each. Rank 0 requires every parameter
// within float32 tolerance of the reference (summation order differs between one GEMM over 2B
// rows and two over B): at most 0.01% of the elements outside |a - b| <= 1e-5 + 1e-4 |b| and
// none further apart than lr (see kMaxFraction), and the same loss at every step (relative
// 1e-5); rank 1 requires more than 1% of the elements to differ from the control's, so the
// comparison can fail. Tasks: panoptic, referring, interactive and conversation batches
// (class CE, SEG BCE, region BCE, mask / dice and the token loss), K = 4 steps on the 64 px
// test model with an MLP projector (below). Exit code 0 when every check holds on this rank.
// Depends on: dist/mpi, train/trainer. Test: this file.
#include <cmath>
#include <cstdio>
#include <filesystem>
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
// elements may move by up to ~lr per step in one run and not the other (measured: 172 of
// 3.35 M, the largest in an attention key bias, whose true gradient is 0: softmax ignores a
// shift shared by every key).
constexpr double kMaxFraction = 1e-4;  // of the elements outside kAtol + kRtol |p|
constexpr double kMaxAbs = kLr;        // no element further apart than one step's update

struct Run {
  std::vector<std::vector<float>> parameters;
  std::vector<double> losses;
  std::vector<std::string> names;
};

/// Trains a fresh model (seed 5) for kSteps on `comm` (null: alone) with `batch` per rank.
/// The 64 px test model with LLaVA-1.5's MLP projector: PSALM's swin_conv projector holds
/// BatchNorm, whose training-mode statistics are per rank (as upstream's DDP runs it, without
/// SyncBatchNorm), so with it 2 ranks of B are not 1 process of 2B (docs/distributed.md).
PsalmConfig config_without_batch_norm() {
  PsalmConfig c = testing::small_config();
  c.projector.mm_projector_type = "mlp2x_gelu";
  c.projector.mm_hidden_size = c.projector.mm_input_embeds;
  c.projector.hidden_size = c.projector.projector_outdim;
  c.validate();
  return c;
}

Run train_run(const fs::path& out, std::int64_t batch, dist::Communicator* comm) {
  static const PsalmConfig config = config_without_batch_norm();
  static const InputEncoder encoder(config, psalm_tokenizer(PSALM_GPT2_DIR));
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
  fs::remove_all(out);
  train::Trainer<cpu> trainer(model, encoder, opt, train::synthetic_sources(data, opt.tasks, 1009),
                              comm);
  Run r;
  trainer.run([&](const train::StepReport& s) { r.losses.push_back(s.loss); });
  model.for_each_parameter([&](const std::string& name, Var<float>& p) {
    r.parameters.push_back(p.value().to_vector());
    r.names.push_back(name);
  });
  return r;
}

/// How two runs' parameters differ.
struct Difference {
  double max_abs = 0.0;                ///< the largest |a - b|
  std::int64_t beyond = 0, total = 0;  ///< elements outside kAtol + kRtol |b|, of all
  std::string worst;                   ///< the parameter holding max_abs
  double fraction() const { return static_cast<double>(beyond) / static_cast<double>(total); }
};

Difference difference(const Run& a, const Run& b) {
  Difference d;
  for (std::size_t i = 0; i < a.parameters.size(); ++i)
    for (std::size_t k = 0; k < a.parameters[i].size(); ++k) {
      const double x = a.parameters[i][k], y = b.parameters[i][k], e = std::fabs(x - y);
      if (!(e <= kAtol + kRtol * std::fabs(y))) ++d.beyond;
      if (!(e <= d.max_abs)) {
        d.max_abs = e;
        d.worst = a.names[i];
      }
      ++d.total;
    }
  return d;
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
  // Alone, concurrently: the reference (rank 0) and the control (rank 1).
  const Run alone = train_run(work / "alone", rank == 0 ? 2 * kBatch : kBatch, nullptr);
  comm.barrier();
  const Run together = train_run(work / "together", kBatch, &comm);

  // Rank 0 alone sees the steps (the trainer reports to rank 0 only).
  bool ok = together.parameters.size() == alone.parameters.size() &&
            (rank != 0 || together.losses.size() == static_cast<std::size_t>(kSteps));
  const Difference d = ok ? difference(together, alone) : Difference{};
  std::printf(
      "%s: %lld of %lld parameter elements outside %.0e + %.0e |p| (%.2g%%), max |diff| "
      "%.3g (%s)\n",
      rank == 0 ? "2 ranks x batch 2 vs 1 process x batch 4"
                : "control: 2 ranks x batch 2 vs 1 process x batch 2",
      static_cast<long long>(d.beyond), static_cast<long long>(d.total), kAtol, kRtol,
      100.0 * d.fraction(), d.max_abs, d.worst.c_str());
  if (rank == 0) {
    ok = ok && d.fraction() <= kMaxFraction && d.max_abs <= kMaxAbs;
    for (std::size_t s = 0; s < together.losses.size(); ++s) {
      const double a = together.losses[s], b = alone.losses[s];
      std::printf("  step %zu loss: 2 ranks %.7f, 1 process %.7f\n", s + 1, a, b);
      ok = ok && std::fabs(a - b) <= kLossRtol * std::fabs(b);
    }
    std::printf("dist_equivalence rank 0: %s\n", ok ? "equal within tolerance" : "FAILED");
  } else {
    ok = ok && d.fraction() > 100 * kMaxFraction;
    std::printf("dist_equivalence rank 1: %s\n", ok ? "the control differs" : "FAILED");
  }
  std::fflush(stdout);
  if (ok) fs::remove_all(work);
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "dist_equivalence: %s\n", e.what());
  return 1;
}
