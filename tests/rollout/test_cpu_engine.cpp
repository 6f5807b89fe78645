// The CPU engine: greedy decoding equals step-by-step argmax of the full model, returned logprobs
// equal the learner's, seeds, stop strings, EOS, limits and top-k/top-p.
#include "tests/doctest_torch.h"

#include "policy/model_config.h"
#include "policy/tokenizer.h"
#include "rl/token_batch.h"
#include "rollout/cpu_engine.h"
#include "rollout/sampler.h"

using namespace r1;

namespace {
policy::CausalLM make_model(uint64_t seed) {
  torch::manual_seed(seed);
  auto c = policy::preset_config("tiny");
  c.vocab_size = policy::ByteTokenizer().vocab_size();
  c.max_position = 128;
  c.init_std = 0.2;  // peaked distributions so that sampled text varies with the seed but is not uniform noise
  return policy::CausalLM(c);
}
}  // namespace

TEST_CASE("greedy decoding equals argmax of the full forward, for prompts of different lengths in one batch") {
  auto model = make_model(1);
  policy::ByteTokenizer tok;
  rollout::CpuEngine engine(model, tok);
  rollout::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = 12;
  std::vector<rollout::GenerationRequest> requests = {{tok.encode("User: 3 + 4?\nAssistant: "), 2, greedy, 1},
                                                      {tok.encode("Hi"), 1, greedy, 2}};
  auto results = engine.generate(requests);
  REQUIRE(results.size() == 2);
  REQUIRE(results[0].samples.size() == 2);
  torch::NoGradGuard no_grad;
  for (std::size_t r = 0; r < requests.size(); ++r) {
    for (const auto& sample : results[r].samples) {
      auto ids = requests[r].prompt_ids;
      for (std::size_t i = 0; i < sample.token_ids.size(); ++i) {
        auto input = torch::tensor(ids, torch::kLong).unsqueeze(0);
        auto logits = model->logits(model->forward(input).hidden).select(1, input.size(1) - 1);
        CHECK(sample.token_ids[i] == logits.argmax(-1).item<int64_t>());
        ids.push_back(sample.token_ids[i]);
        if (sample.token_ids[i] == tok.eos_id()) break;
      }
    }
  }
  CHECK(results[0].samples[0].token_ids == results[0].samples[1].token_ids);  // greedy: identical samples
}

TEST_CASE("engine logprobs equal the learner's logprobs of the same tokens") {
  auto model = make_model(2);
  policy::ByteTokenizer tok;
  rollout::CpuEngine engine(model, tok);
  rollout::SamplingParams params;
  params.max_tokens = 20;
  params.temperature = 0.7;  // the returned logprob is under the unmodified distribution all the same
  auto results = engine.generate({{tok.encode("Sam has 5 pens."), 4, params, 7}, {tok.encode("Q"), 3, params, 8}});
  std::vector<rl::TokenSequence> seqs;
  for (int r = 0; r < 2; ++r)
    for (const auto& s : results[r].samples)
      seqs.push_back({tok.encode(r == 0 ? "Sam has 5 pens." : "Q"), s.token_ids, s.logprobs});
  auto batch = rl::pack(seqs, tok.pad_id());
  torch::NoGradGuard no_grad;
  auto learner = rl::token_logprobs(model, batch.input_ids).logprobs;
  const double max_diff = ((learner - batch.old_logprobs).abs() * batch.loss_mask).max().item<double>();
  CHECK(max_diff < 1e-4);
  CHECK(batch.loss_mask.sum().item<double>() > 20);
}

