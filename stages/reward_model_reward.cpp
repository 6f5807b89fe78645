// A reward model's scalar score as a reward: completions batched into one forward pass.
#include "stages/reward_model_reward.h"

#include <mutex>

#include "common/error.h"
#include "policy/reward_model.h"
#include "rewards/builtins.h"

namespace r1::stages {

namespace {

class RewardModelReward : public rewards::Reward {
 public:
  RewardModelReward(const std::string& dir, int64_t batch_size) : batch_size_(batch_size) {
    auto loaded = policy::load_reward_model(dir);
    model_ = loaded.model;
    model_->eval();
    for (auto& p : model_->parameters()) p.set_requires_grad(false);
    tokenizer_ = std::move(loaded.tokenizer);
    // Prompts as the model saw them in training: its checkpoint's template (else R1-Zero's).
    template_ = std::make_unique<policy::ChatTemplate>(loaded.chat_template.value_or(policy::TemplateConfig{}));
  }

  std::string name() const override { return "reward_model"; }

  rewards::RewardResult score(const rewards::RewardInput& input) const override {
    return score_many(std::span<const rewards::RewardInput>(&input, 1)).front();
  }

  std::vector<rewards::RewardResult> score_many(std::span<const rewards::RewardInput> inputs) const override {
    std::vector<rewards::RewardResult> results;
    torch::NoGradGuard no_grad;  // thread-local: each scoring thread sets its own
    for (std::size_t begin = 0; begin < inputs.size(); begin += std::size_t(batch_size_)) {
      const std::size_t end = std::min(inputs.size(), begin + std::size_t(batch_size_));
      std::vector<std::vector<int64_t>> sequences;
      for (std::size_t i = begin; i < end; ++i)
        sequences.push_back(policy::preference_ids(*tokenizer_, *template_, inputs[i].prompt, inputs[i].completion,
                                                   model_->config().max_position));
      const auto scores = policy::score_sequences(model_, sequences, tokenizer_->pad_id()).contiguous();
      for (int64_t i = 0; i < scores.size(0); ++i) {
        rewards::RewardResult result;
        result.score = scores[i].item<double>();
        result.components["reward_model"] = result.score;
        results.push_back(std::move(result));
      }
    }
    return results;
  }

 private:
  mutable policy::RewardModel model_{nullptr};  // forward() is not const; inference only, parameters frozen
  std::unique_ptr<policy::Tokenizer> tokenizer_;
  std::unique_ptr<policy::ChatTemplate> template_;
  int64_t batch_size_;
};

std::unique_ptr<rewards::Reward> make_reward_model(const nlohmann::json& options) {
  rewards::check_option_keys("reward_model", options, {"model", "batch_size"});
  R1_CHECK(options.is_object() && options.contains("model") && options["model"].is_string() &&
               !options["model"].get<std::string>().empty(),
           "reward_model: option \"model\" (the reward model's checkpoint directory) is required");
  const auto batch_size = rewards::integer_option("reward_model", options, "batch_size", 16, 1, 4096);
  return std::make_unique<RewardModelReward>(options["model"].get<std::string>(), batch_size);
}

}  // namespace

rewards::RewardInfo reward_model_reward_info() {
  return {"reward_model",
          "a preference model's scalar score (trained by `r1 stage reward_model`, Bradley-Terry on pairs)",
          make_reward_model,
          {{"model", "(required)", "the reward model's checkpoint directory (in a run config: a stage name)"},
           {"batch_size", "16", "completions per forward pass"}}};
}

void register_model_rewards() {
  static std::once_flag once;
  std::call_once(once, [] { rewards::Registry::global().add(reward_model_reward_info()); });
}

}  // namespace r1::stages
