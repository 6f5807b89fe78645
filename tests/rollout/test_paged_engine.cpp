// The paged engine on the CPU runner: greedy tokens equal the CPU engine's on every HF family (MLA in
// the absorbed form included), logprobs equal the learner's through chunked prefill, shared prompt
// blocks and copy on write, preemption changes nothing in batch-invariant mode, a sequence is bit
// for bit the same whatever else is in the batch, and the recorded experts are the learner's.
#include "tests/doctest_torch.h"

#include "common/error.h"
#include "policy/model_config.h"
#include "policy/tokenizer.h"
#include "rl/token_batch.h"
#include "rollout/cpu_engine.h"
#include "rollout/engine_weights.h"
#include "rollout/null_runner.h"
#include "rollout/paged_engine.h"
#include "rollout/torch_runner.h"
#include "tests/rollout/hf_fixture_models.h"
#include "tests/rollout/runner_parity.h"

using namespace r1;

namespace {

// "tiny" is a MoE model, "tiny-dense" the same trunk with a dense feed-forward.
policy::CausalLM tiny_model(uint64_t seed, const char* preset = "tiny-dense") {
  torch::manual_seed(seed);
  auto c = policy::preset_config(preset);
  c.vocab_size = policy::ByteTokenizer().vocab_size();
  c.max_position = 128;
  c.init_std = 0.2;  // peaked distributions: sampled text varies with the seed but is not uniform noise
  return policy::CausalLM(c);
}

rollout::PagedEngineConfig small_steps(int64_t num_blocks = 64) {
  rollout::PagedEngineConfig config;
  config.block_tokens = 4;
  config.num_blocks = num_blocks;
  config.scheduler.max_tokens_per_step = 12;  // prompts longer than this are prefilled in chunks
  config.scheduler.max_running = 8;
  config.scheduler.prefill_chunk = 5;
  return config;
}

rollout::PagedEngine paged(policy::CausalLM model, const policy::Tokenizer& tok, rollout::PagedEngineConfig config) {
  return rollout::PagedEngine(std::make_unique<rollout::TorchRunner>(model), tok, config);
}

// Max |engine logprob - learner logprob| over every completion token of `results`.
double max_logprob_gap(policy::CausalLM& model, const std::vector<rollout::GenerationRequest>& requests,
                       const std::vector<rollout::GenerationResult>& results, int64_t pad_id, int64_t* tokens) {
  const auto batch = test::pack_samples(requests, results, pad_id);
  torch::NoGradGuard no_grad;
  auto learner = rl::token_logprobs(model, batch.input_ids).logprobs;
  *tokens = int64_t(batch.loss_mask.sum().item<double>());
  return ((learner - batch.old_logprobs).abs() * batch.loss_mask).max().item<double>();
}
}  // namespace

TEST_CASE("paged engine: greedy tokens equal the CPU engine's on every HF family, absorbed MLA included") {
  test::SmallVocabTokenizer tok;
  rollout::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = 10;
  for (const auto& family : test::hf_fixture_families()) {
    CAPTURE(family);
    auto model = test::load_hf_fixture(family);
    std::vector<rollout::GenerationRequest> requests = {{tok.encode("The cat sat on the mat"), 1, greedy, 1},
                                                        {tok.encode("Hi"), 1, greedy, 2}};
    rollout::CpuEngine reference(model, tok);
    auto engine = paged(model, tok, small_steps());
    const auto expected = reference.generate(requests);
    const auto got = engine.generate(requests);
    CHECK(engine.last_stats().prefill_tokens >= 24);  // "The cat sat on the mat" (22) came in chunks
    for (std::size_t r = 0; r < requests.size(); ++r) {
      const auto& want = expected[r].samples.at(0);
      const auto& have = got[r].samples.at(0);
      CHECK(have.token_ids == want.token_ids);
      CHECK(have.finish_reason == want.finish_reason);
      REQUIRE(have.logprobs.size() == want.logprobs.size());
      for (std::size_t i = 0; i < want.logprobs.size(); ++i) CHECK(have.logprobs[i] == doctest::Approx(want.logprobs[i]).epsilon(1e-4));
    }
    const auto geometry = engine.runner().kv_geometry(4);
    CHECK(geometry.shared_kv == model->config().is_mla());
  }
}

