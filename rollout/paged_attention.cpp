// Paged decode attention, written plainly, one (sequence, query head) at a time; see
// paged_attention.h for the layout and the rules. Kept free of LibTorch, so that the GPU test can
// compile it beside the kernel it checks.
#include "rollout/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace r1::rollout {
namespace {

[[noreturn]] void fail(const std::string& field, const std::string& message) {
  throw std::invalid_argument(field + ": " + message);
}

std::string str(int64_t value) { return std::to_string(value); }

void check_size(const std::string& field, size_t got, int64_t want) {
  if (static_cast<int64_t>(got) != want) fail(field, "holds " + str(int64_t(got)) + " values, expected " + str(want));
}

// Validates everything but split_tokens.
void validate(const PagedAttentionInputs& in, const PagedAttentionGeometry& g, float scale) {
  g.validate();
  if (!(scale > 0.0f) || !std::isfinite(scale)) fail("scale", "must be finite and > 0, got " + std::to_string(scale));
  const auto seqs = static_cast<int64_t>(in.context_lens.size());
  check_size("q", in.q.size(), seqs * g.q_heads * g.head_dim);
  check_size("k_pool", in.k_pool.size(), g.pool_floats());
  check_size("v_pool", in.v_pool.size(), g.pool_floats());
  check_size("block_tables", in.block_tables.size(), seqs * g.max_blocks);
  const int64_t capacity = g.max_blocks * g.block_tokens;
  for (int64_t s = 0; s < seqs; ++s) {
    const int64_t len = in.context_lens[s];
    if (len < 1 || len > capacity)
      fail("context_lens", "sequence " + str(s) + " has " + str(len) + ", outside [1, " + str(capacity) + "]");
    const int64_t blocks = (len + g.block_tokens - 1) / g.block_tokens;
    for (int64_t b = 0; b < blocks; ++b) {
      const int32_t id = in.block_tables[s * g.max_blocks + b];
      if (id < 0 || id >= g.num_blocks)
        fail("block_tables", "sequence " + str(s) + " entry " + str(b) + " is block " + str(id) + ", outside [0, " +
                                 str(g.num_blocks) + ")");
    }
  }
}

// Where token `pos` of sequence `seq` keeps head `kv_head` in a pool.
int64_t pool_offset(const PagedAttentionInputs& in, const PagedAttentionGeometry& g, int64_t seq, int64_t pos,
                    int64_t kv_head) {
  const int64_t block = in.block_tables[seq * g.max_blocks + pos / g.block_tokens];
  return ((block * g.block_tokens + pos % g.block_tokens) * g.kv_heads + kv_head) * g.head_dim;
}

float score(const float* q, const float* k, int64_t head_dim, float scale) {
  float dot = 0.0f;
  for (int64_t d = 0; d < head_dim; ++d) dot += q[d] * k[d];
  return dot * scale;
}

// One chunk's max score, sum of exp and own attention output (see the header).
struct Partial {
  float max = 0.0f;
  float sum = 0.0f;
  std::vector<float> out;
};

Partial attend_chunk(const PagedAttentionInputs& in, const PagedAttentionGeometry& g, int64_t seq, int64_t head,
                     int64_t begin, int64_t end, float scale) {
  const int64_t kv_head = head / (g.q_heads / g.kv_heads);
  const float* q = in.q.data() + (seq * g.q_heads + head) * g.head_dim;
  std::vector<float> scores(static_cast<size_t>(end - begin));
  for (int64_t p = begin; p < end; ++p)
    scores[p - begin] = score(q, in.k_pool.data() + pool_offset(in, g, seq, p, kv_head), g.head_dim, scale);
  Partial partial;
  partial.max = *std::max_element(scores.begin(), scores.end());
  partial.out.assign(static_cast<size_t>(g.head_dim), 0.0f);
  for (int64_t p = begin; p < end; ++p) {
    const float e = std::exp(scores[p - begin] - partial.max);
    partial.sum += e;
    const float* v = in.v_pool.data() + pool_offset(in, g, seq, p, kv_head);
    for (int64_t d = 0; d < g.head_dim; ++d) partial.out[d] += e * v[d];
  }
  for (auto& value : partial.out) value /= partial.sum;
  return partial;
}

}  // namespace

