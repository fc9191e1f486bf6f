// psalm/train/checkpoint.hpp — training checkpoints: the model's weights, its JSON config, the
// optimizer's moments and step counts, and the trainer's own state (step, seed, anything the
// caller adds), as one folder `checkpoint-<step>` inside a run folder, written atomically: the
// folder is built under a temporary name, synced, renamed, and only then does the run's
// `latest` file point at it. A process killed at any moment leaves `latest` naming a complete
// checkpoint. A checkpoint folder is also a model folder (model.safetensors + config.json).
// Depends on: nn/state_dict, optim/adamw, io/{atomic_file, safetensors, json_config, read_file}.
// Test: tests/train/test_checkpoint.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "psalm/io/atomic_file.hpp"
#include "psalm/io/json_config.hpp"
#include "psalm/io/read_file.hpp"
#include "psalm/io/safetensors.hpp"
#include "psalm/io/safetensors_writer.hpp"
#include "psalm/nn/state_dict.hpp"
#include "psalm/optim/adamw.hpp"

namespace psalm::train {

namespace fs = std::filesystem;
using autograd::Real;

inline constexpr const char* kModelFile = "model.safetensors";
inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kOptimizerFile = "optimizer.safetensors";
inline constexpr const char* kTrainerStateFile = "trainer_state.json";
inline constexpr const char* kLatestFile = "latest";

/// The name of the checkpoint folder of `step` ("checkpoint-000120").
inline std::string checkpoint_name(std::int64_t step) {
  return fmt::format("checkpoint-{:06d}", step);
}

/// An optimizer whose parameters carry the module's names: names[g][i] is the module path of
/// parameter i of group g (how optimizer state is matched to parameters across a resume).
template <Real T, Device Dev>
struct NamedOptimizer {
  optim::AdamW<T, Dev>* optimizer = nullptr;
  std::vector<std::vector<std::string>> names;
};

namespace detail {

inline void write_text_atomically(const fs::path& path, const std::string& text) {
  io::AtomicFile f(path);
  f.write(text);
  f.commit();
}

/// fsync of a folder, so a rename inside it survives a power cut.
inline void sync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

/// The checkpoint's small text files (`latest`, the trainer state) are read whole through
/// io::read_file: regular files of at most 1 MiB.
inline constexpr std::int64_t kMaxCheckpointTextBytes = std::int64_t{1} << 20;

}  // namespace detail

/// Writes checkpoint `step` into `run_dir` and points `latest` at it; keeps the newest
/// `keep` checkpoints and removes older ones. `trainer_state` is saved as is, with "step"
/// added. Returns the checkpoint's folder.
template <Real T, Device Dev>
fs::path save_checkpoint(const fs::path& run_dir, std::int64_t step, nn::Module<T, Dev>& model,
                         const nlohmann::json& config, const NamedOptimizer<T, Dev>& opt,
                         nlohmann::json trainer_state, int keep = 2) {
  PSALM_CHECK(step >= 0, "save_checkpoint: negative step ", step);
  PSALM_CHECK(keep >= 1, "save_checkpoint: keep must be at least 1, got ", keep);
  fs::create_directories(run_dir);
  const std::string name = checkpoint_name(step);
  const fs::path final_dir = run_dir / name;
  const fs::path tmp_dir = run_dir / fmt::format(".{}.tmp-{}", name, ::getpid());
  fs::remove_all(tmp_dir);
  fs::create_directories(tmp_dir);

  nn::save_safetensors(model, tmp_dir / kModelFile, {{"format", "pt"}});
  detail::write_text_atomically(tmp_dir / kConfigFile, config.dump(2) + "\n");
  io::SafetensorsWriter moments;
  nlohmann::json steps = nlohmann::json::object();
  if (opt.optimizer != nullptr) {
    const auto& groups = opt.optimizer->groups();
    PSALM_CHECK(opt.names.size() == groups.size(), "save_checkpoint: ", opt.names.size(),
                " name lists for ", groups.size(), " optimizer groups");
    for (std::size_t g = 0; g < groups.size(); ++g) {
      PSALM_CHECK(opt.names[g].size() == groups[g].params.size(), "save_checkpoint: group ", g,
                  " has ", groups[g].params.size(), " parameters and ", opt.names[g].size(),
                  " names");
      for (std::size_t i = 0; i < groups[g].params.size(); ++i) {
        const std::string& pname = opt.names[g][i];
        const std::int64_t s = opt.optimizer->step_count(g, i);
        steps[pname] = s;
        if (s == 0) continue;
        moments.add("exp_avg." + pname, opt.optimizer->exp_avg(g, i).template to<cpu>());
        moments.add("exp_avg_sq." + pname, opt.optimizer->exp_avg_sq(g, i).template to<cpu>());
      }
    }
  }
  moments.set_metadata("steps", steps.dump());
  moments.write(tmp_dir / kOptimizerFile);
  trainer_state["step"] = step;
  detail::write_text_atomically(tmp_dir / kTrainerStateFile, trainer_state.dump(2) + "\n");
  detail::sync_folder(tmp_dir);

  fs::remove_all(final_dir);  // an incomplete folder of the same step from an earlier crash
  fs::rename(tmp_dir, final_dir);
  detail::sync_folder(run_dir);
  detail::write_text_atomically(run_dir / kLatestFile, name + "\n");

  std::vector<fs::path> existing;
  for (const auto& e : fs::directory_iterator(run_dir))
    if (e.is_directory() && e.path().filename().string().starts_with("checkpoint-"))
      existing.push_back(e.path());
  std::sort(existing.begin(), existing.end());
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < existing.size(); ++i)
    if (existing[i] != final_dir) fs::remove_all(existing[i]);
  return final_dir;
}

