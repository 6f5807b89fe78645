// ReferenceRunner: the policy decomposed into the CUDA kernels' references (see the header).
#include "rollout/reference_runner.h"

#include <cmath>
#include <map>

#include "common/error.h"
#include "rollout/bf16.h"
#include "rollout/expert_ffn.h"
#include "rollout/fused_sampling.h"
#include "rollout/model_tensors.h"
#include "rollout/paged_prefill_attention.h"
#include "rollout/rmsnorm_reference.h"
#include "rollout/rotary.h"

namespace r1::rollout {

namespace {

using Linear = ReferenceRunner::Linear;
using Mlp = ReferenceRunner::Mlp;

// The weights as the runner keeps them: fp32, or rounded to bf16.
std::vector<float> host_weights(const torch::Tensor& t, bool bf16) {
  auto values = host_floats(t);
  if (bf16) bf16_round_in_place(values);
  return values;
}

// Per-expert weights stacked [E][out][in].
std::vector<float> host_weights(const std::vector<torch::Tensor>& experts, bool bf16) {
  std::vector<float> stacked;
  for (const auto& t : experts) {
    const auto values = host_weights(t, bf16);
    stacked.insert(stacked.end(), values.begin(), values.end());
  }
  return stacked;
}

Linear host_linear(const LinearTensors& t, bool bf16) {
  Linear l;
  if (!t.present()) return l;
  l.out = t.weight.size(0);
  l.in = t.weight.size(1);
  l.weight = host_weights(t.weight, bf16);
  l.bias = host_floats(t.bias);
  l.bf16 = bf16;
  return l;
}

Mlp host_mlp(const MlpTensors& t, bool bf16) {
  return {host_linear(t.gate, bf16), host_linear(t.up, bf16), host_linear(t.down, bf16)};
}

// x, or x rounded to bf16 when the GEMM reading it has bf16 weights (as cuda_runner.cpp).
std::vector<float> gemm_input(const std::vector<float>& x, bool bf16) {
  if (!bf16) return x;
  auto rounded = x;
  bf16_round_in_place(rounded);
  return rounded;
}

// y = x W^T + b over `rows` rows, fp32 sums in input order (cuBLAS on the GPU).
std::vector<float> apply(const Linear& l, const std::vector<float>& input, int64_t rows) {
  R1_ASSERT(l.in > 0 && int64_t(input.size()) == rows * l.in, "ReferenceRunner: linear [", l.out, " x ", l.in,
            "] given ", input.size(), " floats for ", rows, " rows");
  const auto x = gemm_input(input, l.bf16);
  std::vector<float> y(size_t(rows * l.out));
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * l.in;
    for (int64_t o = 0; o < l.out; ++o) {
      const float* w = l.weight.data() + o * l.in;
      float sum = 0.0f;
      for (int64_t k = 0; k < l.in; ++k) sum += xr[k] * w[k];
      y[size_t(r * l.out + o)] = l.bias.empty() ? sum : sum + l.bias[size_t(o)];
    }
  }
  return y;
}

// Rows of `cols` floats, normalised in place.
void rmsnorm_rows(std::vector<float>& x, const std::vector<float>& weight, int64_t cols, double eps) {
  const int64_t rows = int64_t(x.size()) / cols;
  kernels::rmsnorm_reference({x.data(), x.data(), weight.data(), rows, cols, static_cast<float>(eps)});
}

std::vector<float> rmsnormed(std::vector<float> x, const std::vector<float>& weight, int64_t cols, double eps) {
  rmsnorm_rows(x, weight, cols, eps);
  return x;
}

float silu(float g) { return g / (1.0f + std::exp(-g)); }

std::vector<float> apply(const Mlp& mlp, const std::vector<float>& x, int64_t rows) {
  auto gate = apply(mlp.gate, x, rows);
  const auto up = apply(mlp.up, x, rows);
  for (size_t i = 0; i < gate.size(); ++i) gate[i] = silu(gate[i]) * up[i];
  return apply(mlp.down, gate, rows);
}

void add_into(std::vector<float>& x, const std::vector<float>& y) {
  R1_ASSERT(x.size() == y.size(), "ReferenceRunner: residual of ", x.size(), " + ", y.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
}

// Rows `slots[t]` of `pool` (row_floats each) = rows t of `rows`, rounded to bf16 for a bf16 pool.
void write_slots(std::vector<float>& pool, const std::vector<float>& rows, const std::vector<int64_t>& slots,
                 int64_t row_floats, bool bf16) {
  for (size_t t = 0; t < slots.size(); ++t) {
    R1_ASSERT(slots[t] >= 0 && (slots[t] + 1) * row_floats <= int64_t(pool.size()), "ReferenceRunner: slot ",
              slots[t], " outside the pool");
    std::copy_n(rows.data() + int64_t(t) * row_floats, row_floats, pool.data() + slots[t] * row_floats);
    if (bf16)
      for (int64_t i = 0; i < row_floats; ++i) pool[size_t(slots[t] * row_floats + i)] = bf16_round(pool[size_t(slots[t] * row_floats + i)]);
  }
}

}  // namespace

ReferenceRunner::ReferenceRunner(policy::CausalLM model, ReferenceRunnerOptions options)
    : PolicyRunner(std::move(model)), options_(options), rope_(rotary_tables(config())) {
  R1_CHECK(options_.cache_bytes > 0, "ReferenceRunner: cache_bytes must be > 0, got ", options_.cache_bytes);
  refresh_weights();
}

void ReferenceRunner::refresh_weights() {
  const auto t = model_tensors(model_);
  const bool bf16 = options_.bf16_weights;
  embed_ = host_weights(t.embed, bf16);
  final_norm_ = host_floats(t.final_norm);
  lm_head_ = host_linear({t.lm_head, {}}, bf16);
  scale_ = static_cast<float>(t.attention_scale);
  layers_.clear();
  for (const auto& l : t.layers) {
    Layer layer;
    layer.input_norm = host_floats(l.input_norm);
    layer.post_norm = host_floats(l.post_norm);
    layer.q = host_linear(l.q, bf16);
    layer.k = host_linear(l.k, bf16);
    layer.v = host_linear(l.v, bf16);
    layer.o = host_linear(l.o, bf16);
    layer.q_norm = host_floats(l.q_norm);
    layer.k_norm = host_floats(l.k_norm);
    layer.q_a = host_linear(l.q_a, bf16);
    layer.q_b = host_linear(l.q_b, bf16);
    layer.kv_a = host_linear(l.kv_a, bf16);
    layer.kv_b = host_linear(l.kv_b, bf16);
    layer.q_a_norm = host_floats(l.q_a_norm);
    layer.kv_a_norm = host_floats(l.kv_a_norm);
    layer.moe = l.moe;
    if (l.moe) {
      layer.router = host_linear({l.router, {}}, /*bf16=*/false);  // the learner's choice: fp32
      layer.routing = router_config(config(), host_floats(l.correction_bias));
      layer.w_gate = host_weights(l.w_gate, bf16);
      layer.w_up = host_weights(l.w_up, bf16);
      layer.w_down = host_weights(l.w_down, bf16);
      layer.has_shared = l.has_shared;
      if (l.has_shared) {
        layer.shared = host_mlp(l.shared, bf16);
        layer.shared_gate = host_linear(l.shared_gate, bf16);
      }
    } else {
      layer.mlp = host_mlp(l.mlp, bf16);
    }
    layers_.push_back(std::move(layer));
  }
}

KvCacheGeometry ReferenceRunner::kv_geometry(int64_t block_tokens) const {
  return model_kv_geometry(config(), block_tokens, int64_t(sizeof(float)));
}

void ReferenceRunner::allocate_cache(int64_t num_blocks, int64_t block_tokens) {
  R1_CHECK(num_blocks >= 1 && block_tokens >= 1, "ReferenceRunner: allocate_cache(", num_blocks, ", ", block_tokens, ")");
  const auto geometry = kv_geometry(block_tokens);
  const auto floats = size_t(num_blocks * block_tokens * geometry.kv_heads * geometry.head_dim);
  block_tokens_ = block_tokens;
  num_blocks_ = num_blocks;
  k_pool_.assign(size_t(geometry.layers), std::vector<float>(floats, 0.0f));
  v_pool_.assign(geometry.shared_kv ? 0 : size_t(geometry.layers), std::vector<float>(floats, 0.0f));
}

void ReferenceRunner::copy_blocks(const std::vector<BlockCopy>& copies) {
  const auto geometry = kv_geometry(block_tokens_);
  const int64_t row = geometry.kv_heads * geometry.head_dim;
  for (const auto& copy : copies) {
    for (auto* pools : {&k_pool_, &v_pool_})
      for (auto& pool : *pools)
        std::copy_n(pool.data() + int64_t(copy.src) * block_tokens_ * row, copy.tokens * row,
                    pool.data() + int64_t(copy.dst) * block_tokens_ * row);
  }
}

std::vector<float> ReferenceRunner::attention(int64_t index, const std::vector<float>& x, const StepInputs& in,
                                              const std::vector<int32_t>& query_seqs) {
  return config().is_mla() ? mla_attention(index, x, in, query_seqs) : gqa_attention(index, x, in, query_seqs);
}

std::vector<float> ReferenceRunner::gqa_attention(int64_t index, const std::vector<float>& x, const StepInputs& in,
                                                  const std::vector<int32_t>& query_seqs) {
  const auto& c = config();
  const Layer& layer = layers_[size_t(index)];
  const int64_t n = int64_t(in.tokens.size()), heads = c.num_heads, kv_heads = c.num_kv_heads, d = c.head_dim;
  auto q = apply(layer.q, x, n);  // [n][heads][d]
  auto k = apply(layer.k, x, n);  // [n][kv_heads][d]
  const auto v = apply(layer.v, x, n);
  if (!layer.q_norm.empty()) {  // Qwen3: per-head RMSNorm before the rotation
    rmsnorm_rows(q, layer.q_norm, d, c.rms_norm_eps);
    rmsnorm_rows(k, layer.k_norm, d, c.rms_norm_eps);
  }
  RotaryLayout q_layout{heads, d, heads * d, d};
  RotaryLayout k_layout{kv_heads, d, kv_heads * d, d};
  apply_rotary_reference(q, in.positions, rope_.cos, rope_.sin, rope_.max_position, q_layout);
  apply_rotary_reference(k, in.positions, rope_.cos, rope_.sin, rope_.max_position, k_layout);
  write_slots(k_pool_[size_t(index)], k, in.slots, kv_heads * d, options_.bf16_kv);
  write_slots(v_pool_[size_t(index)], v, in.slots, kv_heads * d, options_.bf16_kv);

  PagedPrefillGeometry geometry{heads, kv_heads, d, d, d, block_tokens_, num_blocks_, in.max_blocks};
  const auto out = paged_prefill_attention_reference(
      {q, k_pool_[size_t(index)], v_pool_[size_t(index)], in.block_tables, query_seqs, in.positions}, geometry,
      scale_);
  return apply(layer.o, out, n);
}

// Absorbed MLA: the pool row of a token is [normalised latent | rotated k_pe]; head h's query is
// [q_nope_h W_uk_h | q_pe_h], and the latent average it gets back is lifted by W_uv_h.
std::vector<float> ReferenceRunner::mla_attention(int64_t index, const std::vector<float>& x, const StepInputs& in,
                                                  const std::vector<int32_t>& query_seqs) {
  const auto& c = config();
  const Layer& layer = layers_[size_t(index)];
  const int64_t n = int64_t(in.tokens.size()), heads = c.num_heads;
  const int64_t nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim, rank = c.kv_lora_rank, vdim = c.v_head_dim;
  const int64_t qk = nope + rope, row = rank + rope;

  auto q = layer.q_a.out > 0 ? apply(layer.q_b, rmsnormed(apply(layer.q_a, x, n), layer.q_a_norm, layer.q_a.out, 1e-6), n)
                             : apply(layer.q, x, n);  // [n][heads][qk]
  auto compressed = apply(layer.kv_a, x, n);           // [n][rank + rope]
  for (int64_t t = 0; t < n; ++t) {  // the latent part of each row, normalised in place
    float* latent = compressed.data() + t * row;
    kernels::rmsnorm_reference({latent, latent, layer.kv_a_norm.data(), 1, rank, 1e-6f});
  }
  const RotaryLayout q_pe_layout{heads, rope, heads * qk, qk, c.rope_interleave, nope};
  const RotaryLayout k_pe_layout{1, rope, row, rope, c.rope_interleave, rank};
  apply_rotary_reference(q, in.positions, rope_.cos, rope_.sin, rope_.max_position, q_pe_layout);
  apply_rotary_reference(compressed, in.positions, rope_.cos, rope_.sin, rope_.max_position, k_pe_layout);
  write_slots(k_pool_[size_t(index)], compressed, in.slots, row, options_.bf16_kv);

  // kv_b_proj's weight is [heads][nope + vdim][rank]: W_uk_h its first nope rows, W_uv_h the rest.
  const float* w = layer.kv_b.weight.data();
  const auto q_in = gemm_input(q, layer.kv_b.bf16);  // the absorb GEMM reads q rounded (bf16 weights)
  std::vector<float> query(size_t(n * heads * row));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      const float* qh = q_in.data() + (t * heads + h) * qk;
      const float* q_pe = q.data() + (t * heads + h) * qk + nope;  // copied as is
      float* out = query.data() + (t * heads + h) * row;
      for (int64_t r = 0; r < rank; ++r) {
        float sum = 0.0f;
        for (int64_t j = 0; j < nope; ++j) sum += qh[j] * w[(h * (nope + vdim) + j) * rank + r];
        out[r] = sum;
      }
      std::copy_n(q_pe, rope, out + rank);
    }
  PagedPrefillGeometry geometry{heads, 1, row, rank, row, block_tokens_, num_blocks_, in.max_blocks};
  const auto& pool = k_pool_[size_t(index)];
  const auto latent_avg = gemm_input(
      paged_prefill_attention_reference({query, pool, pool, in.block_tables, query_seqs, in.positions}, geometry, scale_),
      layer.kv_b.bf16);
  std::vector<float> lifted(size_t(n * heads * vdim));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      const float* a = latent_avg.data() + (t * heads + h) * rank;
      for (int64_t i = 0; i < vdim; ++i) {
        const float* w_uv = w + (h * (nope + vdim) + nope + i) * rank;
        float sum = 0.0f;
        for (int64_t r = 0; r < rank; ++r) sum += a[r] * w_uv[r];
        lifted[size_t((t * heads + h) * vdim + i)] = sum;
      }
    }
  return apply(layer.o, lifted, n);
}

