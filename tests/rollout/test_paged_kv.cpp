// The paged KV cache's bookkeeping: pool sizing from free memory, the block allocator's reference
// counts and errors, GRPO groups sharing their prompt's blocks, copy on write at the first divergent
// block, running out of blocks, and every block back in the pool at the end.
#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "rollout/paged_kv.h"

using namespace r1::rollout;

TEST_CASE("blocks_for_memory sizes the pool as floor(free_bytes * fraction / bytes_per_block)") {
  // Qwen2.5-0.5B: 24 layers, 2 KV heads of 64, bf16, 16-token blocks.
  const KvCacheGeometry qwen05{24, 2, 64, 2, 16};
  CHECK(qwen05.bytes_per_block() == 196608);  // 2 (K,V) * 24 * 2 * 64 * 2 B * 16 = 192 KiB
  const int64_t gib = int64_t{1} << 30;
  // 10 GiB * 0.9 = 9663676416 B, exactly 49152 blocks of 192 KiB: the exact budget is not rounded away.
  CHECK(blocks_for_memory(10 * gib, 0.9, qwen05) == 49152);
  CHECK(49152 * 16 == 786432);  // tokens the pool holds
  // 1 GiB * 0.9 = 966367641.6 B -> 966367641 / 196608 = 4915.2 -> 4915.
  CHECK(blocks_for_memory(gib, 0.9, qwen05) == 4915);
  CHECK(blocks_for_memory(196607, 1.0, qwen05) == 0);
  CHECK(blocks_for_memory(196608, 1.0, qwen05) == 1);

  // Qwen2.5-7B: 28 layers, 4 KV heads of 128: 896 KiB a block; 40 GiB * 0.9 / 917504 = 42130.3.
  const KvCacheGeometry qwen7{28, 4, 128, 2, 16};
  CHECK(qwen7.bytes_per_block() == 917504);
  CHECK(blocks_for_memory(40 * gib, 0.9, qwen7) == 42130);

  CHECK_THROWS_AS(blocks_for_memory(gib, 0.0, qwen05), std::invalid_argument);
  CHECK_THROWS_AS(blocks_for_memory(gib, 1.5, qwen05), std::invalid_argument);
  CHECK_THROWS_AS(blocks_for_memory(-1, 0.9, qwen05), std::invalid_argument);
  CHECK_THROWS_AS(blocks_for_memory(gib, 0.9, KvCacheGeometry{24, 0, 64, 2, 16}), std::invalid_argument);
}

TEST_CASE("the block allocator hands out ids lowest first, counts references, reuses the last released") {
  BlockAllocator pool(4);
  CHECK(pool.num_blocks() == 4);
  CHECK(pool.free_count() == 4);
  CHECK(pool.allocate() == BlockId{0});
  CHECK(pool.allocate() == BlockId{1});
  CHECK(pool.allocate() == BlockId{2});
  CHECK(pool.free_count() == 1);
  CHECK(pool.ref_count(1) == 1);
  pool.retain(1);
  pool.retain(1);
  CHECK(pool.ref_count(1) == 3);
  pool.release(1);
  pool.release(1);
  CHECK(pool.ref_count(1) == 1);
  CHECK(pool.free_count() == 1);
  pool.release(1);
  CHECK(pool.ref_count(1) == 0);
  CHECK(pool.free_count() == 2);
  CHECK(pool.allocate() == BlockId{1});  // LIFO: the block just released
  CHECK(pool.allocate() == BlockId{3});
  CHECK(pool.allocate() == std::nullopt);  // exhausted: an answer, not UB
  CHECK(pool.free_count() == 0);
}

TEST_CASE("the block allocator rejects releasing a free block and ids out of range") {
  BlockAllocator pool(2);
  const BlockId b = *pool.allocate();
  pool.release(b);
  CHECK_THROWS_WITH_AS(pool.release(b), doctest::Contains("already free"), std::logic_error);
  CHECK_THROWS_WITH_AS(pool.retain(b), doctest::Contains("is free"), std::logic_error);
  CHECK_THROWS_WITH_AS(pool.release(2), doctest::Contains("out of range [0, 2)"), std::logic_error);
  CHECK_THROWS_WITH_AS(pool.release(-1), doctest::Contains("out of range"), std::logic_error);
  CHECK_THROWS_AS(pool.ref_count(7), std::logic_error);
  CHECK(pool.free_count() == 2);  // the failed calls changed nothing
  CHECK_THROWS_AS(BlockAllocator(-1), std::invalid_argument);
}

