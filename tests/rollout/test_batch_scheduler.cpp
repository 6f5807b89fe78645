// Continuous batching, driven by a fake model that finishes each sequence at a given length: every
// sequence ends with exactly its tokens, the step budget and max_running hold in every step, a long
// prompt is prefilled in chunks while others decode, a group's prompt is prefilled once, a tiny pool
// preempts the newest and still completes everything, and a straggler does not hold the batch.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "rollout/batch_scheduler.h"

using namespace r1::rollout;

namespace {

// The engine loop without a model: carries out each plan, "samples" one token per decode entry and
// per sample of a completing chunk, finishes a sequence when it has its target count, and checks
// the plan against everything the scheduler promises.
struct Simulation {
  BatchScheduler scheduler;
  std::map<SequenceId, int64_t> prompt;   // prompt tokens
  std::map<SequenceId, int64_t> target;   // tokens it generates before it ends
  std::map<SequenceId, int64_t> sampled;  // tokens generated so far
  std::map<SequenceId, std::vector<SequenceId>> group;  // first sample -> the group's samples
  std::map<SequenceId, int64_t> next_start;             // where its current prefill continues
  std::map<SequenceId, int64_t> finished_at;            // step it finished in (1-based)
  std::vector<SequenceId> admitted;  // running samples in admission order, oldest first
  std::vector<StepPlan> plans;
  int64_t preemptions = 0;
  int64_t prefill_tokens = 0;
  int64_t max_step_tokens = 0;
  int64_t max_running_seen = 0;

  Simulation(SchedulerConfig config, int64_t num_blocks, int64_t block_tokens)
      : scheduler(config, num_blocks, block_tokens) {}

  std::vector<SequenceId> submit(int64_t prompt_tokens, const std::vector<int64_t>& lengths) {
    auto ids = scheduler.submit(prompt_tokens, static_cast<int64_t>(lengths.size()));
    REQUIRE(ids.size() == lengths.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      prompt[ids[i]] = prompt_tokens;
      target[ids[i]] = lengths[i];
      sampled[ids[i]] = 0;
    }
    group[ids.front()] = ids;
    return ids;
  }

  // The samples a prefill of `seq` admits: its whole group before it has sampled, else itself.
  std::vector<SequenceId> admitted_by(SequenceId seq) const {
    return sampled.at(seq) == 0 ? group.at(seq) : std::vector<SequenceId>{seq};
  }

  bool in_plan(const StepPlan& plan, SequenceId seq) const {
    for (const auto& d : plan.decode)
      if (d.seq == seq) return true;
    for (const auto& c : plan.prefill)
      if (c.seq == seq) return true;
    return false;
  }