std::vector<float> ReferenceRunner::feed_forward(const Layer& layer, const std::vector<float>& x, int64_t tokens,
                                                 std::vector<int32_t>* chosen) {
  if (!layer.moe) return apply(layer.mlp, x, tokens);
  const auto& c = config();
  const int64_t hidden = c.hidden_size;
  const auto routing = route(layer.routing, apply(layer.router, x, tokens), tokens);
  // Tile 1: the references need no padding; the kernels' tile changes only where rows sit.
  const auto permutation = permute(routing, c.num_experts, 1);
  const ExpertFfnShape shape{c.num_experts, hidden, c.expert_intermediate_size};
  const auto h = expert_swiglu_reference(permutation, x, layer.w_gate, layer.w_up, shape);
  auto out = combine(permutation, routing, expert_down_reference(permutation, h, layer.w_down, shape), hidden);
  if (layer.has_shared) {
    auto shared = apply(layer.shared, x, tokens);
    if (layer.shared_gate.out > 0) {  // Qwen2-MoE: sigmoid(x . w) scales the shared expert per token
      const auto gate = apply(layer.shared_gate, x, tokens);
      for (int64_t t = 0; t < tokens; ++t) {
        const float g = 1.0f / (1.0f + std::exp(-gate[size_t(t)]));
        for (int64_t i = 0; i < hidden; ++i) shared[size_t(t * hidden + i)] *= g;
      }
    }
    add_into(out, shared);
  }
  if (chosen) *chosen = routing.expert_ids;
  return out;
}

