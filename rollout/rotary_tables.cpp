// rotary_tables(): one call of the policy's RotaryEmbedding::angles over all positions.
#include "rollout/rotary_tables.h"

#include <torch/torch.h>

#include "policy/model_config.h"
#include "policy/transformer.h"

namespace r1::rollout {

RotaryTables rotary_tables(const policy::ModelConfig& model) {
  torch::NoGradGuard no_grad;
  const policy::RotaryEmbedding rope(model);
  const auto positions = torch::arange(model.max_position, torch::kInt64).unsqueeze(0);  // [1, P]
  const auto angles = rope.angles(positions, torch::kFloat32);  // [1, 1, P, rope_dim] each
  auto to_vector = [](const torch::Tensor& t) {
    const auto flat = t.contiguous().view(-1);
    return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
  };
  return {model.max_position, model.rope_dim(), to_vector(angles.cos), to_vector(angles.sin)};
}

}  // namespace r1::rollout