  StepPlan step() {
    const auto& config = scheduler.config();
    const auto& cache = scheduler.cache();
    const int64_t bt = cache.block_tokens();
    const SequenceId oldest = admitted.empty() ? -1 : admitted.front();
    StepPlan plan = scheduler.step();
    plans.push_back(plan);
    const auto step_no = static_cast<int64_t>(plans.size());

    REQUIRE_FALSE(plan.empty());  // work left means progress every step
    CHECK(plan.num_tokens() <= config.max_tokens_per_step);
    CHECK(static_cast<int64_t>(plan.decode.size()) <= config.max_running);
    CHECK(scheduler.num_running() <= config.max_running);
    max_step_tokens = std::max(max_step_tokens, plan.num_tokens());
    max_running_seen = std::max(max_running_seen, scheduler.num_running());

    // Preempted: always the newest admitted, never the oldest.
    for (SequenceId p : plan.preempted) {
      ++preemptions;
      const auto freed = admitted_by(p);
      for (auto it = freed.rbegin(); it != freed.rend(); ++it) {
        REQUIRE_FALSE(admitted.empty());
        CHECK(admitted.back() == *it);
        admitted.pop_back();
      }
      next_start[p] = 0;
      CHECK_FALSE(cache.contains(p));
    }
    if (oldest >= 0) {
      CHECK(in_plan(plan, oldest));  // the oldest running sequence progresses in every step
      CHECK(std::find(plan.preempted.begin(), plan.preempted.end(), oldest) == plan.preempted.end());
    }

    // Copies: distinct destinations, none of them the source of another copy this step.
    std::set<BlockId> dsts;
    for (const auto& c : plan.copies) {
      CHECK(dsts.insert(c.dst).second);
      CHECK(c.tokens > 0);
      CHECK(c.tokens < bt);
    }
    for (const auto& c : plan.copies) CHECK(dsts.count(c.src) == 0);
    CHECK(plan.copies.size() <= plan.decode.size());

    // Decodes: the position written is the last sampled token's, prompt + sampled - 1.
    std::set<SequenceId> seen;
    for (const auto& d : plan.decode) {
      CHECK(seen.insert(d.seq).second);
      REQUIRE(sampled.at(d.seq) >= 1);
      CHECK(sampled.at(d.seq) < target.at(d.seq));
      const int64_t position = prompt.at(d.seq) + sampled.at(d.seq) - 1;
      CHECK(cache.num_tokens(d.seq) == position + 1);
      const auto& blocks = cache.table(d.seq).blocks;
      REQUIRE(static_cast<int64_t>(blocks.size()) == position / bt + 1);
      CHECK(d.slot == KvSlot{blocks[static_cast<std::size_t>(position / bt)], position % bt});
    }

    // Prefill chunks: contiguous, within prefill_chunk; the completing one covers prompt + sampled.
    std::vector<SequenceId> first_tokens;
    for (const auto& c : plan.prefill) {
      CHECK(c.length >= 1);
      CHECK(c.length <= config.prefill_chunk);
      CHECK(c.start == next_start[c.seq]);
      if (c.start == 0)
        for (SequenceId s : admitted_by(c.seq)) admitted.push_back(s);
      next_start[c.seq] = c.start + c.length;
      prefill_tokens += c.length;
      if (c.samples.empty()) continue;
      CHECK(c.start + c.length == prompt.at(c.seq) + sampled.at(c.seq));
      CHECK(c.samples == admitted_by(c.seq));
      for (SequenceId s : c.samples) {
        CHECK(cache.num_tokens(s) == c.start + c.length);  // forked off the prefilled sequence
        first_tokens.push_back(s);
      }
      next_start[c.seq] = 0;
    }

    // "Sampling", then the sequences that reached their length end.
    std::vector<SequenceId> done;
    auto sample = [&](SequenceId s) {
      ++sampled.at(s);
      if (sampled.at(s) == target.at(s)) done.push_back(s);
    };
    for (const auto& d : plan.decode) sample(d.seq);
    for (SequenceId s : first_tokens) sample(s);
    scheduler.finish(done);
    for (SequenceId s : done) {
      finished_at[s] = step_no;
      admitted.erase(std::find(admitted.begin(), admitted.end(), s));
    }
    return plan;
  }

  void run(int64_t max_steps = 100000) {
    while (scheduler.has_work()) {
      REQUIRE(static_cast<int64_t>(plans.size()) < max_steps);
      step();
    }
  }

  // Everything finished with exactly its tokens and the pool is whole again.
  void check_all_done() {
    for (const auto& [seq, want] : target) {
      CHECK(sampled.at(seq) == want);
      CHECK(finished_at.count(seq) == 1);
    }
    CHECK(admitted.empty());
    CHECK(scheduler.num_running() == 0);
    CHECK(scheduler.num_waiting() == 0);
    CHECK(scheduler.cache().num_sequences() == 0);
    CHECK(scheduler.cache().free_blocks() == scheduler.cache().num_blocks());
  }
};

// Groups with seeded random prompt lengths, sizes (1, 4 or 8) and completion lengths.
void submit_mixed(Simulation& sim, uint32_t seed, int groups) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> prompt_len(1, 300), gen_len(1, 200);
  const int64_t sizes[] = {1, 4, 8};
  for (int g = 0; g < groups; ++g) {
    const int64_t p = prompt_len(rng);
    std::vector<int64_t> lengths(static_cast<std::size_t>(sizes[rng() % 3]));
    for (auto& l : lengths) l = gen_len(rng);
    sim.submit(p, lengths);
  }
}

}  // namespace

TEST_CASE("a mixed workload completes every sequence with exactly its tokens, within budget and max_running") {
  const SchedulerConfig config{256, 32, 64};
  SUBCASE("a pool large enough for all: no preemption") {
    Simulation sim(config, 4096, 16);
    submit_mixed(sim, 7, 40);
    sim.run();
    sim.check_all_done();
    CHECK(sim.preemptions == 0);
    CHECK(sim.max_step_tokens == 256);  // the limits bind, and hold
    CHECK(sim.max_running_seen == 32);
  }
  SUBCASE("a pool of 200 blocks (3200 tokens): preemption, and still everything completes") {
    Simulation sim(config, 200, 16);
    submit_mixed(sim, 7, 40);
    sim.run();
    sim.check_all_done();
    CHECK(sim.max_running_seen <= 32);
    // The deterministic policy's figures on this workload, pinned: 1025 steps (779 with room for
    // all), 86 preemptions.
    CHECK(sim.plans.size() == 1025);
    CHECK(sim.preemptions == 86);
  }
}

