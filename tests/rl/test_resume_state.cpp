// What an exact resume rests on: a checkpoint's weights and the optimiser's state come back bit
// for bit, so a model trained on after a save/load takes the same steps as one never interrupted.
#include <unistd.h>

#include <filesystem>

#include <torch/torch.h>

#include "tests/doctest_torch.h"

#include "policy/checkpoint.h"
#include "policy/tokenizer.h"
#include "policy/transformer.h"
#include "rl/optimizer.h"

namespace {

namespace fs = std::filesystem;

r1::policy::CausalLM tiny_model() {
  auto config = r1::policy::preset_config("tiny");
  config.vocab_size = r1::policy::ByteTokenizer().vocab_size();
  torch::manual_seed(3);
  return r1::policy::CausalLM(config);
}

// One training step on a fixed batch: next-token loss, backward, AdamW.
void train_step(r1::policy::CausalLM& model, r1::rl::Optimizer& optimizer, int64_t seed) {
  torch::manual_seed(seed);
  const auto ids = torch::randint(0, 256, {2, 12}, torch::kLong);
  auto logits = model->logits(model->forward(ids).hidden);
  auto loss = torch::nn::functional::cross_entropy(logits.slice(1, 0, 11).reshape({-1, logits.size(-1)}),
                                                   ids.slice(1, 1).reshape({-1}));
  loss.backward();
  optimizer.step();
}

bool same_parameters(r1::policy::CausalLM& a, r1::policy::CausalLM& b) {
  auto pa = a->named_parameters(true), pb = b->named_parameters(true);
  for (const auto& item : pa)
    if (!torch::equal(item.value(), pb[item.key()])) return false;
  return pa.size() == pb.size();
}

}  // namespace

TEST_CASE("save_pretrained + load_weights, Optimizer save + load: training goes on bit for bit") {
  const auto dir = fs::temp_directory_path() / ("r1_test_resume_state_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  r1::rl::OptimizerConfig config;
  config.lr = 1e-3;
  auto whole = tiny_model();
  r1::rl::Optimizer whole_optimizer(whole->parameters(), config, 10);
  for (int64_t step = 1; step <= 3; ++step) train_step(whole, whole_optimizer, step);
  r1::policy::save_pretrained((dir / "model").string(), whole, r1::policy::ByteTokenizer());
  whole_optimizer.save((dir / "optimizer.pt").string());

  auto resumed = tiny_model();  // fresh weights, overwritten by the checkpoint
  r1::policy::load_weights(*resumed, (dir / "model" / "model.safetensors").string());
  r1::rl::Optimizer resumed_optimizer(resumed->parameters(), config, 10);
  resumed_optimizer.load((dir / "optimizer.pt").string());
  CHECK(same_parameters(whole, resumed));
  CHECK(resumed_optimizer.steps_done() == whole_optimizer.steps_done());
  for (int64_t step = 4; step <= 6; ++step) {
    train_step(whole, whole_optimizer, step);
    train_step(resumed, resumed_optimizer, step);
    CAPTURE(step);
    CHECK(same_parameters(whole, resumed));
  }
  fs::remove_all(dir);
}