TEST_CASE("a GRPO group of 8 shares a 100-token prompt's 7 blocks and copies only the divergent one") {
  PagedKvCache cache(64, 16);
  REQUIRE(cache.add_sequence(0, 100));  // ceil(100 / 16) = 7 blocks: 6 full + one holding 4 tokens
  CHECK(cache.table(0).blocks == std::vector<BlockId>{0, 1, 2, 3, 4, 5, 6});
  CHECK(cache.free_blocks() == 57);

  cache.fork(0, {1, 2, 3, 4, 5, 6, 7});  // the G = 8 samples: sample 0 is the prefilled sequence
  CHECK(cache.free_blocks() == 57);       // no copies
  for (BlockId b = 0; b < 7; ++b) CHECK(cache.ref_count(b) == 8);
  for (SequenceId s = 1; s < 8; ++s) {
    CHECK(cache.table(s).blocks == cache.table(0).blocks);
    CHECK(cache.num_tokens(s) == 100);
  }
  std::vector<SequenceId> group = {0, 1, 2, 3, 4, 5, 6, 7};
  CHECK(cache.blocks_needed_to_append(group) == 7);  // 8 holders of block 6: the last writes in place
  CHECK(cache.blocks_needed_to_append({0, 1, 2}) == 3);

  // The first generated token of each sample: position 100, slot 4 of block 6, which is shared.
  for (SequenceId s = 0; s < 7; ++s) {
    auto append = cache.append_token(s);
    REQUIRE(append);
    const auto fresh = static_cast<BlockId>(7 + s);
    CHECK(append->copy == BlockCopy{6, fresh, 4});  // the 4 prompt tokens of the partial block
    CHECK(append->slot == KvSlot{fresh, 4});
    CHECK(cache.ref_count(6) == 7 - s);
  }
  auto last = cache.append_token(7);  // sole owner of block 6 now
  REQUIRE(last);
  CHECK_FALSE(last->copy);
  CHECK(last->slot == KvSlot{6, 4});
  CHECK(cache.free_blocks() == 50);  // 7 shared-prefix blocks + 7 copies = 14 in use
  for (BlockId b = 0; b < 6; ++b) CHECK(cache.ref_count(b) == 8);  // the full prompt blocks stay shared
  CHECK(cache.ref_count(6) == 1);
  for (SequenceId s = 0; s < 8; ++s) {
    CHECK(std::vector<BlockId>(cache.table(s).blocks.begin(), cache.table(s).blocks.begin() + 6) ==
          std::vector<BlockId>{0, 1, 2, 3, 4, 5});
    CHECK(cache.num_tokens(s) == 101);
  }

  // 11 more tokens fill each private last block (4 + 12 = 16): no allocation, no copy.
  CHECK(cache.blocks_needed_to_append(group) == 0);
  for (int t = 0; t < 11; ++t)
    for (SequenceId s : group) {
      auto append = cache.append_token(s);
      REQUIRE(append);
      CHECK_FALSE(append->copy);
    }
  CHECK(cache.free_blocks() == 50);
  // The 13th token of each starts a new private block.
  CHECK(cache.blocks_needed_to_append(group) == 8);
  for (SequenceId s : group) {
    auto append = cache.append_token(s);
    REQUIRE(append);
    CHECK_FALSE(append->copy);
    CHECK(append->slot.offset == 0);
  }
  CHECK(cache.free_blocks() == 42);  // 6 shared + 8 * 2 private = 22 in use
  CHECK(cache.num_tokens(3) == 113);

  // Blocks come back as samples finish; the shared ones with their last holder.
  for (SequenceId s = 0; s < 7; ++s) cache.free(s);
  CHECK(cache.free_blocks() == 64 - 8);  // sample 7 still holds 6 shared + 2 private
  for (BlockId b = 0; b < 6; ++b) CHECK(cache.ref_count(b) == 1);
  cache.free(7);
  CHECK(cache.free_blocks() == 64);
  CHECK(cache.num_sequences() == 0);
  for (BlockId b = 0; b < 64; ++b) CHECK(cache.ref_count(b) == 0);
}

TEST_CASE("a parent forked into G children and freed leaves the prompt blocks with reference count G") {
  PagedKvCache cache(32, 16);
  REQUIRE(cache.add_sequence(100, 100));
  cache.fork(100, {0, 1, 2, 3, 4, 5, 6, 7});
  cache.free(100);
  for (BlockId b = 0; b < 7; ++b) CHECK(cache.ref_count(b) == 8);
  int copies = 0;
  for (SequenceId s = 0; s < 8; ++s) copies += cache.append_token(s)->copy ? 1 : 0;
  CHECK(copies == 7);
  CHECK(cache.free_blocks() == 32 - 14);
}

