// The scalar-head reward model: scores at each row's last real token, starts from the policy's
// trunk with a zero head, round-trips through its checkpoint and refuses a policy checkpoint.
#include "tests/doctest_torch.h"

#include <filesystem>

#include "common/error.h"
#include "policy/checkpoint.h"
#include "policy/reward_model.h"

using namespace r1::policy;
namespace fs = std::filesystem;

namespace {
ModelConfig tiny_config() {
  auto config = preset_config("tiny");
  config.vocab_size = ByteTokenizer().vocab_size();
  return config;
}
}  // namespace

TEST_CASE("reward model: the score of a padded row equals its unpadded score; the trunk is the policy's") {
  torch::manual_seed(3);
  CausalLM policy(tiny_config());
  auto rm = reward_model_from(policy);
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 256, {2, 7}, torch::kLong);
  // Before training the head is zero: every score is exactly 0.
  CHECK(torch::equal(rm->forward(ids, torch::tensor({7, 4})), torch::zeros({2})));

  torch::nn::init::normal_(rm->score->weight, 0.0, 0.1);
  const auto padded = rm->forward(ids, torch::tensor({7, 4}));
  const auto alone = rm->forward(ids.index({torch::indexing::Slice(1, 2), torch::indexing::Slice(0, 4)}), torch::tensor({4}));
  CHECK(padded[1].item<float>() == doctest::Approx(alone[0].item<float>()).epsilon(1e-5));
  // The score is the head applied to the policy's final hidden state at the last real token.
  const auto hidden = policy->forward(ids).hidden;
  const auto expected = (hidden[0][6] * rm->score->weight[0]).sum().item<float>();
  CHECK(padded[0].item<float>() == doctest::Approx(expected).epsilon(1e-5));
  CHECK_THROWS_AS(rm->forward(ids, torch::tensor({7})), r1::UserError);
}

TEST_CASE("reward model checkpoints round-trip; a policy checkpoint is refused by name") {
  const auto dir = fs::temp_directory_path() / "r1_test_reward_model";
  fs::remove_all(dir);
  torch::manual_seed(4);
  CausalLM policy(tiny_config());
  auto rm = reward_model_from(policy);
  torch::nn::init::normal_(rm->score->weight, 0.0, 0.1);
  save_reward_model((dir / "rm").string(), rm, ByteTokenizer(), TemplateConfig{"r1_zero", ""});
  auto loaded = load_reward_model((dir / "rm").string());
  auto ids = torch::randint(0, 256, {3, 5}, torch::kLong);
  const auto lengths = torch::tensor({5, 2, 3});
  torch::NoGradGuard no_grad;
  CHECK(torch::equal(rm->forward(ids, lengths), loaded.model->forward(ids, lengths)));
  REQUIRE(loaded.chat_template.has_value());
  CHECK(loaded.chat_template->name == "r1_zero");

  save_pretrained((dir / "policy").string(), policy, ByteTokenizer());
  CHECK_THROWS_WITH_AS(load_reward_model((dir / "policy").string()), doctest::Contains("not a reward model"),
                       r1::UserError);
  CHECK_THROWS_WITH_AS(load_reward_model((dir / "absent").string()), doctest::Contains("does not exist"), r1::UserError);
  fs::remove_all(dir);
}
