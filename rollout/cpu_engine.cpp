// CPU generation: prefill each distinct prompt once, copy its KV cache to its N samples, then
// decode all samples in one batch, dropping finished ones as they stop.
#include "rollout/cpu_engine.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "common/error.h"
#include "rollout/completion_tracker.h"
#include "rollout/sampler.h"

namespace r1::rollout {

const char* finish_reason_name(FinishReason reason) { return reason == FinishReason::stop ? "stop" : "length"; }

CpuEngine::CpuEngine(policy::CausalLM model, const policy::Tokenizer& tokenizer)
    : model_(std::move(model)), tokenizer_(tokenizer) {}

namespace {

struct SampleState {
  int64_t request = 0;
  CompletionTracker completion;
};

}  // namespace

std::vector<GenerationResult> CpuEngine::generate(const std::vector<GenerationRequest>& requests) {
  std::vector<GenerationResult> results(requests.size());
  if (requests.empty()) return results;
  torch::NoGradGuard no_grad;
  const auto& config = model_->config();

  int64_t prompt_len = 0, max_new = 0, total_rows = 0;
  for (const auto& request : requests) {
    R1_CHECK(!request.prompt_ids.empty(), "generate: empty prompt");
    R1_CHECK(request.num_samples >= 1, "generate: num_samples must be >= 1");
    prompt_len = std::max<int64_t>(prompt_len, request.prompt_ids.size());
    max_new = std::max(max_new, request.params.max_tokens);
    total_rows += request.num_samples;
  }
  R1_CHECK(prompt_len + max_new <= config.max_position, "generate: prompt (", prompt_len, ") + max_tokens (", max_new,
           ") exceeds the model's max_position ", config.max_position);

  // Prefill the distinct prompts, left-padded so every row's last prompt token is in the same slot.
  const int64_t num_prompts = requests.size();
  auto ids = torch::full({num_prompts, prompt_len}, tokenizer_.pad_id(), torch::kLong);
  auto valid = torch::zeros({num_prompts, prompt_len}, torch::kBool);
  for (int64_t p = 0; p < num_prompts; ++p) {
    const auto& prompt = requests[p].prompt_ids;
    const int64_t pad = prompt_len - int64_t(prompt.size());
    for (std::size_t i = 0; i < prompt.size(); ++i) {
      R1_CHECK(prompt[i] >= 0 && prompt[i] < config.vocab_size, "generate: token id ", prompt[i], " out of range");
      ids[p][pad + int64_t(i)] = prompt[i];
    }
    valid[p].narrow(0, pad, int64_t(prompt.size())).fill_(true);
  }
  auto positions = (valid.to(torch::kLong).cumsum(1) - 1).clamp_min(0);
  auto cache = model_->make_cache(num_prompts, prompt_len + max_new);
  cache.valid.narrow(1, 0, prompt_len).copy_(valid);
  auto hidden = model_->forward(ids, positions, &cache).hidden;
  auto logits = model_->logits(hidden.select(1, prompt_len - 1));  // [prompts, vocab]
  auto next_position = positions.select(1, prompt_len - 1) + 1;

  // Expand each prompt to its samples.
  std::vector<SampleState> states;
  std::vector<int64_t> row_prompt;
  std::vector<at::Generator> generators;
  for (int64_t p = 0; p < num_prompts; ++p) {
    generators.push_back(at::detail::createCPUGenerator(requests[p].seed));
    for (int64_t s = 0; s < requests[p].num_samples; ++s) {
      states.push_back({p, CompletionTracker(requests[p].params, tokenizer_)});
      row_prompt.push_back(p);
    }
  }
  auto expand = torch::tensor(row_prompt, torch::kLong);
  cache.select_rows(expand);
  logits = logits.index_select(0, expand);
  next_position = next_position.index_select(0, expand);
  std::vector<int64_t> active(total_rows);  // batch row -> index into states
  for (int64_t i = 0; i < total_rows; ++i) active[i] = i;

  for (int64_t step = 0; step < max_new && !active.empty(); ++step) {
    // Sample each request's rows (contiguous in `active`) with that request's generator.
    auto next_tokens = torch::full({int64_t(active.size())}, tokenizer_.pad_id(), torch::kLong);
    for (std::size_t begin = 0; begin < active.size();) {
      const int64_t request = states[active[begin]].request;
      std::size_t end = begin;
      while (end < active.size() && states[active[end]].request == request) ++end;
      // Only the request's unfinished rows draw, so its random stream depends on nothing but its
      // own samples (not on when other requests finish or the batch is compacted).
      std::vector<int64_t> rows;
      for (std::size_t row = begin; row < end; ++row)
        if (!states[active[row]].completion.finished()) rows.push_back(int64_t(row));
      if (rows.empty()) {
        begin = end;
        continue;
      }
      auto row_index = torch::tensor(rows, torch::kLong);
      auto drawn = sample_tokens(logits.index_select(0, row_index), requests[request].params, generators[request]);
      next_tokens.index_copy_(0, row_index, drawn.token_ids);
      const auto* token_ptr = drawn.token_ids.data_ptr<int64_t>();
      const auto* logprob_ptr = drawn.logprobs.data_ptr<float>();
      for (std::size_t i = 0; i < rows.size(); ++i)
        states[active[rows[i]]].completion.append(token_ptr[i], logprob_ptr[i]);
      begin = end;
    }

    // Drop finished rows from the batch so stragglers do not pay for them. Compacting copies the
    // KV cache, so it waits until a quarter of the rows are done; until then finished rows ride
    // along and their samples are simply not extended.
    std::size_t finished_rows = 0;
    for (int64_t index : active) finished_rows += states[index].completion.finished();
    if (finished_rows == active.size()) break;
    if (finished_rows * 4 >= active.size()) {
      std::vector<int64_t> keep_rows, still_active;
      for (std::size_t row = 0; row < active.size(); ++row)
        if (!states[active[row]].completion.finished()) {
          keep_rows.push_back(int64_t(row));
          still_active.push_back(active[row]);
        }
      auto keep = torch::tensor(keep_rows, torch::kLong);
      cache.select_rows(keep);
      next_tokens = next_tokens.index_select(0, keep);
      next_position = next_position.index_select(0, keep);
      active = std::move(still_active);
    }

    cache.valid.select(1, cache.length).fill_(true);
    hidden = model_->forward(next_tokens.unsqueeze(1), next_position.unsqueeze(1), &cache).hidden;
    logits = model_->logits(hidden.select(1, 0));
    next_position = next_position + 1;
  }

  for (auto& state : states) results[state.request].samples.push_back(state.completion.take());
  return results;
}

}  // namespace r1::rollout