StepOutputs ReferenceRunner::step(const StepInputs& in) {
  R1_ASSERT(!k_pool_.empty(), "ReferenceRunner::step before allocate_cache");
  const auto& c = config();
  const int64_t n = int64_t(in.tokens.size()), hidden = c.hidden_size;
  R1_ASSERT(int64_t(in.positions.size()) == n && int64_t(in.slots.size()) == n, "ReferenceRunner: ", n,
            " tokens but ", in.positions.size(), " positions and ", in.slots.size(), " slots");
  std::vector<int32_t> query_seqs(size_t(n), -1);
  for (const auto& seq : in.sequences)
    for (int64_t t = 0; t < seq.length; ++t) query_seqs[size_t(seq.begin + t)] = int32_t(seq.table);

  std::vector<float> x(size_t(n * hidden));
  for (int64_t t = 0; t < n; ++t) {
    const int32_t id = in.tokens[size_t(t)];
    R1_ASSERT(id >= 0 && id < c.vocab_size, "ReferenceRunner: token id ", id, " outside the vocabulary");
    std::copy_n(embed_.data() + int64_t(id) * hidden, hidden, x.data() + t * hidden);
  }
  std::vector<std::vector<int32_t>> chosen;  // per MoE layer, [n][top_k]
  for (int64_t l = 0; l < int64_t(layers_.size()); ++l) {
    const Layer& layer = layers_[size_t(l)];
    add_into(x, attention(l, rmsnormed(x, layer.input_norm, hidden, c.rms_norm_eps), in, query_seqs));
    std::vector<int32_t> routed;
    add_into(x, feed_forward(layer, rmsnormed(x, layer.post_norm, hidden, c.rms_norm_eps), n,
                             in.record_experts && layer.moe ? &routed : nullptr));
    if (layer.moe && in.record_experts) chosen.push_back(std::move(routed));
  }
  rmsnorm_rows(x, final_norm_, hidden, c.rms_norm_eps);

  StepOutputs out;
  if (in.record_experts && !chosen.empty()) {  // [n][moe layers][top_k]
    const int64_t k = c.num_experts_per_token;
    out.routed_experts.reserve(size_t(n) * chosen.size() * size_t(k));
    for (int64_t t = 0; t < n; ++t)
      for (const auto& layer : chosen)
        out.routed_experts.insert(out.routed_experts.end(), layer.begin() + t * k, layer.begin() + (t + 1) * k);
  }
  if (in.draws.empty()) return out;
  std::vector<float> drawn_hidden;
  std::vector<FusedSamplingParams> params;
  for (const auto& draw : in.draws) {
    R1_ASSERT(draw.token >= 0 && draw.token < n, "ReferenceRunner: draw of token ", draw.token, " of ", n);
    drawn_hidden.insert(drawn_hidden.end(), x.begin() + draw.token * hidden, x.begin() + (draw.token + 1) * hidden);
    params.push_back(draw.params);
  }
  const int64_t draws = int64_t(in.draws.size());
  out.samples = sample_reference(apply(lm_head_, drawn_hidden, draws), draws, c.vocab_size, params);
  return out;
}

}  // namespace r1::rollout
