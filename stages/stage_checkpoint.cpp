// Writing, finding and loading stage checkpoints.
#include "stages/stage_checkpoint.h"

#include <fstream>

#include "common/error.h"
#include "policy/checkpoint.h"

namespace r1::stages {

namespace fs = std::filesystem;

namespace {
fs::path current(const fs::path& stage_dir) { return stage_dir / "checkpoint"; }
fs::path staging(const fs::path& stage_dir) { return stage_dir / "checkpoint.tmp"; }
fs::path previous(const fs::path& stage_dir) { return stage_dir / "checkpoint.old"; }
}  // namespace

void save_stage_checkpoint(const fs::path& stage_dir, int64_t step, policy::CausalLM& model,
                           const policy::Tokenizer& tokenizer, const rl::Optimizer& optimizer, nlohmann::json state,
                           policy::CausalLM* reference) {
  const auto tmp = staging(stage_dir);
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  policy::save_pretrained((tmp / "model").string(), model, tokenizer);
  if (reference) policy::save_pretrained((tmp / "reference").string(), *reference, tokenizer);
  optimizer.save((tmp / "optimizer.pt").string());
  state["step"] = step;
  {
    std::ofstream out(tmp / "state.json");
    R1_CHECK(out.good(), "cannot write ", (tmp / "state.json").string());
    out << state.dump(2) << "\n";
    out.flush();
    R1_CHECK(out.good(), "cannot write ", (tmp / "state.json").string());
  }
  // Swap: current -> old, tmp -> current, then drop old. Between the renames only old is complete.
  fs::remove_all(previous(stage_dir));
  if (fs::exists(current(stage_dir))) fs::rename(current(stage_dir), previous(stage_dir));
  fs::rename(tmp, current(stage_dir));
  fs::remove_all(previous(stage_dir));
}

std::optional<StageCheckpoint> find_stage_checkpoint(const fs::path& stage_dir) {
  for (const auto& dir : {current(stage_dir), previous(stage_dir)}) {
    const auto state_path = dir / "state.json";
    if (!fs::exists(state_path)) continue;
    StageCheckpoint checkpoint;
    checkpoint.dir = dir;
    std::ifstream in(state_path);
    try {
      checkpoint.state = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      R1_FAIL(state_path.string(), ": ", e.what(), " (remove the checkpoint directory to start the stage over)");
    }
    R1_CHECK(checkpoint.state.is_object() && checkpoint.state.value("step", nlohmann::json()).is_number_integer(),
             state_path.string(), ": no integer \"step\" (remove the checkpoint directory to start the stage over)");
    checkpoint.step = checkpoint.state["step"].get<int64_t>();
    return checkpoint;
  }
  return std::nullopt;
}

void remove_stage_checkpoint(const fs::path& stage_dir) {
  for (const auto& dir : {current(stage_dir), staging(stage_dir), previous(stage_dir)}) fs::remove_all(dir);
}

void load_stage_checkpoint(const StageCheckpoint& checkpoint, policy::CausalLM& model, rl::Optimizer& optimizer,
                           policy::CausalLM* reference) {
  // Directories, not model.safetensors: a model past the shard limit is saved in shards.
  policy::load_weights(*model, (checkpoint.dir / "model").string());
  const auto reference_weights = checkpoint.dir / "reference";
  if (reference && policy::has_checkpoint_weights(reference_weights.string()))
    policy::load_weights(**reference, reference_weights.string());
  optimizer.load((checkpoint.dir / "optimizer.pt").string());
}

}  // namespace r1::stages
