// Per-layer key/value buffers for incremental decoding. Preallocated to a maximum length so that
// appending a token writes one slot (no re-concatenation): each new token costs O(length) attention,
// never O(length^2) copying.
#pragma once

#include <vector>

#include <torch/torch.h>

namespace r1::policy {

struct KVCache {
  // Per layer [batch, heads, capacity, width]: GQA caches its kv_heads at head_dim; MLA caches
  // every head's key (nope + rope dims) and value (v_head_dim) after kv_b_proj.
  std::vector<torch::Tensor> keys;
  std::vector<torch::Tensor> values;
  // [batch, capacity] bool: which slots hold real tokens (false for left padding). The caller marks
  // the slots of the tokens it is about to feed before calling forward.
  torch::Tensor valid;
  int64_t length = 0;  // slots filled so far (same for every row)

  int64_t capacity() const { return valid.defined() ? valid.size(1) : 0; }
  int64_t batch() const { return valid.defined() ? valid.size(0) : 0; }

  // Keeps only the given rows, in the given order (e.g. expand each prompt to its N samples, or
  // drop finished sequences).
  void select_rows(const torch::Tensor& row_index);
};

}  // namespace r1::policy
