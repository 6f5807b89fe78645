// The paged KV cache's bookkeeping for the CUDA rollout engine: a fixed pool of equal-size blocks
// sized from free GPU memory, reference-counted so that sequences share blocks, and one block table
// per sequence. Plain C++ with no device memory in it: the GPU side owns the K/V arrays, indexed by
// the block ids handed out here, and performs the block copies this code asks for.
//
// Decisions:
// - A block holds `block_tokens` token positions of K and V for every layer, so one block id
//   addresses the same positions in every layer's arrays and a sequence has one table, not one per
//   layer.
// - The G samples of a GRPO group share the prompt's blocks by reference count (fork), never by copy.
//   A shared block that is full is never written again, so it stays shared for good. A shared block
//   that is partially filled is the first divergent block: the first sample that appends to it gets
//   a private copy (copy on write); the last holder writes in place, so G samples cost G - 1 copies.
// - Copies are returned, not performed: the engine batches a step's copies into one kernel launch
//   before the forward. Within one step a copy's source is still held by another sequence, so no
//   block is the source of one copy and the destination of another as long as nothing is freed
//   between the appends of a step (the batch scheduler frees before it appends).
// - Running out of blocks is an answer (false, std::nullopt), never undefined behaviour, and a failed
//   call changes nothing. Misuse — an unknown sequence, a duplicate id, releasing a free block — is a
//   caller bug and throws std::logic_error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace r1::rollout {

using BlockId = int32_t;     // int32: the type the GPU block tables hold
using SequenceId = int64_t;  // chosen by the caller (the batch scheduler)

struct KvCacheGeometry {
  int64_t layers = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t bytes_per_element = 2;  // bf16
  int64_t block_tokens = 16;      // token positions per block
  // MLA in the absorbed form caches one vector per token and layer (the compressed latent and the
  // RoPE key part, head_dim wide, kv_heads 1) that serves as both K and V.
  bool shared_kv = false;

  // K and V for every layer: (shared_kv ? 1 : 2) * layers * kv_heads * head_dim * bytes_per_element
  // * block_tokens.
  int64_t bytes_per_block() const;
};

// The pool size for `free_bytes` of free device memory (measured after the weights and the
// activation workspace are allocated), of which the cache may take `fraction` (in (0, 1]):
//   blocks = floor( floor(free_bytes * fraction) / geometry.bytes_per_block() )
// The product is formed in long double so that exact budgets (10 GiB * 0.9) are not lost to
// rounding. Throws std::invalid_argument on a non-positive geometry field, free_bytes < 0 or a
// fraction outside (0, 1].
int64_t blocks_for_memory(int64_t free_bytes, double fraction, const KvCacheGeometry& geometry);

// A fixed pool of block ids [0, num_blocks) with a free list and a reference count per block.
class BlockAllocator {
 public:
  explicit BlockAllocator(int64_t num_blocks);  // std::invalid_argument if < 0 or beyond int32

  // A free block with reference count 1, or std::nullopt when the pool is exhausted. Ids come out
  // lowest first from a fresh pool; a released block is the next one handed out (LIFO), which keeps
  // the working set of blocks small and the order deterministic.
  std::optional<BlockId> allocate();
  void retain(BlockId block);   // +1; std::logic_error if the block is free or out of range
  void release(BlockId block);  // -1, back to the free list at 0; std::logic_error if free or out of range

  int32_t ref_count(BlockId block) const;  // 0 for a free block; std::logic_error if out of range
  int64_t free_count() const { return static_cast<int64_t>(free_.size()); }
  int64_t num_blocks() const { return static_cast<int64_t>(ref_counts_.size()); }

 private:
  void check_range(BlockId block, const char* what) const;

  std::vector<int32_t> ref_counts_;
  std::vector<BlockId> free_;  // a stack: back() is allocated next
};

// One sequence's cache: token position p lives in blocks[p / block_tokens] at slot p % block_tokens.
struct BlockTable {
  std::vector<BlockId> blocks;
  int64_t num_tokens = 0;  // positions written (or reserved for this step's write)
};

// Where the GPU writes one token's K and V.
struct KvSlot {
  BlockId block = 0;
  int64_t offset = 0;  // position within the block
  bool operator==(const KvSlot&) const = default;
};

// Copy the first `tokens` positions of `src` into `dst`, K and V, every layer.
struct BlockCopy {
  BlockId src = 0;
  BlockId dst = 0;
  int64_t tokens = 0;
  bool operator==(const BlockCopy&) const = default;
};

// The result of reserving one more position: where to write it, and the copy that must run first
// when the sequence's last block was shared (copy on write).
struct KvAppend {
  KvSlot slot;
  std::optional<BlockCopy> copy;
  bool operator==(const KvAppend&) const = default;
};

class PagedKvCache {
 public:
  PagedKvCache(int64_t num_blocks, int64_t block_tokens);

  // ceil(tokens / block_tokens)
  int64_t blocks_for_tokens(int64_t tokens) const;

  // A new sequence whose first `tokens` positions are about to be written (a prompt, prefilled in
  // one or several chunks): allocates blocks_for_tokens(tokens) blocks. False, with nothing
  // allocated, when the pool has fewer free blocks. std::logic_error if `seq` exists or tokens < 0.
  bool add_sequence(SequenceId seq, int64_t tokens);

  // Each child gets a copy of the parent's block table; every block's reference count goes up by
  // the number of children. Needs no free block, so it cannot fail for lack of memory.
  // std::logic_error if the parent is unknown or a child id exists (or repeats).
  void fork(SequenceId parent, const std::vector<SequenceId>& children);

  // Reserve the next position of `seq`: a new block when the last one is full (or there is none),
  // a private copy when the last one is shared and partially filled, else the next slot in place.
  // std::nullopt, with nothing changed, when a block is needed and none is free.
  std::optional<KvAppend> append_token(SequenceId seq);

  // Whether append_token(seq) would succeed now.
  bool can_append(SequenceId seq) const;
  // New blocks that appending one token to each of `seqs` (distinct ids) would take, in any order:
  // one per sequence whose last block is full; for a shared partial block held by r sequences of
  // which m are in `seqs`, m copies, or m - 1 when all r holders append (the last writes in place).
  int64_t blocks_needed_to_append(const std::vector<SequenceId>& seqs) const;

  // Releases the sequence's blocks (a shared block returns to the pool with its last holder).
  // std::logic_error if unknown.
  void free(SequenceId seq);

  bool contains(SequenceId seq) const { return tables_.count(seq) != 0; }
  const BlockTable& table(SequenceId seq) const;  // std::logic_error if unknown
  int64_t num_tokens(SequenceId seq) const { return table(seq).num_tokens; }
  int64_t num_sequences() const { return static_cast<int64_t>(tables_.size()); }

  int64_t block_tokens() const { return block_tokens_; }
  int64_t num_blocks() const { return allocator_.num_blocks(); }
  int64_t free_blocks() const { return allocator_.free_count(); }
  int32_t ref_count(BlockId block) const { return allocator_.ref_count(block); }

 private:
  BlockTable& mutable_table(SequenceId seq);
  // Whether the next position needs a new block: no block yet, the last one full, or shared.
  bool needs_block(const BlockTable& table) const;

  int64_t block_tokens_;
  BlockAllocator allocator_;
  std::map<SequenceId, BlockTable> tables_;  // ordered: deterministic iteration
};

}  // namespace r1::rollout
