// NullRunner (see the header).
#include "rollout/null_runner.h"

#include "common/error.h"

namespace r1::rollout {

StepOutputs NullRunner::step(const StepInputs& in) {
  const size_t n = in.tokens.size();
  R1_ASSERT(in.positions.size() == n && in.slots.size() == n, "NullRunner: ", n, " tokens but ", in.positions.size(),
            " positions and ", in.slots.size(), " slots");
  R1_ASSERT(in.block_tables.size() == in.sequences.size() * size_t(in.max_blocks), "NullRunner: block tables of ",
            in.block_tables.size(), " entries for ", in.sequences.size(), " x ", in.max_blocks);
  StepOutputs out;
  out.samples.assign(in.draws.size(), FusedSample{0, 0.0f});
  if (in.record_experts) out.routed_experts.assign(n * size_t(moe_layers() * experts_per_token()), 0);
  return out;
}

}  // namespace r1::rollout
