// The CPU reference for rollout/cuda/paged_prefill_attention.cu (see the header): per query and
// head, one online softmax over the positions up to the query's, in position order, in fp32.
#include "rollout/paged_prefill_attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace r1::rollout {
namespace {

[[noreturn]] void refuse(const std::string& what) { throw std::invalid_argument("paged prefill attention: " + what); }

void require_size(const char* name, size_t have, int64_t want) {
  if (int64_t(have) != want)
    refuse(std::string(name) + " holds " + std::to_string(have) + " values, expected " + std::to_string(want));
}

}  // namespace

void PagedPrefillGeometry::validate() const {
  const std::pair<const char*, int64_t> fields[] = {{"q_heads", q_heads},         {"kv_heads", kv_heads},
                                                    {"key_dim", key_dim},         {"value_dim", value_dim},
                                                    {"value_stride", value_stride}, {"block_tokens", block_tokens},
                                                    {"num_blocks", num_blocks},   {"max_blocks", max_blocks}};
  for (const auto& [name, value] : fields)
    if (value < 1) refuse(std::string(name) + " = " + std::to_string(value));
  if (q_heads % kv_heads != 0)
    refuse("q_heads = " + std::to_string(q_heads) + " is not a multiple of kv_heads = " + std::to_string(kv_heads));
  if (value_dim > value_stride)
    refuse("value_dim = " + std::to_string(value_dim) + " > value_stride = " + std::to_string(value_stride));
}

std::vector<float> paged_prefill_attention_reference(const PagedPrefillInputs& in, const PagedPrefillGeometry& g,
                                                     float scale) {
  g.validate();
  if (!(scale > 0.0f) || !std::isfinite(scale)) refuse("scale = " + std::to_string(scale));
  const int64_t queries = int64_t(in.query_seqs.size());
  require_size("query_positions", in.query_positions.size(), queries);
  require_size("q", in.q.size(), queries * g.q_heads * g.key_dim);
  require_size("k_pool", in.k_pool.size(), g.num_blocks * g.block_tokens * g.kv_heads * g.key_dim);
  require_size("v_pool", in.v_pool.size(), g.num_blocks * g.block_tokens * g.kv_heads * g.value_stride);
  if (in.block_tables.size() % size_t(g.max_blocks) != 0)
    refuse("block_tables holds " + std::to_string(in.block_tables.size()) + " ids, not a multiple of max_blocks = " +
           std::to_string(g.max_blocks));
  const int64_t seqs = int64_t(in.block_tables.size()) / g.max_blocks;
  const int64_t group = g.q_heads / g.kv_heads;

  std::vector<float> out(size_t(queries * g.q_heads * g.value_dim));
  std::vector<float> acc(size_t(g.value_dim));
  for (int64_t i = 0; i < queries; ++i) {
    const int64_t seq = in.query_seqs[size_t(i)], pos = in.query_positions[size_t(i)];
    const std::string which = "query " + std::to_string(i) + ": ";
    if (seq < 0 || seq >= seqs) refuse(which + "sequence " + std::to_string(seq) + " outside [0, " + std::to_string(seqs) + ")");
    if (pos < 0 || pos >= g.max_blocks * g.block_tokens)
      refuse(which + "position " + std::to_string(pos) + " outside [0, max_blocks * block_tokens = " +
             std::to_string(g.max_blocks * g.block_tokens) + ")");
    const int32_t* table = in.block_tables.data() + seq * g.max_blocks;
    for (int64_t b = 0; b <= pos / g.block_tokens; ++b)
      if (table[b] < 0 || table[b] >= g.num_blocks)
        refuse(which + "block " + std::to_string(table[b]) + " (table entry " + std::to_string(b) + ") outside [0, " +
               std::to_string(g.num_blocks) + ")");
    for (int64_t h = 0; h < g.q_heads; ++h) {
      const int64_t kv_head = h / group;
      const float* q = in.q.data() + (i * g.q_heads + h) * g.key_dim;
      float m = -INFINITY, l = 0.0f;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t t = 0; t <= pos; ++t) {
        const int64_t slot = int64_t(table[t / g.block_tokens]) * g.block_tokens + t % g.block_tokens;
        const float* k = in.k_pool.data() + (slot * g.kv_heads + kv_head) * g.key_dim;
        const float* v = in.v_pool.data() + (slot * g.kv_heads + kv_head) * g.value_stride;
        float dot = 0.0f;
        for (int64_t d = 0; d < g.key_dim; ++d) dot += q[d] * k[d];
        const float s = dot * scale;
        const float m_new = std::fmax(m, s);
        const float rescale = std::exp(m - m_new), p = std::exp(s - m_new);
        l = l * rescale + p;
        for (int64_t d = 0; d < g.value_dim; ++d) acc[size_t(d)] = acc[size_t(d)] * rescale + p * v[d];
        m = m_new;
      }
      float* o = out.data() + (i * g.q_heads + h) * g.value_dim;
      for (int64_t d = 0; d < g.value_dim; ++d) o[d] = acc[size_t(d)] / l;
    }
  }
  return out;
}

}  // namespace r1::rollout
