// Continuous batching for the CUDA rollout engine, over the paged KV cache: which sequences decode
// and which prompt chunks prefill in each forward step. Plain C++: it plans, the engine executes.
//
// The loop it serves: plan = step(); run plan.copies, then one forward over plan.decode and
// plan.prefill; sample one token for every decode entry and for every id in a completing chunk's
// `samples`; report the sequences that ended (EOS, stop string, token limit) with finish(); repeat
// while has_work(). Sequences join and leave at every step, so a long-tail straggler holds one slot,
// not the batch.
//
// Policy (deterministic: no clocks, no randomness; every container is ordered):
// 1. Decode first. Every running sequence that has finished its prefill decodes one token each step,
//    oldest first. max_tokens_per_step >= max_running is required, so they always fit the budget.
// 2. Preemption. Before any block is reserved, while the decodes need more blocks than are free,
//    the most recently admitted running sequence (or prompt still in prefill) is preempted: its
//    blocks are freed and it returns to the front of the queue, to be recomputed later from its
//    prompt plus the tokens it has generated (the caller keeps those). The oldest sequences are
//    preempted last, so the ones that have waited longest, stragglers included, always progress.
//    A step that preempted admits nothing new (unless nothing is left running), since the blocks
//    it just freed are needed by the survivors. Preempting before reserving also means no block is
//    freed between the appends of a step, so a step's copies never overlap (see paged_kv.h).
// 3. Chunked prefill. The budget left after the decodes goes to prompts in prefill, oldest first, at
//    most prefill_chunk tokens of one prompt per step, so a long prompt is spread over steps while
//    the running sequences keep decoding.
// 4. Admission, FIFO with no overtaking. A waiting entry (a GRPO group: one prompt, G samples; or a
//    preempted sequence) is admitted while budget is left, its G samples fit under max_running,
//    and its prompt's blocks plus one block per sample (for the samples' first writes, so that
//    admission does not immediately force a preemption) are free; with nothing running, the
//    prompt's blocks alone suffice. The prompt's blocks are allocated whole at admission, so a
//    prefill once started never waits for memory.
// 5. Prefill once per prompt. A group's prompt is prefilled as its first sample's sequence; the
//    chunk that completes it forks the other G - 1 samples off it (shared blocks, no copies) and
//    lists all G in `samples`: each draws its own first token from that chunk's last logits.
// A sequence that cannot fit in the whole pool (prompt plus generated tokens beyond
// num_blocks * block_tokens) is a configuration error: step() throws std::runtime_error.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "rollout/paged_kv.h"

namespace r1::rollout {

struct SchedulerConfig {
  int64_t max_tokens_per_step = 2048;  // decode tokens + prefill tokens in one forward
  int64_t max_running = 256;           // admitted sequences (a group in prefill counts its G samples)
  int64_t prefill_chunk = 512;         // prompt tokens of one sequence per step, at most
};

// Feed the sequence's last token, write its K/V at `slot`, sample one token from its logits.
struct DecodeEntry {
  SequenceId seq = 0;
  KvSlot slot;
  bool operator==(const DecodeEntry&) const = default;
};

// Compute K/V for positions [start, start + length) of `seq`'s tokens (its prompt; for a
// preempted sequence, prompt plus the tokens generated before it was preempted), into the blocks of
// cache().table(seq). The chunk that completes the prefill lists in `samples` the sequences that
// each sample one token from the logits at its last position; it is empty on the other chunks.
struct PrefillChunk {
  SequenceId seq = 0;
  int64_t start = 0;
  int64_t length = 0;
  std::vector<SequenceId> samples;
  bool operator==(const PrefillChunk&) const = default;
};

struct StepPlan {
  std::vector<BlockCopy> copies;      // copy on write; run before the forward, in any order
  std::vector<DecodeEntry> decode;    // oldest admitted first
  std::vector<PrefillChunk> prefill;  // oldest admitted first
  // Sequences whose blocks were freed this step; they wait at the front of the queue. (A group
  // preempted during its prefill is named by the first sample, the sequence that held the prompt.)
  std::vector<SequenceId> preempted;

  int64_t num_tokens() const;  // decode.size() + the prefill chunks' lengths
  bool empty() const { return decode.empty() && prefill.empty(); }
  bool operator==(const StepPlan&) const = default;
};

class BatchScheduler {
 public:
  // std::invalid_argument unless every config field is >= 1 and max_tokens_per_step >= max_running.
  BatchScheduler(SchedulerConfig config, int64_t num_blocks, int64_t block_tokens);

  // Queue one prompt of `prompt_tokens` tokens with `samples` completions to draw from it (a GRPO
  // group; 1 for a plain request). Returns the samples' sequence ids, consecutive, never reused.
  // std::invalid_argument if prompt_tokens < 1, samples is outside [1, max_running], or the prompt
  // alone needs more blocks than the pool has.
  std::vector<SequenceId> submit(int64_t prompt_tokens, int64_t samples = 1);

  // The next forward step (see the policy above). The scheduler assumes the plan is carried out:
  // each sequence in it has its one token sampled before the next call.
  StepPlan step();

  // The sequence ended after the last step's sampling: its blocks go back to the pool. Only a
  // decoding sequence (one that has sampled at least one token and was not preempted since) can
  // finish; anything else is std::logic_error.
  void finish(SequenceId seq);
  void finish(const std::vector<SequenceId>& seqs);

  bool has_work() const { return !waiting_.empty() || reserved_ > 0; }
  int64_t num_waiting() const;                    // sequences queued (groups count G)
  int64_t num_running() const { return reserved_; }  // admitted; never above max_running
  int64_t generated(SequenceId seq) const;        // tokens sampled so far; std::logic_error if unknown or finished
  const SchedulerConfig& config() const { return config_; }
  const PagedKvCache& cache() const { return cache_; }

 private:
  enum class Phase { waiting, prefilling, decoding };
  struct Sequence {
    int64_t prompt_tokens = 0;
    int64_t generated = 0;
    Phase phase = Phase::waiting;
    uint64_t order = 0;  // admission order: larger is newer
  };
  // A prompt to prefill: a group's prompt (samples: the G ids, seq = samples[0]) or a preempted
  // sequence to recompute (samples: {seq}, tokens: its prompt plus what it generated).
  struct Job {
    SequenceId seq = 0;
    int64_t tokens = 0;
    int64_t done = 0;  // tokens prefilled so far
    std::vector<SequenceId> samples;
    uint64_t order = 0;
  };

  // Frees the newest running sequence or prompt in prefill and queues it first; true if it was decoding.
  bool preempt_newest(StepPlan& plan);
  // Schedules the job's next chunk within `budget`; true when the chunk completes the prefill.
  bool schedule_chunk(Job& job, int64_t& budget, StepPlan& plan);
  void complete_prefill(const Job& job, PrefillChunk& chunk);
  Sequence& sequence(SequenceId seq, const char* what);

  SchedulerConfig config_;
  PagedKvCache cache_;
  SequenceId next_id_ = 0;
  uint64_t next_order_ = 0;
  int64_t reserved_ = 0;                       // admitted samples: decoding + those of prefilling jobs
  std::map<SequenceId, Sequence> sequences_;   // every submitted, unfinished sequence
  std::deque<Job> waiting_;                    // FIFO; preempted ones go to the front
  std::map<uint64_t, Job> prefilling_;         // by admission order
  std::map<uint64_t, SequenceId> decoding_;    // by admission order
};

}  // namespace r1::rollout