/// The folder `latest` names in `run_dir`; an error when there is no complete checkpoint.
inline fs::path latest_checkpoint(const fs::path& run_dir) {
  PSALM_CHECK(fs::is_directory(run_dir), "resume: ", run_dir.string(), " is not a folder");
  std::string name =
      io::read_file(run_dir / kLatestFile, detail::kMaxCheckpointTextBytes, "checkpoint pointer");
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
  PSALM_CHECK(name.starts_with("checkpoint-") && name.find('/') == std::string::npos,
              "resume: ", (run_dir / kLatestFile).string(), " names \"", name,
              "\", not a checkpoint folder");
  const fs::path dir = run_dir / name;
  for (const char* f : {kModelFile, kConfigFile, kOptimizerFile, kTrainerStateFile})
    PSALM_CHECK(fs::is_regular_file(dir / f), "resume: checkpoint ", dir.string(), " lacks ", f);
  return dir;
}

/// Loads a checkpoint folder into `model` (strictly) and `opt` (moments and step counts by
/// parameter name); returns its trainer state.
template <Real T, Device Dev>
nlohmann::json load_checkpoint(const fs::path& dir, nn::Module<T, Dev>& model,
                               const NamedOptimizer<T, Dev>& opt) {
  const io::SafetensorsFile weights = io::SafetensorsFile::open(dir / kModelFile);
  nn::load_state_dict(model, weights);
  if (opt.optimizer != nullptr) {
    const io::SafetensorsFile moments = io::SafetensorsFile::open(dir / kOptimizerFile);
    const auto found = moments.metadata().find("steps");
    PSALM_CHECK(found != moments.metadata().end(), "resume: ", (dir / kOptimizerFile).string(),
                " has no \"steps\" metadata");
    const nlohmann::json steps =
        io::parse_json_strict(found->second, (dir / kOptimizerFile).string());
    auto& groups = opt.optimizer->groups();
    for (std::size_t g = 0; g < groups.size(); ++g)
      for (std::size_t i = 0; i < groups[g].params.size(); ++i) {
        const std::string& pname = opt.names.at(g).at(i);
        PSALM_CHECK(steps.contains(pname), "resume: the optimizer state has no entry for ", pname);
        const std::int64_t s = steps.at(pname).get<std::int64_t>();
        if (s == 0) {
          opt.optimizer->set_state(g, i, 0, {}, {});
          continue;
        }
        opt.optimizer->set_state(g, i, s, moments.load<T>("exp_avg." + pname).template to<Dev>(),
                                 moments.load<T>("exp_avg_sq." + pname).template to<Dev>());
      }
  }
  const std::string state =
      io::read_file(dir / kTrainerStateFile, detail::kMaxCheckpointTextBytes, "trainer state");
  return io::parse_json_strict(state, (dir / kTrainerStateFile).string());
}

}  // namespace psalm::train