TEST_CASE("a request's samples are a function of its seed") {
  auto model = make_model(3);
  policy::ByteTokenizer tok;
  rollout::CpuEngine engine(model, tok);
  rollout::SamplingParams params;
  params.max_tokens = 16;
  rollout::GenerationRequest request{tok.encode("Ann has 3 cats."), 4, params, 42};
  auto a = engine.generate({request})[0];
  auto b = engine.generate({request})[0];
  request.seed = 43;
  auto c = engine.generate({request})[0];
  bool all_same = true, any_diff_seed = false, any_diff_within = false;
  for (int i = 0; i < 4; ++i) {
    all_same &= a.samples[i].token_ids == b.samples[i].token_ids;
    any_diff_seed |= a.samples[i].token_ids != c.samples[i].token_ids;
    any_diff_within |= a.samples[i].token_ids != a.samples[0].token_ids;
  }
  CHECK(all_same);
  CHECK(any_diff_seed);
  CHECK(any_diff_within);  // the N samples of a prompt differ from each other
}

TEST_CASE("token limit, stop strings and EOS set the finish reason") {
  auto model = make_model(4);
  policy::ByteTokenizer tok;
  rollout::CpuEngine engine(model, tok);
  rollout::SamplingParams params;
  params.max_tokens = 9;
  auto limited = engine.generate({{tok.encode("x"), 3, params, 1}})[0];
  for (const auto& s : limited.samples) {
    if (s.finish_reason == rollout::FinishReason::length) CHECK(s.token_ids.size() == 9);
    CHECK(s.token_ids.size() <= 9);
    CHECK(s.logprobs.size() == s.token_ids.size());
  }

  // Stop strings: whatever greedy decoding writes, stopping on two of its characters cuts there.
  rollout::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = 16;
  auto free_run = engine.generate({{tok.encode("hello"), 1, greedy, 1}})[0].samples[0];
  REQUIRE(free_run.token_ids.size() >= 6);
  const std::string text = tok.decode(free_run.token_ids);
  const std::string stop = text.substr(3, 2);
  greedy.stop = {"never-appears", stop};
  auto stopped = engine.generate({{tok.encode("hello"), 1, greedy, 1}})[0].samples[0];
  const std::string stopped_text = tok.decode(stopped.token_ids);
  CHECK(stopped.finish_reason == rollout::FinishReason::stop);
  REQUIRE(stopped_text.size() >= stop.size());
  CHECK(stopped_text.substr(stopped_text.size() - stop.size()) == stop);
  CHECK(stopped_text.find(stop) == stopped_text.size() - stop.size());  // cut at the first occurrence

  // EOS: a tokenizer whose EOS is the third greedy token ends the sample right there.
  struct ThirdTokenEos : policy::ByteTokenizer {
    int64_t eos = 0;
    int64_t eos_id() const override { return eos; }
  } eos_tok;
  eos_tok.eos = free_run.token_ids[2];
  rollout::CpuEngine eos_engine(model, eos_tok);
  greedy.stop = {};
  auto eos_run = eos_engine.generate({{tok.encode("hello"), 1, greedy, 1}})[0].samples[0];
  CHECK(eos_run.finish_reason == rollout::FinishReason::stop);
  CHECK(eos_run.token_ids.back() == eos_tok.eos);
  CHECK(eos_run.token_ids.size() <= 3);
}

TEST_CASE("sampler: top-k 1 and a tiny top-p are greedy; temperature keeps raw logprobs") {
  auto generator = at::detail::createCPUGenerator(5);
  torch::manual_seed(0);
  auto logits = torch::randn({64, 50});
  rollout::SamplingParams params;
  params.top_k = 1;
  auto top1 = rollout::sample_tokens(logits, params, generator);
  CHECK(torch::equal(top1.token_ids, logits.argmax(-1)));
  params.top_k = 0;
  params.top_p = 1e-6;
  auto nucleus = rollout::sample_tokens(logits, params, generator);
  CHECK(torch::equal(nucleus.token_ids, logits.argmax(-1)));
  CHECK(torch::allclose(nucleus.logprobs, std::get<0>(torch::log_softmax(logits, -1).max(-1))));
  // top_k = 3: every draw is among the 3 most likely tokens.
  params.top_p = 1.0;
  params.top_k = 3;
  params.temperature = 2.0;
  auto top3 = rollout::sample_tokens(logits, params, generator);
  auto allowed = std::get<1>(logits.topk(3, -1));
  CHECK((allowed == top3.token_ids.unsqueeze(1)).any(-1).all().item<bool>());
}