TEST_CASE("a prompt that fills its last block has no divergent block: no copy, a fresh block each") {
  PagedKvCache cache(16, 16);
  REQUIRE(cache.add_sequence(0, 96));  // 6 full blocks
  cache.fork(0, {1, 2, 3});
  CHECK(cache.blocks_needed_to_append({0, 1, 2, 3}) == 4);
  for (SequenceId s = 0; s < 4; ++s) {
    auto append = cache.append_token(s);
    REQUIRE(append);
    CHECK_FALSE(append->copy);
    CHECK(append->slot == KvSlot{static_cast<BlockId>(6 + s), 0});
  }
  for (BlockId b = 0; b < 6; ++b) CHECK(cache.ref_count(b) == 4);
  CHECK(cache.free_blocks() == 16 - 10);
}

TEST_CASE("a sequence's positions map to block p / block_tokens, slot p % block_tokens") {
  PagedKvCache cache(4, 16);
  REQUIRE(cache.add_sequence(5, 0));  // an empty sequence holds no block
  CHECK(cache.free_blocks() == 4);
  for (int64_t p = 0; p < 40; ++p) {
    auto append = cache.append_token(5);
    REQUIRE(append);
    CHECK(append->slot == KvSlot{static_cast<BlockId>(p / 16), p % 16});
  }
  CHECK(cache.table(5).blocks.size() == 3);
  CHECK(cache.num_tokens(5) == 40);
  CHECK(cache.blocks_for_tokens(0) == 0);
  CHECK(cache.blocks_for_tokens(16) == 1);
  CHECK(cache.blocks_for_tokens(17) == 2);
}

TEST_CASE("running out of blocks is reported and changes nothing") {
  PagedKvCache cache(8, 16);
  CHECK_FALSE(cache.add_sequence(0, 129));  // needs 9 of 8
  CHECK_FALSE(cache.contains(0));
  CHECK(cache.free_blocks() == 8);

  REQUIRE(cache.add_sequence(0, 100));  // 7 blocks, 1 free
  cache.fork(0, {1, 2});
  CHECK(cache.can_append(0));
  REQUIRE(cache.append_token(0));  // copy on write takes the last free block
  CHECK(cache.free_blocks() == 0);
  CHECK_FALSE(cache.can_append(1));  // block 6 still shared by 1 and 2
  const BlockTable before = cache.table(1);
  CHECK(cache.append_token(1) == std::nullopt);
  CHECK(cache.table(1).blocks == before.blocks);
  CHECK(cache.num_tokens(1) == 100);
  CHECK(cache.ref_count(6) == 2);
  CHECK(cache.blocks_needed_to_append({1, 2}) == 1);

  cache.free(0);  // its private copy returns
  CHECK(cache.free_blocks() == 1);
  CHECK(cache.can_append(1));
  REQUIRE(cache.append_token(1));
  REQUIRE(cache.append_token(2));  // sole owner: in place
  CHECK(cache.free_blocks() == 0);
  cache.free(1);
  cache.free(2);
  CHECK(cache.free_blocks() == 8);
}

TEST_CASE("misuse of the cache is a logic error") {
  PagedKvCache cache(8, 16);
  REQUIRE(cache.add_sequence(0, 20));
  CHECK_THROWS_AS(cache.add_sequence(0, 5), std::logic_error);  // duplicate id
  CHECK_THROWS_AS(cache.add_sequence(1, -1), std::logic_error);
  CHECK_THROWS_AS(cache.append_token(9), std::logic_error);
  CHECK_THROWS_AS(cache.free(9), std::logic_error);
  CHECK_THROWS_AS(cache.table(9), std::logic_error);
  CHECK_THROWS_AS(cache.fork(9, {10}), std::logic_error);
  CHECK_THROWS_AS(cache.fork(0, {0}), std::logic_error);      // child exists
  CHECK_THROWS_AS(cache.fork(0, {3, 3}), std::logic_error);   // repeated child
  CHECK(cache.ref_count(0) == 1);                             // the failed forks retained nothing
  CHECK(cache.num_sequences() == 1);
  cache.free(0);
  CHECK_THROWS_AS(cache.free(0), std::logic_error);  // freed twice
  CHECK(cache.free_blocks() == 8);
  CHECK_THROWS_AS(PagedKvCache(8, 0), std::invalid_argument);
}
