// The engine loop: plan a step, copy blocks, lay the step's tokens out flat for the runner, run it,
// hand each draw to its sample, and tell the scheduler which samples ended.
#include "rollout/paged_engine.h"

#include <algorithm>
#include <stdexcept>

#include "common/error.h"
#include "rollout/completion_tracker.h"
#include "rollout/philox.h"

namespace r1::rollout {

uint64_t sample_key(uint64_t seed, int64_t sample) {
  // Subsequence 1 keeps these words apart from the draws, which use subsequence 0 of the key.
  const auto block = philox_block(seed, uint64_t(sample), 1);
  return uint64_t(block.v[0]) | (uint64_t(block.v[1]) << 32);
}

PagedEngine::PagedEngine(std::unique_ptr<ModelRunner> runner, const policy::Tokenizer& tokenizer,
                         PagedEngineConfig config)
    : runner_(std::move(runner)), tokenizer_(tokenizer), config_(config) {
  R1_CHECK(runner_, "PagedEngine: no model runner");
  R1_CHECK(config_.block_tokens >= 1, "rollout.block_tokens must be >= 1, got ", config_.block_tokens);
  R1_CHECK(config_.memory_fraction > 0 && config_.memory_fraction <= 1, "rollout.memory_fraction must be in (0, 1], got ",
           config_.memory_fraction);
  R1_CHECK(config_.num_blocks >= 0, "rollout.num_blocks must be >= 0 (0: sized from memory), got ", config_.num_blocks);
  num_blocks_ = config_.num_blocks > 0
                    ? config_.num_blocks
                    : blocks_for_memory(runner_->free_cache_bytes(), config_.memory_fraction,
                                        runner_->kv_geometry(config_.block_tokens));
  R1_CHECK(num_blocks_ >= 1, "PagedEngine: the KV cache budget (", runner_->free_cache_bytes(),
           " bytes) holds no block of ", runner_->kv_geometry(config_.block_tokens).bytes_per_block(), " bytes");
  runner_->allocate_cache(num_blocks_, config_.block_tokens);
}

namespace {

struct SampleState {
  int64_t request = 0;
  uint64_t key = 0;
  CompletionTracker completion;
  std::vector<int32_t> experts;  // [positions fed][moe layers][top_k], prompt included
};

FusedSamplingParams fused_params(const SamplingParams& params, uint64_t key, int64_t step) {
  FusedSamplingParams fused;
  fused.temperature = float(params.temperature);
  fused.top_k = int32_t(std::min<int64_t>(params.top_k, INT32_MAX));
  fused.top_p = float(params.top_p);
  fused.seed = key;
  fused.step = uint64_t(step);
  return fused;
}

}  // namespace

std::vector<GenerationResult> PagedEngine::generate(const std::vector<GenerationRequest>& requests) {
  stats_ = {};
  std::vector<GenerationResult> results(requests.size());
  if (requests.empty()) return results;
  const int64_t vocab = runner_->vocab_size();
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const auto& request = requests[r];
    R1_CHECK(!request.prompt_ids.empty(), "generate: request ", r, " has an empty prompt");
    R1_CHECK(request.num_samples >= 1 && request.num_samples <= config_.scheduler.max_running, "generate: request ",
             r, " asks for ", request.num_samples, " samples; allowed: 1 to rollout.max_running (",
             config_.scheduler.max_running, ")");
    R1_CHECK(int64_t(request.prompt_ids.size()) + request.params.max_tokens <= runner_->max_position(),
             "generate: request ", r, ": prompt (", request.prompt_ids.size(), ") + max_tokens (",
             request.params.max_tokens, ") exceeds the model's max_position ", runner_->max_position());
    for (int64_t id : request.prompt_ids)
      R1_CHECK(id >= 0 && id < vocab, "generate: request ", r, ": token id ", id, " out of range [0, ", vocab, ")");
    const int64_t tokens = int64_t(request.prompt_ids.size()) + request.params.max_tokens;
    const int64_t blocks = (tokens + config_.block_tokens - 1) / config_.block_tokens;
    R1_CHECK(blocks <= num_blocks_, "generate: request ", r, ": prompt + max_tokens (", tokens, " tokens) needs ", blocks,
             " KV blocks of ", config_.block_tokens, " but the pool has ", num_blocks_,
             "; raise rollout.num_blocks or memory_fraction, or lower max_tokens");
    try {
      validate_sampling_params(fused_params(request.params, 0, 0));
    } catch (const std::invalid_argument& e) {
      R1_FAIL("generate: request ", r, ": ", e.what());
    }
  }

