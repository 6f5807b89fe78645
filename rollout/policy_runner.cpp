// model_kv_geometry(): the pool shape every runner of the policy's models uses.
#include "rollout/policy_runner.h"

namespace r1::rollout {

KvCacheGeometry model_kv_geometry(const policy::ModelConfig& c, int64_t block_tokens, int64_t bytes_per_element) {
  KvCacheGeometry geometry;
  geometry.layers = c.num_layers;
  geometry.bytes_per_element = bytes_per_element;
  geometry.block_tokens = block_tokens;
  if (c.is_mla()) {
    geometry.kv_heads = 1;
    geometry.head_dim = c.kv_lora_rank + c.qk_rope_head_dim;
    geometry.shared_kv = true;
  } else {
    geometry.kv_heads = c.num_kv_heads;
    geometry.head_dim = c.head_dim;
  }
  return geometry;
}

}  // namespace r1::rollout
