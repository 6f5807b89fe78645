// A preference (reward) model: the policy's trunk with a scalar head on the hidden state of each
// sequence's last token — transformers' *ForSequenceClassification with num_labels = 1, whose
// parameters it shares by name ("model.*" and "score.weight"). Trained with the Bradley–Terry loss
// (rl/bradley_terry.h) and read by the reward_model reward (stages/reward_model_reward.cpp).
#pragma once

#include <optional>
#include <string>

#include <torch/torch.h>

#include "policy/chat_template.h"
#include "policy/tokenizer.h"
#include "policy/transformer.h"

namespace r1::policy {

class RewardModelImpl : public torch::nn::Module {
 public:
  explicit RewardModelImpl(const ModelConfig& config);
  // input_ids: [batch, seq], right-padded; lengths: [batch] int64, each row's real token count
  // (>= 1). Returns [batch] scores, the head applied at position length - 1.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& lengths);
  const ModelConfig& config() const { return config_; }

  Decoder model{nullptr};
  torch::nn::Linear score{nullptr};  // [1, hidden], no bias

 private:
  ModelConfig config_;
};
TORCH_MODULE(RewardModel);

// The ids the reward model reads for one (prompt, completion): the prompt rendered by `chat_template`,
// the completion, then EOS; longer inputs keep their first max_position tokens (rollouts bounded by
// max_tokens never reach the cut; a pairs file's over-long reply is scored on its beginning).
std::vector<int64_t> preference_ids(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                    const std::string& prompt, const std::string& completion, int64_t max_position);

// Scores of many id sequences in one right-padded batch; differentiable unless grad mode is off.
torch::Tensor score_sequences(RewardModel& model, const std::vector<std::vector<int64_t>>& sequences, int64_t pad_id);

// A reward model starting from a policy's trunk (R1 and InstructGPT start it from an SFT model);
// the head starts at zero, so every sequence scores 0 before training.
RewardModel reward_model_from(const CausalLM& policy);

// Checkpoint: the policy's layout, config.json naming R1ForSequenceClassification with num_labels 1.
void save_reward_model(const std::string& dir, RewardModel& model, const Tokenizer& tokenizer,
                       const std::optional<TemplateConfig>& chat_template);
struct LoadedRewardModel {
  RewardModel model{nullptr};
  std::unique_ptr<Tokenizer> tokenizer;
  std::optional<TemplateConfig> chat_template;
};
// UserError naming the directory when it holds a policy (or anything else) rather than a reward model.
LoadedRewardModel load_reward_model(const std::string& dir);

}  // namespace r1::policy