  BatchScheduler scheduler(config_.scheduler, num_blocks_, config_.block_tokens);
  std::vector<SampleState> samples;  // indexed by sequence id: a fresh scheduler numbers them 0, 1, ...
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const auto ids = scheduler.submit(int64_t(requests[r].prompt_ids.size()), requests[r].num_samples);
    for (std::size_t s = 0; s < ids.size(); ++s) {
      R1_ASSERT(ids[s] == SequenceId(samples.size()), "PagedEngine: scheduler ids are not consecutive");
      samples.push_back({int64_t(r), sample_key(requests[r].seed, int64_t(s)),
                         CompletionTracker(requests[r].params, tokenizer_), {}});
    }
  }
  const bool record = config_.record_experts && runner_->moe_layers() > 0;
  const int64_t experts_per_position = runner_->moe_layers() * runner_->experts_per_token();
  // The token at position p of a sequence: its prompt, then its completion.
  auto token_at = [&](SequenceId seq, int64_t position) -> int64_t {
    const auto& prompt = requests[samples[seq].request].prompt_ids;
    if (position < int64_t(prompt.size())) return prompt[position];
    return samples[seq].completion.sample().token_ids.at(position - prompt.size());
  };

  const auto& cache = scheduler.cache();
  const int64_t bt = config_.block_tokens;
  while (scheduler.has_work()) {
    const StepPlan plan = scheduler.step();
    R1_ASSERT(!plan.empty(), "PagedEngine: the scheduler planned an empty step with work left");
    ++stats_.steps;
    stats_.block_copies += int64_t(plan.copies.size());
    stats_.preemptions += int64_t(plan.preempted.size());
    runner_->copy_blocks(plan.copies);

    StepInputs in;
    in.record_experts = record;
    std::vector<SequenceId> token_seq;  // per step token: its sequence (for routing records)
    std::vector<SequenceId> table_seqs;
    auto add_tokens = [&](SequenceId seq, int64_t start, int64_t length) {
      StepSequence s;
      s.begin = int64_t(in.tokens.size());
      s.length = length;
      s.context = start + length;
      s.table = int64_t(table_seqs.size());
      table_seqs.push_back(seq);
      const auto& blocks = cache.table(seq).blocks;
      for (int64_t p = start; p < start + length; ++p) {
        in.tokens.push_back(int32_t(token_at(seq, p)));
        in.positions.push_back(int32_t(p));
        in.slots.push_back(int64_t(blocks.at(p / bt)) * bt + p % bt);
        token_seq.push_back(seq);
      }
      in.sequences.push_back(s);
      return s.begin + length - 1;  // the last token: where a draw reads its logits
    };
    // Draws in order; each names the sample it is for.
    std::vector<SequenceId> draw_seq;
    auto add_draw = [&](SequenceId seq, int64_t token) {
      const auto& state = samples[seq];
      const int64_t generated = int64_t(state.completion.sample().token_ids.size());
      in.draws.push_back({token, fused_params(requests[state.request].params, state.key, generated)});
      draw_seq.push_back(seq);
    };
    for (const auto& entry : plan.decode) {
      const int64_t position = cache.num_tokens(entry.seq) - 1;
      const int64_t last = add_tokens(entry.seq, position, 1);
      R1_ASSERT(in.slots.back() == int64_t(entry.slot.block) * bt + entry.slot.offset,
                "PagedEngine: decode slot disagrees with the block table");
      add_draw(entry.seq, last);
    }
    for (const auto& chunk : plan.prefill) {
      const int64_t last = add_tokens(chunk.seq, chunk.start, chunk.length);
      for (SequenceId seq : chunk.samples) add_draw(seq, last);
    }
    in.max_blocks = 0;
    for (SequenceId seq : table_seqs) in.max_blocks = std::max<int64_t>(in.max_blocks, cache.table(seq).blocks.size());
    in.block_tables.assign(table_seqs.size() * in.max_blocks, -1);
    for (std::size_t row = 0; row < table_seqs.size(); ++row) {
      const auto& blocks = cache.table(table_seqs[row]).blocks;
      std::copy(blocks.begin(), blocks.end(), in.block_tables.begin() + int64_t(row) * in.max_blocks);
    }
    const int64_t step_tokens = int64_t(in.tokens.size());
    stats_.decode_tokens += int64_t(plan.decode.size());
    stats_.prefill_tokens += step_tokens - int64_t(plan.decode.size());
    stats_.max_batch_tokens = std::max(stats_.max_batch_tokens, step_tokens);

    const StepOutputs out = runner_->step(in);
    R1_ASSERT(out.samples.size() == in.draws.size(), "ModelRunner::step returned ", out.samples.size(),
              " samples for ", in.draws.size(), " draws");
    if (record) {
      R1_ASSERT(int64_t(out.routed_experts.size()) == step_tokens * experts_per_position,
                "ModelRunner::step returned routing of the wrong size");
      for (int64_t t = 0; t < step_tokens; ++t) {
        auto& experts = samples[token_seq[t]].experts;
        const int64_t at = int64_t(in.positions[t]) * experts_per_position;
        if (int64_t(experts.size()) < at + experts_per_position) experts.resize(at + experts_per_position);
        std::copy_n(out.routed_experts.begin() + t * experts_per_position, experts_per_position, experts.begin() + at);
      }
      // The samples forked off a prompt share its routing: only the first one's was computed.
      for (const auto& chunk : plan.prefill)
        for (SequenceId seq : chunk.samples)
          if (seq != chunk.seq) samples[seq].experts = samples[chunk.seq].experts;
    }
    std::vector<SequenceId> finished;
    for (std::size_t d = 0; d < draw_seq.size(); ++d) {
      const SequenceId seq = draw_seq[d];
      if (samples[seq].completion.append(out.samples[d].token, out.samples[d].logprob)) finished.push_back(seq);
    }
    scheduler.finish(finished);
  }

  for (SequenceId seq = 0; seq < SequenceId(samples.size()); ++seq) {
    auto& state = samples[seq];
    Sample sample = state.completion.take();
    if (record) {
      const auto& request = requests[state.request];
      const int64_t fed = int64_t(request.prompt_ids.size() + sample.token_ids.size()) - 1;
      sample.routed_experts = std::move(state.experts);
      sample.routed_experts.resize(fed * experts_per_position);
    }
    results[state.request].samples.push_back(std::move(sample));
  }
  return results;
}

}  // namespace r1::rollout
