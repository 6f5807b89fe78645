// The scalar-head preference model and its checkpoints.
#include "policy/reward_model.h"

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "policy/checkpoint.h"

namespace r1::policy {

namespace {
constexpr const char* kArchitecture = "R1ForSequenceClassification";
}

RewardModelImpl::RewardModelImpl(const ModelConfig& config) : config_(config) {
  model = register_module("model", Decoder(config));
  score = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(config.hidden_size, 1).bias(false)));
}

torch::Tensor RewardModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& lengths) {
  R1_CHECK(input_ids.dim() == 2 && lengths.dim() == 1 && lengths.size(0) == input_ids.size(0),
           "reward model: input_ids [batch, seq] and lengths [batch] expected, got ", input_ids.sizes(), " and ",
           lengths.sizes());
  const auto positions = torch::arange(input_ids.size(1), torch::kLong).unsqueeze(0).expand_as(input_ids);
  // Causal attention: right padding never reaches the last real token, so it needs no mask.
  auto hidden = model->forward(input_ids, positions, /*cache=*/nullptr, /*stats=*/nullptr);
  const auto last = (lengths - 1).clamp_min(0).view({-1, 1, 1}).expand({-1, 1, hidden.size(2)});
  return score->forward(hidden.gather(1, last).squeeze(1)).squeeze(-1);
}

std::vector<int64_t> preference_ids(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                    const std::string& prompt, const std::string& completion, int64_t max_position) {
  auto ids = tokenizer.encode(chat_template.render(prompt));
  const auto completion_ids = tokenizer.encode(completion);
  ids.insert(ids.end(), completion_ids.begin(), completion_ids.end());
  ids.push_back(tokenizer.eos_id());
  if (int64_t(ids.size()) > max_position) ids.resize(std::size_t(max_position));
  return ids;
}

torch::Tensor score_sequences(RewardModel& model, const std::vector<std::vector<int64_t>>& sequences, int64_t pad_id) {
  R1_CHECK(!sequences.empty(), "score_sequences: no sequences");
  std::size_t longest = 0;
  for (const auto& seq : sequences) {
    R1_CHECK(!seq.empty(), "score_sequences: an empty sequence");
    longest = std::max(longest, seq.size());
  }
  auto ids = torch::full({int64_t(sequences.size()), int64_t(longest)}, pad_id, torch::kLong);
  std::vector<int64_t> lengths;
  auto rows = ids.accessor<int64_t, 2>();
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    for (std::size_t j = 0; j < sequences[i].size(); ++j) rows[int64_t(i)][int64_t(j)] = sequences[i][j];
    lengths.push_back(int64_t(sequences[i].size()));
  }
  return model->forward(ids, torch::tensor(lengths, torch::kLong));
}

RewardModel reward_model_from(const CausalLM& policy) {
  RewardModel rm(policy->config());
  torch::NoGradGuard no_grad;
  auto source = policy->model->named_parameters(true);
  for (auto& item : rm->model->named_parameters(true)) item.value().copy_(source[item.key()]);
  rm->score->weight.zero_();
  return rm;
}

void save_reward_model(const std::string& dir, RewardModel& model, const Tokenizer& tokenizer,
                       const std::optional<TemplateConfig>& chat_template) {
  auto config_json = to_config_json(model->config());
  config_json["architectures"] = {kArchitecture};
  config_json["num_labels"] = 1;
  save_checkpoint(dir, *model, config_json, tokenizer, chat_template);
}

LoadedRewardModel load_reward_model(const std::string& dir) {
  const auto config_json = read_checkpoint_config(dir);
  const auto origin = (std::filesystem::path(dir) / "config.json").string();
  const auto architectures = config_json.value("architectures", nlohmann::json::array());
  R1_CHECK(architectures.is_array() && architectures.size() == 1 && architectures[0] == kArchitecture, origin,
           ": architectures is ", architectures.dump(), ", not [\"", kArchitecture,
           "\"]: not a reward model (train one with `r1 stage reward_model`)");
  LoadedRewardModel loaded;
  loaded.chat_template = read_checkpoint_template(dir);
  loaded.tokenizer = load_tokenizer(dir);
  loaded.model = RewardModel(from_config_json(config_json, origin));
  load_weights(*loaded.model, dir);  // model.safetensors or its shards
  return loaded;
}

}  // namespace r1::policy