TEST_CASE("paged engine: a group shares its prompt's blocks, copies on write, and its logprobs are the learner's") {
  auto model = tiny_model(2);
  policy::ByteTokenizer tok;
  auto engine = paged(model, tok, small_steps());
  rollout::SamplingParams params;
  params.max_tokens = 20;
  params.temperature = 0.8;
  // 15 prompt tokens: three full shared blocks and a partial one, the first divergent block.
  const std::vector<rollout::GenerationRequest> requests = {{tok.encode("Sam has 5 pens."), 4, params, 7},
                                                            {tok.encode("Q: 2+3?"), 3, params, 8}};
  const auto results = engine.generate(requests);
  const auto& stats = engine.last_stats();
  // Each group prefilled its prompt once: 15 + 7 prompt tokens, whatever the number of samples.
  CHECK(stats.prefill_tokens == 22);
  // Copy on write of the partial prompt block: G - 1 copies per group (the last holder writes in place).
  CHECK(stats.block_copies == 3 + 2);
  int64_t tokens = 0;
  CHECK(max_logprob_gap(model, requests, results, tok.pad_id(), &tokens) < 1e-4);
  CHECK(tokens > 60);
  // The samples of a group differ (their own Philox keys), and the same seed gives the same samples.
  CHECK(results[0].samples[0].token_ids != results[0].samples[1].token_ids);
  const auto again = engine.generate(requests);
  for (std::size_t r = 0; r < requests.size(); ++r)
    for (std::size_t s = 0; s < results[r].samples.size(); ++s)
      CHECK(again[r].samples[s].token_ids == results[r].samples[s].token_ids);
}

TEST_CASE("paged engine: batch-invariant mode gives a sequence the same bits alone, in a crowd, and when preempted") {
  test::check_batch_invariance([](policy::CausalLM model) -> std::unique_ptr<rollout::ModelRunner> {
    rollout::TorchRunnerOptions options;
    options.batch_invariant = true;
    return std::make_unique<rollout::TorchRunner>(model, options);
  });
}

TEST_CASE("paged engine: the recorded experts are the learner's routing of the same tokens") {
  auto model = tiny_model(4, "tiny");
  REQUIRE(model->config().num_moe_layers() > 0);
  policy::ByteTokenizer tok;
  auto config = small_steps();
  config.record_experts = true;
  auto engine = paged(model, tok, config);
  rollout::SamplingParams params;
  params.max_tokens = 12;
  const std::vector<rollout::GenerationRequest> requests = {{tok.encode("Ann has 3 cats."), 3, params, 5}};
  const auto results = engine.generate(requests);
  const int64_t layers = model->config().num_moe_layers(), k = model->config().num_experts_per_token;
  torch::NoGradGuard no_grad;
  for (const auto& sample : results[0].samples) {
    auto ids = requests[0].prompt_ids;
    ids.insert(ids.end(), sample.token_ids.begin(), sample.token_ids.end());
    ids.pop_back();  // the last token is never fed
    const int64_t fed = int64_t(ids.size());
    REQUIRE(int64_t(sample.routed_experts.size()) == fed * layers * k);
    policy::RoutingStats stats{torch::zeros({}), {}, /*record_experts=*/true, {}};
    auto input = torch::tensor(ids, torch::kLong).unsqueeze(0);
    model->model->forward(input, torch::arange(fed, torch::kLong).unsqueeze(0), nullptr, &stats);
    auto learner = torch::stack(stats.chosen_experts, 1).to(torch::kInt32).contiguous();  // [fed, layers, k]
    const std::vector<int32_t> expected(learner.data_ptr<int32_t>(), learner.data_ptr<int32_t>() + learner.numel());
    CHECK(sample.routed_experts == expected);
  }
  CHECK(results[0].samples[0].routed_experts != results[0].samples[1].routed_experts);
}

TEST_CASE("paged engine: the pool is sized from the memory budget; impossible requests are refused up front") {
  auto model = tiny_model(5);
  policy::ByteTokenizer tok;
  rollout::TorchRunnerOptions options;
  options.cache_bytes = 1 << 20;
  rollout::PagedEngineConfig config;
  config.memory_fraction = 0.5;
  rollout::PagedEngine engine(std::make_unique<rollout::TorchRunner>(model, options), tok, config);
  const auto geometry = engine.runner().kv_geometry(config.block_tokens);
  CHECK(engine.num_blocks() == (int64_t{1} << 19) / geometry.bytes_per_block());
  CHECK(engine.num_blocks() > 0);

  rollout::SamplingParams params;
  params.max_tokens = 120;  // + 15 prompt tokens > max_position 128
  CHECK_THROWS_WITH_AS(engine.generate({{tok.encode("Sam has 5 pens."), 1, params, 0}}),
                       doctest::Contains("exceeds the model's max_position 128"), r1::UserError);
  params.max_tokens = 8;
  CHECK_THROWS_WITH_AS(engine.generate({{tok.encode("Sam"), 1000, params, 0}}), doctest::Contains("max_running"),
                       r1::UserError);
  CHECK_THROWS_WITH_AS(engine.generate({{{}, 1, params, 0}}), doctest::Contains("empty prompt"), r1::UserError);
  auto tiny_pool = paged(model, tok, small_steps(4));  // 16 positions
  CHECK_THROWS_WITH_AS(tiny_pool.generate({{tok.encode("Sam has 5 pens."), 1, params, 0}}),
                       doctest::Contains("needs 6 KV blocks of 4 but the pool has 4"), r1::UserError);
  params.top_p = 0;
  CHECK_THROWS_WITH_AS(engine.generate({{tok.encode("Sam"), 1, params, 0}}), doctest::Contains("top_p"), r1::UserError);
}

