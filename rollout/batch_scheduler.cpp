#include "rollout/batch_scheduler.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

namespace r1::rollout {

int64_t StepPlan::num_tokens() const {
  int64_t tokens = static_cast<int64_t>(decode.size());
  for (const auto& chunk : prefill) tokens += chunk.length;
  return tokens;
}

BatchScheduler::BatchScheduler(SchedulerConfig config, int64_t num_blocks, int64_t block_tokens)
    : config_(config), cache_(num_blocks, block_tokens) {
  if (config.max_tokens_per_step < 1 || config.max_running < 1 || config.prefill_chunk < 1)
    throw std::invalid_argument("BatchScheduler: max_tokens_per_step, max_running and prefill_chunk must be >= 1");
  if (config.max_tokens_per_step < config.max_running)
    throw std::invalid_argument("BatchScheduler: max_tokens_per_step (" + std::to_string(config.max_tokens_per_step) +
                                ") must be >= max_running (" + std::to_string(config.max_running) +
                                ") so that every running sequence can decode in every step");
}

std::vector<SequenceId> BatchScheduler::submit(int64_t prompt_tokens, int64_t samples) {
  if (prompt_tokens < 1) throw std::invalid_argument("BatchScheduler::submit: prompt_tokens must be >= 1");
  if (samples < 1 || samples > config_.max_running)
    throw std::invalid_argument("BatchScheduler::submit: samples must be in [1, max_running = " +
                                std::to_string(config_.max_running) + "]");
  if (cache_.blocks_for_tokens(prompt_tokens) > cache_.num_blocks())
    throw std::invalid_argument("BatchScheduler::submit: a prompt of " + std::to_string(prompt_tokens) +
                                " tokens needs more than the pool's " + std::to_string(cache_.num_blocks()) +
                                " blocks");
  Job job;
  job.tokens = prompt_tokens;
  for (int64_t i = 0; i < samples; ++i) {
    const SequenceId id = next_id_++;
    sequences_[id] = Sequence{prompt_tokens, 0, Phase::waiting, 0};
    job.samples.push_back(id);
  }
  job.seq = job.samples.front();
  waiting_.push_back(job);
  return job.samples;
}

int64_t BatchScheduler::num_waiting() const {
  int64_t n = 0;
  for (const auto& job : waiting_) n += static_cast<int64_t>(job.samples.size());
  return n;
}

BatchScheduler::Sequence& BatchScheduler::sequence(SequenceId seq, const char* what) {
  auto it = sequences_.find(seq);
  if (it == sequences_.end())
    throw std::logic_error(std::string("BatchScheduler::") + what + ": unknown or finished sequence " +
                           std::to_string(seq));
  return it->second;
}

int64_t BatchScheduler::generated(SequenceId seq) const {
  auto it = sequences_.find(seq);
  if (it == sequences_.end())
    throw std::logic_error("BatchScheduler::generated: unknown or finished sequence " + std::to_string(seq));
  return it->second.generated;
}

bool BatchScheduler::preempt_newest(StepPlan& plan) {
  const bool decoding_is_newer =
      !decoding_.empty() && (prefilling_.empty() || decoding_.rbegin()->first > prefilling_.rbegin()->first);
  if (decoding_is_newer) {
    const SequenceId seq = decoding_.rbegin()->second;
    decoding_.erase(std::prev(decoding_.end()));
    Sequence& s = sequences_.at(seq);
    s.phase = Phase::waiting;
    cache_.free(seq);
    --reserved_;
    // Recompute from everything it has: the last sampled token has no K/V yet, so prefilling all
    // prompt + generated positions yields the logits for its next token, as a decode would.
    Job job;
    job.seq = seq;
    job.tokens = s.prompt_tokens + s.generated;
    job.samples = {seq};
    waiting_.push_front(job);
    plan.preempted.push_back(seq);
    return true;
  }
  Job job = prefilling_.rbegin()->second;
  prefilling_.erase(std::prev(prefilling_.end()));
  cache_.free(job.seq);
  reserved_ -= static_cast<int64_t>(job.samples.size());
  for (SequenceId id : job.samples) sequences_.at(id).phase = Phase::waiting;
  job.done = 0;  // its K/V is gone: the prefill starts over
  waiting_.push_front(job);
  plan.preempted.push_back(job.seq);
  return false;
}

bool BatchScheduler::schedule_chunk(Job& job, int64_t& budget, StepPlan& plan) {
  const int64_t length = std::min({config_.prefill_chunk, job.tokens - job.done, budget});
  plan.prefill.push_back(PrefillChunk{job.seq, job.done, length, {}});
  job.done += length;
  budget -= length;
  if (job.done < job.tokens) return false;
  complete_prefill(job, plan.prefill.back());
  return true;
}

void BatchScheduler::complete_prefill(const Job& job, PrefillChunk& chunk) {
  if (job.samples.size() > 1)  // the other samples share the prompt's blocks: no copies
    cache_.fork(job.seq, std::vector<SequenceId>(job.samples.begin() + 1, job.samples.end()));
  chunk.samples = job.samples;
  for (SequenceId id : job.samples) {
    Sequence& s = sequences_.at(id);
    s.phase = Phase::decoding;
    s.generated += 1;  // sampled from this chunk's last logits
    decoding_.emplace(s.order, id);
  }
}

StepPlan BatchScheduler::step() {
  StepPlan plan;

  // 1–2. Decodes, oldest first; make room by preempting the newest before reserving anything.
  std::vector<SequenceId> decode;
  for (const auto& [order, seq] : decoding_) decode.push_back(seq);
  while (cache_.blocks_needed_to_append(decode) > cache_.free_blocks())
    if (preempt_newest(plan)) decode.pop_back();  // the newest decoding sequence is decode's last
  for (SequenceId seq : decode) {
    auto append = cache_.append_token(seq);
    if (!append) throw std::logic_error("BatchScheduler::step: a reserved append failed");  // counted above
    if (append->copy) plan.copies.push_back(*append->copy);
    plan.decode.push_back(DecodeEntry{seq, append->slot});
    sequences_.at(seq).generated += 1;  // sampled from this step's logits
  }
  int64_t budget = config_.max_tokens_per_step - static_cast<int64_t>(decode.size());

  // 3. Prompts already in prefill, oldest first.
  for (auto it = prefilling_.begin(); it != prefilling_.end() && budget > 0;) {
    if (schedule_chunk(it->second, budget, plan))
      it = prefilling_.erase(it);
    else
      ++it;
  }

  // 4. Admission from the front of the queue.
  const bool may_admit = plan.preempted.empty() || reserved_ == 0;
  while (may_admit && budget > 0 && !waiting_.empty()) {
    Job& job = waiting_.front();
    const auto samples = static_cast<int64_t>(job.samples.size());
    if (reserved_ + samples > config_.max_running) break;
    const int64_t blocks = cache_.blocks_for_tokens(job.tokens);
    const int64_t headroom = reserved_ == 0 ? 0 : samples;  // alone, it may use the whole pool
    if (blocks + headroom > cache_.free_blocks()) {
      if (reserved_ == 0)  // every block is free and it still does not fit: it never will
        throw std::runtime_error("BatchScheduler: sequence " + std::to_string(job.seq) + " needs " +
                                 std::to_string(blocks) + " KV blocks to continue but the pool has " +
                                 std::to_string(cache_.num_blocks()) + " of " +
                                 std::to_string(cache_.block_tokens()) +
                                 " tokens; enlarge the pool or lower the token limit");
      break;
    }
    cache_.add_sequence(job.seq, job.tokens);  // fits: checked above
    job.order = next_order_;
    for (SequenceId id : job.samples) {
      Sequence& s = sequences_.at(id);
      s.phase = Phase::prefilling;
      s.order = next_order_++;
    }
    reserved_ += samples;
    Job admitted = job;
    waiting_.pop_front();
    if (!schedule_chunk(admitted, budget, plan)) prefilling_.emplace(admitted.order, admitted);
  }
  return plan;
}

void BatchScheduler::finish(SequenceId seq) {
  Sequence& s = sequence(seq, "finish");
  if (s.phase != Phase::decoding)
    throw std::logic_error("BatchScheduler::finish: sequence " + std::to_string(seq) +
                           " has not sampled a token since it was (re)admitted");
  decoding_.erase(s.order);
  cache_.free(seq);
  --reserved_;
  sequences_.erase(seq);
}

void BatchScheduler::finish(const std::vector<SequenceId>& seqs) {
  for (SequenceId seq : seqs) finish(seq);
}

}  // namespace r1::rollout
