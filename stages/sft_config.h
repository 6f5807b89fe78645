// The supervised-training settings shared by pretrain, cold_start, sft and distill (sft_loop.h).
#pragma once

#include <cstdint>

#include "rl/optimizer.h"

namespace r1::stages {

struct SftConfig {
  int64_t steps = 200;
  int64_t batch_size = 16;
  bool train_on_prompt = false;  // SFT learns the completion; true for a base model's documents
  rl::OptimizerConfig optimizer;
  int64_t log_every = 25;
  // Write a stage checkpoint every this many steps (a multiple of log_every, so a resumed run logs
  // the same windows); 0: none. Stages that support it resume from the last one after a kill.
  int64_t checkpoint_every = 0;
  bool activation_checkpointing = false;  // recompute each layer in the backward (policy/activation_checkpoint.h)

  template <class V>
  void visit(V& v) {
    v("steps", steps);
    v("batch_size", batch_size);
    v("train_on_prompt", train_on_prompt);
    v("optimizer", optimizer);
    v("log_every", log_every);
    v("checkpoint_every", checkpoint_every);
    v("activation_checkpointing", activation_checkpointing);
    v.check(steps >= 1, "steps", "must be >= 1");
    v.check(batch_size >= 1, "batch_size", "must be >= 1");
    v.check(log_every >= 1, "log_every", "must be >= 1");
    v.check(checkpoint_every >= 0 && checkpoint_every % log_every == 0, "checkpoint_every",
            "must be 0 or a multiple of log_every");
  }
};

// Defaults for a stage's training section (every other key keeps SftConfig's default). A function,
// not designated initialisers: those leave members with their own defaults "missing" to -Wextra.
inline SftConfig sft_defaults(int64_t steps, int64_t batch_size, bool train_on_prompt = false) {
  SftConfig config;
  config.steps = steps;
  config.batch_size = batch_size;
  config.train_on_prompt = train_on_prompt;
  return config;
}

}  // namespace r1::stages
