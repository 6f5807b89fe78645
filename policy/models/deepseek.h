// What DeepSeek-V2 and -V3 share: multi-head latent attention (low-rank q and compressed kv with a
// decoupled RoPE part), DeepSeekMoE (shared + routed experts, routed_scaling_factor, dense first
// layers) and YaRN with mscale. Each version's file sets its router on top.
#pragma once

#include "policy/models/hf_config.h"

namespace r1::policy::deepseek {

struct Defaults {
  double routed_scaling_factor;
  bool norm_topk_prob;
  bool rope_interleave;  // V2 always rotates (even, odd) pairs; V3 when rope_interleave (default true)
  int64_t n_group, topk_group;
};

void read(const hf::ConfigReader& reader, ModelConfig& config, const Defaults& defaults);
nlohmann::json write(const ModelConfig& config, const std::string& architecture);

}  // namespace r1::policy::deepseek
