// The reward_model stage and the reward_model reward, in process: a preference model trained with
// Bradley–Terry on chat pairs from a JSONL file learns the labeller's preference on held-out
// prompts (pair accuracy from 0 to >= 0.9 in 60 steps), and as a registered reward it ranks
// held-out preferred replies above flawed ones, the same batched or one at a time.
#include "tests/doctest_torch.h"

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "rewards/registry.h"
#include "sampling/chat_task.h"
#include "sampling/preference_pairs.h"
#include "stages/reward_model_reward.h"
#include "stages/runner.h"

namespace fs = std::filesystem;
using namespace r1;

namespace {

const std::string kConfig = std::string(R1_SOURCE_DIR) + "/configs/r1-tiny.yaml";

fs::path fresh(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("r1_test_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Every flawed reply of a chat corpus against the preferred reply to the same request.
std::vector<sampling::PreferencePair> chat_pairs(std::size_t corpus_size, uint64_t seed) {
  std::vector<sampling::PreferencePair> pairs;
  for (const auto& doc : sampling::generate_chat_corpus({}, corpus_size, seed))
    if (!doc.flaw.empty())
      pairs.push_back({doc.problem.question, sampling::preferred_chat_completion(doc.problem), doc.completion});
  return pairs;
}

nlohmann::json summary(const fs::path& done) { return nlohmann::json::parse(std::ifstream(done))["summary"]; }

}  // namespace

TEST_CASE("reward_model: Bradley-Terry on chat pairs learns the preference on held-out prompts; the reward ranks them") {
  const auto dir = fresh("reward_model_stage");
  const auto pairs_path = dir / "pairs.jsonl";
  const auto written = chat_pairs(1000, 5);
  {
    std::ofstream out(pairs_path);
    for (const auto& pair : written)
      out << nlohmann::json{{"prompt", pair.prompt}, {"chosen", pair.chosen}, {"rejected", pair.rejected}}.dump() << "\n";
  }
  stages::RunOptions options;
  options.config_path = kConfig;
  options.run_dir = (dir / "run").string();
  options.overrides = {"stages=[pretrain,reward_model]", "pretrain.steps=20", "pretrain.corpus_size=200",
                       "pretrain.chat_corpus_size=100", "eval.num_prompts=2", "eval.samples_per_prompt=1",
                       "eval.chat_prompts=0", "reward_model.init_from=pretrain", "reward_model.pairs_from=\"\"",
                       "reward_model.pairs_file=" + pairs_path.string(), "reward_model.held_out_share=0.2",
                       "reward_model.training.steps=60", "reward_model.training.log_every=20"};
  stages::run_pipeline(options);

  const auto rm = summary(dir / "run/reward_model/done.json");
  MESSAGE("reward model: " << rm.dump());
  CHECK(rm["pairs"].get<std::size_t>() == written.size());
  CHECK(rm["train_pairs"].get<std::size_t>() + rm["held_out_pairs"].get<std::size_t>() == written.size());
  // The split is by prompt (a prompt's pairs never straddle it), and the synthetic chat task has few
  // distinct prompts, some with many pairs: the held-out share of pairs lands near, not at, 0.2.
  CHECK(rm["held_out_pairs"].get<double>() > 0.1 * double(written.size()));
  CHECK(rm["held_out_pairs"].get<double>() < 0.4 * double(written.size()));
  // An untrained (zero) head ranks no pair: accuracy 0 and loss log 2. Trained:
  CHECK(rm["held_out_pair_accuracy"].get<double>() >= 0.9);
  CHECK(rm["held_out_loss"].get<double>() < 0.693 - 0.3);

  // The checkpoint as a reward, built from config by name.
  stages::register_model_rewards();
  stages::register_model_rewards();  // idempotent
  const auto model_dir = (dir / "run/reward_model/model").string();
  std::shared_ptr<const rewards::Reward> reward =
      rewards::Registry::global().create("reward_model", {{"model", model_dir}, {"batch_size", 7}});
  CHECK(reward->name() == "reward_model");
  std::vector<rewards::RewardInput> inputs;
  const auto held_out = chat_pairs(200, 99);  // requests the model never saw in a pair
  for (const auto& pair : held_out) {
    inputs.push_back({pair.prompt, pair.chosen, "", {}});
    inputs.push_back({pair.prompt, pair.rejected, "", {}});
  }
  const auto batched = reward->score_many(inputs);
  REQUIRE(batched.size() == inputs.size());
  int64_t ranked = 0;
  for (std::size_t i = 0; i < held_out.size(); ++i) {
    ranked += batched[2 * i].score > batched[2 * i + 1].score;
    CHECK(batched[2 * i].components.at("reward_model") == batched[2 * i].score);
  }
  MESSAGE("fresh pairs ranked right: " << ranked << "/" << held_out.size());
  CHECK(double(ranked) >= 0.9 * double(held_out.size()));
  for (std::size_t i : {0, 1, 17}) CHECK(reward->score(inputs[i]).score == doctest::Approx(batched[i].score).epsilon(1e-4));

  CHECK_THROWS_WITH_AS(rewards::Registry::global().create("reward_model", {}), doctest::Contains("\"model\""),
                       UserError);
  CHECK_THROWS_WITH_AS(rewards::Registry::global().create("reward_model", {{"model", (dir / "run/pretrain/model").string()}}),
                       doctest::Contains("not a reward model"), UserError);
  CHECK_THROWS_WITH_AS(rewards::Registry::global().create("reward_model", {{"model", model_dir}, {"batch", 2}}),
                       doctest::Contains("batch"), UserError);
}

TEST_CASE("reward_model: no pairs to learn from is a clear error") {
  const auto dir = fresh("reward_model_no_pairs");
  const auto pairs_path = dir / "pairs.jsonl";
  std::ofstream(pairs_path) << "{\"prompt\": \"p\", \"chosen\": \"a\"}\n";
  stages::RunOptions options;
  options.config_path = kConfig;
  options.run_dir = (dir / "run").string();
  options.overrides = {"stages=[pretrain,reward_model]", "pretrain.steps=2", "pretrain.corpus_size=20",
                       "eval.num_prompts=1", "eval.samples_per_prompt=1", "eval.chat_prompts=0",
                       "reward_model.init_from=pretrain", "reward_model.pairs_from=\"\"",
                       "reward_model.pairs_file=" + pairs_path.string()};
  CHECK_THROWS_WITH_AS(stages::run_pipeline(options), doctest::Contains("pairs.jsonl:1: missing \"rejected\""), UserError);
}