void PagedAttentionGeometry::validate() const {
  const std::pair<const char*, int64_t> fields[] = {{"q_heads", q_heads},           {"kv_heads", kv_heads},
                                                    {"head_dim", head_dim},         {"block_tokens", block_tokens},
                                                    {"num_blocks", num_blocks},     {"max_blocks", max_blocks}};
  for (const auto& [name, value] : fields)
    if (value < 1) fail(name, "must be >= 1, got " + str(value));
  if (q_heads % kv_heads != 0)
    fail("q_heads", str(q_heads) + " is not a multiple of kv_heads = " + str(kv_heads));
}

int64_t PagedAttentionGeometry::pool_floats() const { return num_blocks * block_tokens * kv_heads * head_dim; }

std::vector<float> paged_decode_attention_reference(const PagedAttentionInputs& in, const PagedAttentionGeometry& g,
                                                    float scale, int64_t split_tokens) {
  validate(in, g, scale);
  if (split_tokens < 1 || split_tokens % g.block_tokens != 0)
    fail("split_tokens", str(split_tokens) + " is not a positive multiple of block_tokens = " + str(g.block_tokens));
  const auto seqs = static_cast<int64_t>(in.context_lens.size());
  std::vector<float> out(static_cast<size_t>(seqs * g.q_heads * g.head_dim));
  std::vector<Partial> partials;
  for (int64_t s = 0; s < seqs; ++s) {
    const int64_t len = in.context_lens[s];
    for (int64_t h = 0; h < g.q_heads; ++h) {
      partials.clear();
      for (int64_t begin = 0; begin < len; begin += split_tokens)
        partials.push_back(attend_chunk(in, g, s, h, begin, std::min(begin + split_tokens, len), scale));
      float max = partials[0].max;
      for (const auto& p : partials) max = std::max(max, p.max);
      float total = 0.0f;
      float* o = out.data() + (s * g.q_heads + h) * g.head_dim;  // zero from the constructor
      for (const auto& p : partials) {
        const float w = p.sum * std::exp(p.max - max);
        total += w;
        for (int64_t d = 0; d < g.head_dim; ++d) o[d] += w * p.out[d];
      }
      for (int64_t d = 0; d < g.head_dim; ++d) o[d] /= total;
    }
  }
  return out;
}

std::vector<float> dense_decode_attention(const PagedAttentionInputs& in, const PagedAttentionGeometry& g,
                                          float scale) {
  validate(in, g, scale);
  const auto seqs = static_cast<int64_t>(in.context_lens.size());
  const int64_t group = g.q_heads / g.kv_heads;
  std::vector<float> out(static_cast<size_t>(seqs * g.q_heads * g.head_dim));
  for (int64_t s = 0; s < seqs; ++s) {
    const int64_t len = in.context_lens[s];
    for (int64_t h = 0; h < g.q_heads; ++h) {
      const float* q = in.q.data() + (s * g.q_heads + h) * g.head_dim;
      std::vector<float> probs(static_cast<size_t>(len));
      for (int64_t p = 0; p < len; ++p)
        probs[p] = score(q, in.k_pool.data() + pool_offset(in, g, s, p, h / group), g.head_dim, scale);
      const float max = *std::max_element(probs.begin(), probs.end());
      float sum = 0.0f;
      for (auto& value : probs) sum += (value = std::exp(value - max));
      for (auto& value : probs) value /= sum;
      float* o = out.data() + (s * g.q_heads + h) * g.head_dim;
      for (int64_t p = 0; p < len; ++p) {
        const float* v = in.v_pool.data() + pool_offset(in, g, s, p, h / group);
        for (int64_t d = 0; d < g.head_dim; ++d) o[d] += probs[p] * v[d];
      }
    }
  }
  return out;
}

}  // namespace r1::rollout