TEST_CASE("the schedule is deterministic: the same submissions give the same plans") {
  const SchedulerConfig config{256, 32, 64};
  Simulation a(config, 200, 16), b(config, 200, 16);  // with preemptions
  submit_mixed(a, 11, 30);
  submit_mixed(b, 11, 30);
  a.run();
  b.run();
  CHECK(a.preemptions > 0);
  CHECK(a.plans.size() == b.plans.size());
  CHECK(a.plans == b.plans);
}

TEST_CASE("a group's prompt is prefilled once; its 8 samples fork off it and copy the divergent block") {
  Simulation sim(SchedulerConfig{256, 16, 64}, 64, 16);
  auto ids = sim.submit(100, {5, 5, 5, 5, 5, 5, 5, 5});
  CHECK(ids == std::vector<SequenceId>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(sim.scheduler.num_waiting() == 8);

  auto s1 = sim.step();  // 64 of the 100 prompt tokens
  REQUIRE(s1.prefill.size() == 1);
  CHECK(s1.prefill[0] == PrefillChunk{0, 0, 64, {}});
  CHECK(s1.decode.empty());
  CHECK(sim.scheduler.num_running() == 8);  // the group's samples are reserved at admission
  CHECK(sim.scheduler.cache().free_blocks() == 64 - 7);  // the whole prompt's blocks, allocated once

  auto s2 = sim.step();  // the rest; every sample draws its first token from these logits
  REQUIRE(s2.prefill.size() == 1);
  CHECK(s2.prefill[0] == PrefillChunk{0, 64, 36, ids});
  CHECK(sim.scheduler.cache().free_blocks() == 64 - 7);
  for (BlockId b = 0; b < 7; ++b) CHECK(sim.scheduler.cache().ref_count(b) == 8);
  CHECK(sim.scheduler.generated(3) == 1);

  auto s3 = sim.step();  // the first decode: 7 copies of block 6's 4 prompt tokens, the 8th in place
  CHECK(s3.decode.size() == 8);
  REQUIRE(s3.copies.size() == 7);
  for (const auto& c : s3.copies) {
    CHECK(c.src == 6);
    CHECK(c.tokens == 4);
  }
  CHECK(sim.scheduler.cache().free_blocks() == 64 - 14);
  sim.run();
  sim.check_all_done();
  CHECK(sim.prefill_tokens == 100);  // once, not 8 times
  CHECK(sim.plans.size() == 6);      // 2 prefill steps (first token) + 4 decode steps
}

TEST_CASE("a long prompt is prefilled in chunks over many steps while the running sequences keep decoding") {
  Simulation sim(SchedulerConfig{64, 8, 32}, 1024, 16);
  for (int i = 0; i < 3; ++i) sim.submit(8, {100});
  auto s1 = sim.step();
  CHECK(s1.prefill.size() == 3);
  const SequenceId long_prompt = sim.submit(1000, {4}).front();

  std::vector<int64_t> chunks;
  do {
    auto plan = sim.step();
    CHECK(plan.decode.size() == 3);  // decoding never stalls behind the long prompt
    REQUIRE(plan.prefill.size() == 1);
    CHECK(plan.prefill[0].seq == long_prompt);
    chunks.push_back(plan.prefill[0].length);
    CHECK(plan.num_tokens() == 3 + plan.prefill[0].length);
  } while (sim.next_start[long_prompt] != 0);  // back to 0 once the prefill completes
  // 1000 tokens at prefill_chunk 32 (the budget would allow 61): 31 chunks of 32, then 8.
  REQUIRE(chunks.size() == 32);
  for (std::size_t i = 0; i < 31; ++i) CHECK(chunks[i] == 32);
  CHECK(chunks.back() == 8);
  CHECK(sim.scheduler.generated(long_prompt) == 1);
  sim.run();
  sim.check_all_done();
}

TEST_CASE("a long-tail straggler holds one slot while short sequences join and leave around it") {
  // max_running 4: the straggler (200 tokens) and three slots that turn over 30 short ones (10 tokens).
  Simulation sim(SchedulerConfig{64, 4, 16}, 1024, 16);
  const SequenceId straggler = sim.submit(8, {200}).front();
  std::vector<SequenceId> shorts;
  for (int i = 0; i < 30; ++i) shorts.push_back(sim.submit(8, {10}).front());
  sim.run();
  sim.check_all_done();
  // Each slot serves a short one per 10 steps (its prefill gives the first token): 10 rounds of 3.
  int64_t last_short = 0;
  for (SequenceId s : shorts) last_short = std::max(last_short, sim.finished_at.at(s));
  CHECK(last_short == 100);
  CHECK(sim.finished_at.at(shorts.front()) == 10);
  CHECK(sim.finished_at.at(shorts.back()) == 100);
  CHECK(sim.finished_at.at(straggler) == 200);  // a token every step, never preempted
  CHECK(sim.max_running_seen == 4);
  CHECK(sim.preemptions == 0);
  // A static batch of 4 would run each batch to its longest member: 200 steps before the first
  // waiting sequence could start.
}

TEST_CASE("under a tiny pool the newest running sequence is preempted, recomputed, and everything completes") {
  SUBCASE("single sequences") {
    // 16 blocks of 4 tokens hold 64 positions; the 6 sequences need 29 each at their end.
    Simulation sim(SchedulerConfig{32, 6, 8}, 16, 4);
    for (int i = 0; i < 6; ++i) sim.submit(10, {20});
    sim.run();
    sim.check_all_done();
    // A recomputed sequence prefills its prompt plus the tokens it had: more than 6 * 10 in all.
    CHECK(sim.prefill_tokens > 60);
    // The first admitted is the oldest throughout and never preempted: it ends at step 21 (two
    // prefill steps of 8 + 2 tokens, the second giving its first token, then 19 decodes), no one earlier.
    CHECK(sim.finished_at.at(0) == 21);
    for (SequenceId s = 1; s < 6; ++s) CHECK(sim.finished_at.at(s) >= 21);  // none before it
    CHECK(sim.preemptions == 4);  // pinned figures of the deterministic policy
    CHECK(sim.plans.size() == 53);
  }
  SUBCASE("GRPO groups sharing their prompts") {
    Simulation sim(SchedulerConfig{64, 12, 16}, 24, 4);
    sim.submit(10, {30, 5, 18, 12});
    sim.submit(7, {25, 25, 1, 9});
    sim.submit(13, {3, 40, 16, 22});
    sim.run();
    sim.check_all_done();
    CHECK(sim.preemptions == 4);  // pinned figures of the deterministic policy
    CHECK(sim.plans.size() == 59);
  }
}

TEST_CASE("a pool too small for one sequence is a runtime error, not a hang") {
  // 2 blocks of 4 tokens: a 4-token prompt can generate until its 8 positions are full.
  Simulation sim(SchedulerConfig{8, 2, 8}, 2, 4);
  sim.submit(4, {20});
  CHECK_THROWS_WITH_AS(sim.run(), doctest::Contains("KV blocks to continue"), std::runtime_error);
}

TEST_CASE("bad configurations, submissions and finishes are rejected") {
  CHECK_THROWS_AS(BatchScheduler(SchedulerConfig{8, 16, 4}, 64, 16), std::invalid_argument);  // budget < max_running
  CHECK_THROWS_AS(BatchScheduler(SchedulerConfig{64, 16, 0}, 64, 16), std::invalid_argument);
  BatchScheduler scheduler(SchedulerConfig{64, 8, 32}, 4, 16);
  CHECK_THROWS_AS(scheduler.submit(0, 1), std::invalid_argument);
  CHECK_THROWS_AS(scheduler.submit(10, 9), std::invalid_argument);   // more samples than max_running
  CHECK_THROWS_AS(scheduler.submit(65, 1), std::invalid_argument);   // 5 blocks, the pool has 4
  const auto ids = scheduler.submit(20, 2);
  CHECK_THROWS_AS(scheduler.finish(ids[0]), std::logic_error);  // still waiting
  CHECK_THROWS_AS(scheduler.finish(99), std::logic_error);      // unknown
  scheduler.step();                                             // prefilled: both sampled a token
  scheduler.finish(ids);
  CHECK_THROWS_AS(scheduler.finish(ids[0]), std::logic_error);  // finished twice
  CHECK_THROWS_AS(scheduler.generated(ids[0]), std::logic_error);
  CHECK_FALSE(scheduler.has_work());
  CHECK(scheduler.cache().free_blocks() == 4);
}