// The bar is 1e-3 mean |difference| in bf16 against the LibTorch policy. With LibTorch's bf16
// ops every activation is rounded to bf16, so two bf16 forwards of the same tokens in different
// batch shapes already differ by more than that (measured here: the learner's own gap to fp32).
// What this asserts everywhere: the engine in bf16 is no further from the fp32 learner than the
// bf16 learner is (within 1.5x), and it prints the absolute gap to the bf16 learner.
TEST_CASE("paged engine: in bf16 its logprobs are as close to fp32 as the bf16 learner's (CPU; CUDA where present)") {
  std::vector<torch::Device> devices = {torch::kCPU};
  if (torch::cuda::is_available())
    devices.push_back(torch::kCUDA);
  else
    MESSAGE("CUDA case skipped: LibTorch sees no GPU");
  policy::ByteTokenizer tok;
  rollout::SamplingParams params;
  params.max_tokens = 16;
  for (const auto& device : devices) {
    CAPTURE(device.str());
    auto reference = tiny_model(6);  // the fp32 learner on the CPU
    // The engine's bf16 copy on the device (EngineWeights), which the bf16 learner below also is.
    auto weights = std::make_shared<rollout::EngineWeights>(reference, device, torch::kBFloat16);
    auto model = weights->model();
    rollout::PagedEngine engine(std::make_unique<rollout::TorchRunner>(weights), tok, small_steps());
    const std::vector<rollout::GenerationRequest> requests = {{tok.encode("Sam has 5 pens."), 4, params, 3},
                                                              {tok.encode("Q: 7*6?"), 2, params, 4}};
    const auto results = engine.generate(requests);
    const auto batch = test::pack_samples(requests, results, tok.pad_id());
    torch::NoGradGuard no_grad;
    auto bf16 = rl::token_logprobs(model, batch.input_ids.to(device)).logprobs.to(torch::kCPU, torch::kFloat32);
    auto fp32 = rl::token_logprobs(reference, batch.input_ids).logprobs;
    const double tokens = batch.loss_mask.sum().item<double>();
    const double engine_vs_bf16 = test::mean_token_gap(batch, batch.old_logprobs, bf16);
    const double engine_vs_fp32 = test::mean_token_gap(batch, batch.old_logprobs, fp32);
    const double learner_vs_fp32 = test::mean_token_gap(batch, bf16, fp32);
    MESSAGE("bf16 on ", device.str(), ", ", tokens, " tokens: mean |engine - bf16 learner| ", engine_vs_bf16,
            ", |engine - fp32| ", engine_vs_fp32, ", |bf16 learner - fp32| ", learner_vs_fp32);
    CHECK(tokens > 60);
    CHECK(engine_vs_fp32 < 1.5 * learner_vs_fp32);
    CHECK(engine_vs_fp32 > 0);  // really bf16
  }
}

