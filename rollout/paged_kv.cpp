#include "rollout/paged_kv.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace r1::rollout {

int64_t KvCacheGeometry::bytes_per_block() const {
  return (shared_kv ? 1 : 2) * layers * kv_heads * head_dim * bytes_per_element * block_tokens;
}

int64_t blocks_for_memory(int64_t free_bytes, double fraction, const KvCacheGeometry& geometry) {
  if (geometry.layers < 1 || geometry.kv_heads < 1 || geometry.head_dim < 1 || geometry.bytes_per_element < 1 ||
      geometry.block_tokens < 1)
    throw std::invalid_argument("blocks_for_memory: every KvCacheGeometry field must be >= 1");
  if (free_bytes < 0) throw std::invalid_argument("blocks_for_memory: free_bytes must be >= 0");
  if (!(fraction > 0 && fraction <= 1)) throw std::invalid_argument("blocks_for_memory: fraction must be in (0, 1]");
  const auto budget = static_cast<int64_t>(std::floor(static_cast<long double>(free_bytes) * fraction));
  return budget / geometry.bytes_per_block();
}

// ---- BlockAllocator ----

BlockAllocator::BlockAllocator(int64_t num_blocks) {
  if (num_blocks < 0 || num_blocks > std::numeric_limits<BlockId>::max())
    throw std::invalid_argument("BlockAllocator: num_blocks must be in [0, 2^31)");
  ref_counts_.assign(static_cast<std::size_t>(num_blocks), 0);
  free_.reserve(static_cast<std::size_t>(num_blocks));
  for (int64_t b = num_blocks - 1; b >= 0; --b) free_.push_back(static_cast<BlockId>(b));  // 0 on top
}

void BlockAllocator::check_range(BlockId block, const char* what) const {
  if (block < 0 || static_cast<int64_t>(block) >= num_blocks())
    throw std::logic_error(std::string("BlockAllocator::") + what + ": block " + std::to_string(block) +
                           " is out of range [0, " + std::to_string(num_blocks()) + ")");
}

std::optional<BlockId> BlockAllocator::allocate() {
  if (free_.empty()) return std::nullopt;
  const BlockId block = free_.back();
  free_.pop_back();
  ref_counts_[static_cast<std::size_t>(block)] = 1;
  return block;
}

void BlockAllocator::retain(BlockId block) {
  check_range(block, "retain");
  auto& count = ref_counts_[static_cast<std::size_t>(block)];
  if (count == 0)
    throw std::logic_error("BlockAllocator::retain: block " + std::to_string(block) + " is free (reference count 0)");
  ++count;
}

void BlockAllocator::release(BlockId block) {
  check_range(block, "release");
  auto& count = ref_counts_[static_cast<std::size_t>(block)];
  if (count == 0)
    throw std::logic_error("BlockAllocator::release: block " + std::to_string(block) +
                           " is already free (reference count 0): released twice?");
  if (--count == 0) free_.push_back(block);
}

int32_t BlockAllocator::ref_count(BlockId block) const {
  check_range(block, "ref_count");
  return ref_counts_[static_cast<std::size_t>(block)];
}

// ---- PagedKvCache ----

PagedKvCache::PagedKvCache(int64_t num_blocks, int64_t block_tokens)
    : block_tokens_(block_tokens), allocator_(num_blocks) {
  if (block_tokens < 1) throw std::invalid_argument("PagedKvCache: block_tokens must be >= 1");
}

int64_t PagedKvCache::blocks_for_tokens(int64_t tokens) const { return (tokens + block_tokens_ - 1) / block_tokens_; }

const BlockTable& PagedKvCache::table(SequenceId seq) const {
  auto it = tables_.find(seq);
  if (it == tables_.end()) throw std::logic_error("PagedKvCache: unknown sequence " + std::to_string(seq));
  return it->second;
}

BlockTable& PagedKvCache::mutable_table(SequenceId seq) { return const_cast<BlockTable&>(table(seq)); }

bool PagedKvCache::add_sequence(SequenceId seq, int64_t tokens) {
  if (contains(seq)) throw std::logic_error("PagedKvCache::add_sequence: sequence " + std::to_string(seq) + " exists");
  if (tokens < 0) throw std::logic_error("PagedKvCache::add_sequence: tokens must be >= 0");
  const int64_t needed = blocks_for_tokens(tokens);
  if (needed > allocator_.free_count()) return false;
  BlockTable table;
  table.num_tokens = tokens;
  for (int64_t i = 0; i < needed; ++i) table.blocks.push_back(*allocator_.allocate());  // checked above
  tables_.emplace(seq, std::move(table));
  return true;
}

void PagedKvCache::fork(SequenceId parent, const std::vector<SequenceId>& children) {
  const BlockTable& source = table(parent);  // std::map: inserting children leaves it in place
  for (std::size_t i = 0; i < children.size(); ++i) {
    bool repeated = contains(children[i]);
    for (std::size_t j = 0; j < i; ++j) repeated = repeated || children[j] == children[i];
    if (repeated)
      throw std::logic_error("PagedKvCache::fork: child " + std::to_string(children[i]) + " exists or repeats");
  }
  for (SequenceId child : children) {
    for (BlockId block : source.blocks) allocator_.retain(block);
    tables_.emplace(child, source);
  }
}

bool PagedKvCache::needs_block(const BlockTable& table) const {
  if (table.num_tokens % block_tokens_ == 0) return true;  // no block yet, or the last one is full
  return allocator_.ref_count(table.blocks.back()) > 1;     // shared and partially filled: copy on write
}

std::optional<KvAppend> PagedKvCache::append_token(SequenceId seq) {
  BlockTable& table = mutable_table(seq);
  const int64_t offset = table.num_tokens % block_tokens_;
  KvAppend result;
  if (offset == 0) {  // a fresh block; a full last block stays shared with whoever holds it
    auto block = allocator_.allocate();
    if (!block) return std::nullopt;
    table.blocks.push_back(*block);
  } else if (allocator_.ref_count(table.blocks.back()) > 1) {  // the first divergent block
    auto block = allocator_.allocate();
    if (!block) return std::nullopt;
    const BlockId shared = table.blocks.back();
    result.copy = BlockCopy{shared, *block, offset};
    allocator_.release(shared);  // still held by the others (count was > 1)
    table.blocks.back() = *block;
  }
  result.slot = KvSlot{table.blocks.back(), offset};
  ++table.num_tokens;
  return result;
}

bool PagedKvCache::can_append(SequenceId seq) const {
  return !needs_block(table(seq)) || allocator_.free_count() > 0;
}

int64_t PagedKvCache::blocks_needed_to_append(const std::vector<SequenceId>& seqs) const {
  int64_t needed = 0;
  std::map<BlockId, int64_t> shared_partial;  // last block -> how many of `seqs` end in it
  for (SequenceId seq : seqs) {
    const BlockTable& t = table(seq);
    if (t.num_tokens % block_tokens_ == 0)
      ++needed;
    else if (allocator_.ref_count(t.blocks.back()) > 1)
      ++shared_partial[t.blocks.back()];
  }
  // Every holder of a partial block ends in it (a table's only partial block is its last), so when
  // all of them append, the last one to do so finds itself sole owner and writes in place.
  for (const auto& [block, appending] : shared_partial)
    needed += appending == allocator_.ref_count(block) ? appending - 1 : appending;
  return needed;
}

void PagedKvCache::free(SequenceId seq) {
  const BlockTable& t = table(seq);
  for (BlockId block : t.blocks) allocator_.release(block);
  tables_.erase(seq);
}

}  // namespace r1::rollout
