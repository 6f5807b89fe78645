// The CPU engine on Hugging Face families (the parity fixtures; MLA included): batched,
// left-padded, KV-cached greedy decoding equals step-by-step argmax of the full forward pass.
#include "tests/doctest_torch.h"

#include "policy/tokenizer.h"
#include "rollout/cpu_engine.h"
#include "tests/rollout/hf_fixture_models.h"

using namespace r1;

TEST_CASE("CPU engine: greedy KV-cached decoding of every HF family equals argmax of the full forward") {
  test::SmallVocabTokenizer tok;
  rollout::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = 10;
  for (const auto& family : test::hf_fixture_families()) {
    CAPTURE(family);
    auto model = test::load_hf_fixture(family);
    rollout::CpuEngine engine(model, tok);
    // Prompts of different lengths in one batch, so the shorter one is left-padded in the cache.
    std::vector<rollout::GenerationRequest> requests = {{tok.encode("The cat sat on"), 1, greedy, 1},
                                                        {tok.encode("Hi"), 1, greedy, 2}};
    auto results = engine.generate(requests);
    torch::NoGradGuard no_grad;
    for (std::size_t r = 0; r < requests.size(); ++r) {
      const auto& sample = results[r].samples.at(0);
      CHECK(!sample.token_ids.empty());
      auto ids = requests[r].prompt_ids;
      for (std::size_t i = 0; i < sample.token_ids.size(); ++i) {
        auto input = torch::tensor(ids, torch::kLong).unsqueeze(0);
        auto logits = model->logits(model->forward(input).hidden).select(1, input.size(1) - 1);
        CHECK(sample.token_ids[i] == logits.argmax(-1).item<int64_t>());
        CHECK(sample.logprobs[i] == doctest::Approx(logits.log_softmax(-1).max().item<double>()).epsilon(1e-4));
        ids.push_back(sample.token_ids[i]);
        if (sample.token_ids[i] == tok.eos_id()) break;
      }
    }
  }
}