TEST_CASE("paged engine: bf16 weight views are refreshed from the fp32 learner in one pass after an optimiser step") {
  policy::ByteTokenizer tok;
  auto learner = tiny_model(8, "tiny");  // MoE: the router's correction-free gate, experts, shared expert
  auto weights = std::make_shared<rollout::EngineWeights>(learner, torch::kCPU, torch::kBFloat16);
  REQUIRE(!weights->shares_learner());
  auto* runner = new rollout::TorchRunner(weights);
  rollout::PagedEngine engine(std::unique_ptr<rollout::ModelRunner>(runner), tok, small_steps());

  int64_t tensors = 0, fp32_bytes = 0;
  for (const auto& p : learner->parameters()) fp32_bytes += p.numel() * 4, ++tensors;
  for (const auto& b : learner->buffers()) fp32_bytes += b.numel() * int64_t(b.element_size()), ++tensors;
  const auto& built = weights->last_refresh();  // the construction's fill
  CHECK(built.tensors == tensors);
  CHECK(built.bytes_read == fp32_bytes);
  CHECK(built.bytes_written == fp32_bytes / 2);  // one bf16 write per fp32 read: one pass
  auto engine_weight = [&] { return weights->model()->model->embed_tokens->weight; };
  auto learner_weight = [&] { return learner->model->embed_tokens->weight; };
  CHECK((engine_weight().scalar_type() == torch::kBFloat16));
  CHECK(torch::equal(engine_weight(), learner_weight().to(torch::kBFloat16)));

  rollout::SamplingParams greedy;
  greedy.temperature = 0.0;
  greedy.max_tokens = 12;
  const std::vector<rollout::GenerationRequest> request = {{tok.encode("Q: 3+4="), 1, greedy, 1}};
  const auto before = engine.generate(request)[0].samples[0];

  {  // an optimiser step on the learner: push the logits of the engine's own greedy tokens down
    torch::optim::SGD sgd(learner->parameters(), torch::optim::SGDOptions(0.5));
    auto ids = torch::tensor(std::vector<int64_t>(request[0].prompt_ids.begin(), request[0].prompt_ids.end())).unsqueeze(0);
    auto out = learner->forward(ids);
    auto logp = torch::log_softmax(learner->logits(out.hidden), -1);
    auto loss = logp[0][-1][before.token_ids[0]];
    sgd.zero_grad();
    loss.backward();
    sgd.step();
  }
  CHECK(!torch::equal(engine_weight(), learner_weight().to(torch::kBFloat16)));  // stale until refreshed
  CHECK(engine.generate(request)[0].samples[0].token_ids == before.token_ids);

  engine.refresh_weights();
  const rollout::WeightRefresh r = runner->last_refresh();
  CHECK(r.tensors == tensors);
  CHECK(r.bytes_read == fp32_bytes);
  CHECK(r.seconds > 0.0);
  CHECK(torch::equal(engine_weight(), learner_weight().to(torch::kBFloat16)));
  MESSAGE("bf16 refresh of ", r.tensors, " tensors, ", r.bytes_read, " bytes read: ", r.seconds * 1e3, " ms");
  // What the refreshed engine samples is what an engine built fresh from the stepped learner samples.
  auto fresh = std::make_shared<rollout::EngineWeights>(learner, torch::kCPU, torch::kBFloat16);
  rollout::PagedEngine rebuilt(std::make_unique<rollout::TorchRunner>(fresh), tok, small_steps());
  const auto after = engine.generate(request)[0].samples[0];
  CHECK(after.token_ids == rebuilt.generate(request)[0].samples[0].token_ids);
  CHECK(after.token_ids != before.token_ids);  // the step moved the greedy choice

  // Same dtype and device: the learner's tensors in place, and a refresh moves nothing.
  rollout::EngineWeights in_place(learner, torch::kCPU, torch::kFloat32);
  CHECK(in_place.shares_learner());
  CHECK(in_place.model().ptr() == learner.ptr());
  CHECK(in_place.refresh().bytes_read == 0);
}

TEST_CASE("paged engine over the null runner: every sample runs to max_tokens, through chunked prefill and groups") {
  auto model = tiny_model(7, "tiny");  // MoE: routing records of the right size too
  policy::ByteTokenizer tok;
  auto config = small_steps();
  config.record_experts = true;
  rollout::PagedEngine engine(std::make_unique<rollout::NullRunner>(model), tok, config);
  rollout::SamplingParams params;
  params.max_tokens = 9;
  const std::vector<rollout::GenerationRequest> requests = {{tok.encode("Sam has 5 pens and 3 cups."), 3, params, 1},
                                                            {tok.encode("Q: 7*6?"), 2, params, 2}};
  const auto results = engine.generate(requests);
  REQUIRE(results.size() == 2);
  const int64_t per_position = model->config().num_moe_layers() * model->config().num_experts_per_token;
  for (size_t r = 0; r < requests.size(); ++r) {
    REQUIRE(results[r].samples.size() == size_t(requests[r].num_samples));
    for (const auto& sample : results[r].samples) {
      CHECK(sample.token_ids == std::vector<int64_t>(9, 0));  // the null runner draws token 0
      CHECK(sample.finish_reason == rollout::FinishReason::length);
      CHECK(int64_t(sample.routed_experts.size()) ==
            (int64_t(requests[r].prompt_ids.size()) + 8) * per_position);
    }
  }
  const auto& stats = engine.last_stats();
  CHECK(stats.decode_tokens == 5 * 8);  // each sample's first token comes from its prompt's prefill
  CHECK(stats.steps >= 9);
}
