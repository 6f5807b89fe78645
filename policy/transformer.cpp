// The decoder-only transformer's forward passes (see transformer.h for what each module is).
#include "policy/transformer.h"

#include <cmath>

#include "common/error.h"
#include "policy/activation_checkpoint.h"

namespace r1::policy {

namespace F = torch::nn::functional;

namespace {
torch::nn::Linear linear(int64_t in, int64_t out, bool bias = false) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}
}  // namespace

void KVCache::select_rows(const torch::Tensor& row_index) {
  for (auto& k : keys) k = k.index_select(0, row_index);
  for (auto& v : values) v = v.index_select(0, row_index);
  valid = valid.index_select(0, row_index);
}

// ---- RMSNorm: computed in fp32 whatever the activation dtype, as the HF reference does.
RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  auto x32 = x.to(torch::kFloat32);
  auto normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * normed.to(x.scalar_type());
}

// ---- RoPE
namespace {
// YaRN's attention-temperature correction (transformers' get_mscale).
double yarn_get_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}
}  // namespace

RotaryEmbedding::RotaryEmbedding(const ModelConfig& c) : max_position_(c.max_position) {
  const int64_t dim = c.rope_dim();
  if (!c.hf_float_order) {  // r1_moe: float64 angles, cast to float32 after cos/sin
    inv_freq_ = 1.0 / torch::pow(c.rope_theta, torch::arange(0, dim, 2, torch::kFloat64) / double(dim));
    return;
  }
  // As transformers: base ** (arange(0, dim, 2) / dim) in float32.
  const double base = c.rope_theta;
  auto exponents = torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / double(dim);
  auto pos_freqs = torch::pow(base, exponents);
  inv_freq_ = 1.0 / pos_freqs;
  const auto& rs = c.rope;
  if (rs.type == "linear") {
    inv_freq_ = inv_freq_ / rs.factor;
  } else if (rs.type == "yarn") {
    const double factor = rs.factor;
    const int64_t original = rs.original_max_position > 0 ? rs.original_max_position : c.max_position;
    if (rs.attention_factor > 0) attention_factor_ = rs.attention_factor;
    else if (rs.mscale != 0.0 && rs.mscale_all_dim != 0.0)
      attention_factor_ = yarn_get_mscale(factor, rs.mscale) / yarn_get_mscale(factor, rs.mscale_all_dim);
    else attention_factor_ = yarn_get_mscale(factor, 1.0);
    // Dims rotating fewer than beta_slow times over the original context are interpolated, those
    // rotating more than beta_fast times extrapolated, with a linear ramp between.
    auto correction_dim = [&](double rotations) {
      return (double(dim) * std::log(double(original) / (rotations * 2 * M_PI))) / (2 * std::log(base));
    };
    double low = correction_dim(rs.beta_fast), high = correction_dim(rs.beta_slow);
    if (rs.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(dim - 1));
    if (low == high) high += 0.001;  // as transformers: no division by zero
    auto ramp = ((torch::arange(dim / 2, torch::kFloat32) - low) / (high - low)).clamp(0, 1);
    auto extrapolation_factor = 1 - ramp;
    auto inv_freq_extrapolation = 1.0 / pos_freqs;
    auto inv_freq_interpolation = 1.0 / (factor * pos_freqs);
    inv_freq_ = inv_freq_interpolation * (1 - extrapolation_factor) + inv_freq_extrapolation * extrapolation_factor;
  }
}

RotaryEmbedding::Angles RotaryEmbedding::angles(const torch::Tensor& positions, torch::ScalarType dtype) const {
  R1_ASSERT(positions.numel() == 0 || positions.max().item<int64_t>() < max_position_, "position past max_position");
  auto inv_freq = inv_freq_.to(positions.device());
  auto freqs = positions.to(inv_freq.scalar_type()).unsqueeze(-1) * inv_freq;  // [b, s, dim/2]
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);                      // rotate-half layout
  auto cos = emb.cos(), sin = emb.sin();
  if (inv_freq.scalar_type() == torch::kFloat64) {
    cos = cos.to(torch::kFloat32);
    sin = sin.to(torch::kFloat32);
  }
  if (attention_factor_ != 1.0) {
    cos = cos * attention_factor_;
    sin = sin * attention_factor_;
  }
  return {cos.to(dtype), sin.to(dtype)};
}

torch::Tensor RotaryEmbedding::apply(const torch::Tensor& x, const Angles& angles) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, -1);
  return x * angles.cos + rotated * angles.sin;
}

// ---- Attention core, shared by GQA and MLA
torch::Tensor causal_attention(const torch::Tensor& q, torch::Tensor k, torch::Tensor v, KVCache* cache,
                               int64_t layer_index, double scale, bool divide) {
  const int64_t seq = q.size(2);
  // Query i sits at slot start+i; it may see slot j <= start+i that holds a real token, and always
  // itself (so a padding query never has an empty softmax).
  int64_t start = 0;
  torch::Tensor key_valid;  // [batch, keys] or undefined (all valid)
  if (cache) {
    start = cache->length;
    R1_ASSERT(start + seq <= cache->capacity(), "KV cache overflow: ", start + seq, " > ", cache->capacity());
    cache->keys[layer_index].narrow(2, start, seq).copy_(k);
    cache->values[layer_index].narrow(2, start, seq).copy_(v);
    k = cache->keys[layer_index].narrow(2, 0, start + seq);
    v = cache->values[layer_index].narrow(2, 0, start + seq);
    key_valid = cache->valid.narrow(1, 0, start + seq);
  }
  const int64_t num_keys = start + seq;
  auto query_slot = torch::arange(start, start + seq, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  auto key_slot = torch::arange(num_keys, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  auto allowed = key_slot.unsqueeze(0) <= query_slot.unsqueeze(1);  // [seq, keys] causal
  torch::Tensor mask = allowed.unsqueeze(0).unsqueeze(0);             // [1,1,seq,keys]
  if (key_valid.defined()) {
    auto self = key_slot.unsqueeze(0) == query_slot.unsqueeze(1);
    mask = (allowed.unsqueeze(0) & key_valid.unsqueeze(1)) | self.unsqueeze(0);  // [b,seq,keys]
    mask = mask.unsqueeze(1);
  }

  return masked_attention(q, k, v, mask, scale, divide);
}

torch::Tensor masked_attention(const torch::Tensor& q, torch::Tensor k, torch::Tensor v, const torch::Tensor& mask,
                               double scale, bool divide) {
  const int64_t batch = q.size(0), num_heads = q.size(1), seq = q.size(2);
  // Grouped-query attention: each K/V head serves num_heads/num_kv_heads query heads.
  const int64_t group = num_heads / k.size(1);
  if (group > 1) {
    k = k.repeat_interleave(group, 1);
    v = v.repeat_interleave(group, 1);
  }
  auto scores = divide ? torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat32) / scale
                       : (torch::matmul(q, k.transpose(-2, -1)) * scale).to(torch::kFloat32);
  scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
  auto probs = torch::softmax(scores, -1).to(q.scalar_type());
  return torch::matmul(probs, v).transpose(1, 2).reshape({batch, seq, num_heads * v.size(-1)});
}

// ---- Grouped-query attention
AttentionImpl::AttentionImpl(const ModelConfig& c, int64_t layer_index)
    : num_heads_(c.num_heads), num_kv_heads_(c.num_kv_heads), head_dim_(c.head_dim), layer_index_(layer_index),
      divide_(!c.hf_float_order && c.attention_scale <= 0) {
  scale_ = divide_ ? std::sqrt(double(c.head_dim))
                   : (c.attention_scale > 0 ? c.attention_scale : 1.0 / std::sqrt(double(c.head_dim)));
  q_proj = register_module("q_proj", linear(c.hidden_size, c.num_heads * c.head_dim, c.qkv_bias));
  k_proj = register_module("k_proj", linear(c.hidden_size, c.num_kv_heads * c.head_dim, c.qkv_bias));
  v_proj = register_module("v_proj", linear(c.hidden_size, c.num_kv_heads * c.head_dim, c.qkv_bias));
  o_proj = register_module("o_proj", linear(c.num_heads * c.head_dim, c.hidden_size, c.o_bias));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(c.head_dim, c.rms_norm_eps));
    k_norm = register_module("k_norm", RMSNorm(c.head_dim, c.rms_norm_eps));
  }
}

AttentionImpl::Projected AttentionImpl::project(const torch::Tensor& x, const RotaryEmbedding::Angles& angles) {
  const int64_t batch = x.size(0), seq = x.size(1);
  auto q = q_proj(x).view({batch, seq, num_heads_, head_dim_});
  auto k = k_proj(x).view({batch, seq, num_kv_heads_, head_dim_});
  auto v = v_proj(x).view({batch, seq, num_kv_heads_, head_dim_}).transpose(1, 2);
  if (q_norm) {  // Qwen3: normalise each head's q and k before the rotation
    q = q_norm(q);
    k = k_norm(k);
  }
  return {RotaryEmbedding::apply(q.transpose(1, 2), angles), RotaryEmbedding::apply(k.transpose(1, 2), angles), v};
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const RotaryEmbedding::Angles& angles, KVCache* cache) {
  auto p = project(x, angles);
  return o_proj(causal_attention(p.q, p.k, p.v, cache, layer_index_, scale_, divide_));
}

// ---- Multi-head latent attention
MlaAttentionImpl::MlaAttentionImpl(const ModelConfig& c, int64_t layer_index)
    : num_heads_(c.num_heads), nope_dim_(c.qk_nope_head_dim), rope_dim_(c.qk_rope_head_dim), v_dim_(c.v_head_dim),
      kv_lora_rank_(c.kv_lora_rank), layer_index_(layer_index), interleave_(c.rope_interleave),
      scale_(c.attention_scale > 0 ? c.attention_scale : 1.0 / std::sqrt(double(c.key_dim()))) {
  const int64_t qk_dim = nope_dim_ + rope_dim_;
  // The low-rank norms use RMSNorm's default eps (1e-6), not rms_norm_eps, as transformers does.
  if (c.q_lora_rank > 0) {
    q_a_proj = register_module("q_a_proj", linear(c.hidden_size, c.q_lora_rank, c.mla_bias));
    q_a_layernorm = register_module("q_a_layernorm", RMSNorm(c.q_lora_rank, 1e-6));
    q_b_proj = register_module("q_b_proj", linear(c.q_lora_rank, c.num_heads * qk_dim));
  } else {
    q_proj = register_module("q_proj", linear(c.hidden_size, c.num_heads * qk_dim));
  }
  kv_a_proj_with_mqa = register_module("kv_a_proj_with_mqa", linear(c.hidden_size, kv_lora_rank_ + rope_dim_, c.mla_bias));
  kv_a_layernorm = register_module("kv_a_layernorm", RMSNorm(kv_lora_rank_, 1e-6));
  kv_b_proj = register_module("kv_b_proj", linear(kv_lora_rank_, c.num_heads * (nope_dim_ + v_dim_)));
  o_proj = register_module("o_proj", linear(c.num_heads * v_dim_, c.hidden_size, c.mla_bias));
}

MlaAttentionImpl::Projected MlaAttentionImpl::project(const torch::Tensor& x, const RotaryEmbedding::Angles& angles) {
  const int64_t batch = x.size(0), seq = x.size(1);
  auto q = q_proj ? q_proj(x) : q_b_proj(q_a_layernorm(q_a_proj(x)));
  q = q.view({batch, seq, num_heads_, nope_dim_ + rope_dim_}).transpose(1, 2);
  auto q_nope = q.narrow(-1, 0, nope_dim_);
  auto q_pe = q.narrow(-1, nope_dim_, rope_dim_);
  auto compressed = kv_a_proj_with_mqa(x);
  auto latent = kv_a_layernorm(compressed.narrow(-1, 0, kv_lora_rank_));
  auto k_pe = compressed.narrow(-1, kv_lora_rank_, rope_dim_).view({batch, 1, seq, rope_dim_});
  if (interleave_) {
    // Checkpoints order the RoPE dims as (even, odd) pairs; regroup them into halves so the
    // rotate-half form applies. q and k are permuted alike, so q.k is unchanged.
    auto deinterleave = [&](const torch::Tensor& t) {
      auto sizes = t.sizes().vec();
      auto pairs = sizes;
      pairs.back() = rope_dim_ / 2;
      pairs.push_back(2);
      return t.reshape(pairs).transpose(-1, -2).reshape(sizes);
    };
    q_pe = deinterleave(q_pe);
    k_pe = deinterleave(k_pe);
  }
  return {q_nope, RotaryEmbedding::apply(q_pe, angles), latent, RotaryEmbedding::apply(k_pe, angles).squeeze(1)};
}

torch::Tensor MlaAttentionImpl::forward(const torch::Tensor& x, const RotaryEmbedding::Angles& angles,
                                        KVCache* cache) {
  const int64_t batch = x.size(0), seq = x.size(1);
  auto p = project(x, angles);
  auto kv = kv_b_proj(p.latent).view({batch, seq, num_heads_, nope_dim_ + v_dim_}).transpose(1, 2);
  auto k_nope = kv.narrow(-1, 0, nope_dim_);
  auto v = kv.narrow(-1, nope_dim_, v_dim_);
  auto k_pe = p.k_pe.unsqueeze(1).expand({batch, num_heads_, seq, rope_dim_});
  auto query = torch::cat({p.q_nope, p.q_pe}, -1);
  auto key = torch::cat({k_nope, k_pe}, -1);
  return o_proj(causal_attention(query, key, v.contiguous(), cache, layer_index_, scale_));
}

// ---- SwiGLU MLP
MlpImpl::MlpImpl(int64_t hidden, int64_t intermediate, const std::array<std::string, 3>& names) {
  gate_proj = register_module(names[0], linear(hidden, intermediate));
  up_proj = register_module(names[1], linear(hidden, intermediate));
  down_proj = register_module(names[2], linear(intermediate, hidden));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return down_proj(F::silu(gate_proj(x)) * up_proj(x));
}

// ---- Router
RouterImpl::RouterImpl(const ModelConfig& c) {
  weight = register_parameter("weight", torch::empty({c.num_experts, c.hidden_size}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));  // as nn.Linear, which it replaces
  if (c.router_correction_bias)
    e_score_correction_bias = register_buffer("e_score_correction_bias", torch::zeros({c.num_experts}));
}

// ---- MoE
MoeImpl::MoeImpl(const ModelConfig& c) : config_(c) {
  gate = register_module("gate", Router(c));
  experts = register_module("experts", torch::nn::ModuleList());
  for (int64_t e = 0; e < c.num_experts; ++e)
    experts->push_back(Mlp(c.hidden_size, c.expert_intermediate_size, c.expert_proj));
  if (c.shared_intermediate() > 0)
    shared_experts = register_module(c.shared_expert_module, Mlp(c.hidden_size, c.shared_intermediate()));
  if (c.shared_expert_intermediate_size > 0)
    shared_expert_gate = register_module("shared_expert_gate", linear(c.hidden_size, 1));
}

std::pair<torch::Tensor, torch::Tensor> MoeImpl::route(const torch::Tensor& x, torch::Tensor* router_probs) {
  const auto& c = config_;
  // Router in fp32: RL compares probabilities across implementations, so routing must not depend
  // on the activation dtype. DeepSeek also computes the logits from fp32 inputs, as transformers.
  auto logits = c.router_fp32_linear ? F::linear(x.to(torch::kFloat32), gate->weight.to(torch::kFloat32))
                                     : F::linear(x, gate->weight).to(torch::kFloat32);
  auto scores = c.router_score == "sigmoid" ? logits.sigmoid() : torch::softmax(logits, -1);  // [tokens, E]
  if (router_probs) *router_probs = c.router_score == "sigmoid" ? scores / scores.sum(-1, true) : scores;
  torch::Tensor topk_index, topk_weight;
  {
    torch::NoGradGuard no_grad;  // choosing is not differentiable; the weights below are
    auto choice = gate->e_score_correction_bias.defined() ? scores + gate->e_score_correction_bias.unsqueeze(0)
                                                          : scores;
    if (c.topk_method == "group_limited" && c.n_group > 1) {
      // Keep the topk_group best groups (V3: by the sum of a group's two best scores; V2: by its
      // best), then choose among their experts; the others are set to 0, as transformers does.
      const int64_t tokens = choice.size(0), per_group = c.num_experts / c.n_group;
      auto grouped = choice.view({tokens, c.n_group, per_group});
      auto group_scores = c.router_score == "sigmoid" ? std::get<0>(grouped.topk(2, -1)).sum(-1)
                                                      : std::get<0>(grouped.max(-1));
      auto group_index = std::get<1>(group_scores.topk(c.topk_group, -1));
      auto group_mask = torch::zeros_like(group_scores).scatter_(1, group_index, 1.0);
      auto expert_mask = group_mask.unsqueeze(-1).expand({tokens, c.n_group, per_group}).reshape({tokens, -1});
      choice = choice.masked_fill(expert_mask.logical_not(), 0.0);
    }
    topk_index = std::get<1>(choice.topk(c.num_experts_per_token, -1));
  }
  topk_weight = scores.gather(1, topk_index);
  if (c.norm_topk_prob) topk_weight = topk_weight / (topk_weight.sum(-1, true) + 1e-20);
  if (c.routed_scaling_factor != 1.0) topk_weight = topk_weight * c.routed_scaling_factor;
  return {topk_index, topk_weight};
}

torch::Tensor MoeImpl::forward(const torch::Tensor& x, RoutingStats* stats) {
  const int64_t num_experts = config_.num_experts, top_k = config_.num_experts_per_token;
  torch::Tensor router_probs;
  auto [topk_index, topk_weight32] = route(x, &router_probs);
  auto topk_weight = topk_weight32.to(x.scalar_type());

  // r1_moe adds the routed experts onto the shared ones; transformers adds shared after routed.
  const bool shared_first = shared_experts && !config_.hf_float_order;
  auto out = shared_first ? shared_experts->forward(x) : torch::zeros_like(x);
  auto flat_expert = topk_index.reshape(-1);                                   // [tokens*k]
  auto flat_token = torch::arange(x.size(0), topk_index.options()).repeat_interleave(top_k);
  auto flat_weight = topk_weight.reshape(-1);
  // Group the routed slots by expert once, then run each expert on its tokens only.
  auto order = flat_expert.argsort();
  auto counts = torch::bincount(flat_expert, /*weights=*/{}, num_experts);
  auto sorted_token = flat_token.index_select(0, order);
  auto sorted_weight = flat_weight.index_select(0, order);
  const auto counts_host = counts.to(torch::kCPU);  // the loop below runs on the host
  const auto* count = counts_host.data_ptr<int64_t>();
  int64_t offset = 0;
  for (int64_t expert_idx = 0; expert_idx < num_experts; ++expert_idx) {
    const int64_t n = count[expert_idx];
    if (n == 0) continue;
    auto tokens = sorted_token.narrow(0, offset, n);
    auto expert_out = experts[expert_idx]->as<Mlp>()->forward(x.index_select(0, tokens));
    out = out.index_add(0, tokens, expert_out * sorted_weight.narrow(0, offset, n).unsqueeze(1));
    offset += n;
  }
  if (shared_experts && !shared_first) {
    auto shared = shared_experts->forward(x);
    if (shared_expert_gate) shared = torch::sigmoid(shared_expert_gate(x)) * shared;  // Qwen2-MoE
    out = out + shared;
  }
  if (stats) {
    auto routed_share = counts.to(torch::kFloat32) / double(flat_expert.size(0));  // f_e
    auto mean_prob = router_probs.mean(0);                                          // P_e
    stats->aux_loss = stats->aux_loss + double(num_experts) * (routed_share * mean_prob).sum();
    stats->expert_counts.push_back(counts);
    if (stats->record_experts) stats->chosen_experts.push_back(topk_index);
  }
  return out;
}

// ---- Decoder layer
DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, int64_t layer_index) {
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  if (c.is_mla()) mla_attn = register_module("self_attn", MlaAttention(c, layer_index));
  else self_attn = register_module("self_attn", Attention(c, layer_index));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  // Checkpoints name the feed-forward "mlp" whether it is dense or MoE (Mixtral: block_sparse_moe).
  if (c.is_moe_layer(layer_index)) moe = register_module(c.moe_module, Moe(c));
  else dense_mlp = register_module("mlp", Mlp(c.hidden_size, c.intermediate_size));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const RotaryEmbedding::Angles& angles,
                                        KVCache* cache, RoutingStats* stats) {
  auto normed_in = input_layernorm(x);
  auto h = x + (mla_attn ? mla_attn->forward(normed_in, angles, cache) : self_attn->forward(normed_in, angles, cache));
  auto normed = post_attention_layernorm(h);
  if (moe) {
    auto flat = normed.reshape({-1, normed.size(-1)});
    return h + moe->forward(flat, stats).view(normed.sizes());
  }
  return h + dense_mlp->forward(normed);
}

// ---- Decoder trunk
DecoderImpl::DecoderImpl(const ModelConfig& c) : rope_(c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) layers->push_back(DecoderLayer(c, i));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor DecoderImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& positions, KVCache* cache,
                                   RoutingStats* stats) {
  auto h = embed_tokens(input_ids);
  const auto angles = rope_.angles(positions, h.scalar_type());  // once for all layers
  const bool recompute = activation_checkpointing && !cache && torch::GradMode::is_enabled();
  for (const auto& layer : *layers) {
    auto* decoder_layer = layer->as<DecoderLayer>();
    h = recompute ? checkpointed_layer(*decoder_layer, h, angles, stats)
                  : decoder_layer->forward(h, angles, cache, stats);
  }
  return norm(h);
}

// ---- Causal LM
CausalLMImpl::CausalLMImpl(const ModelConfig& c) : config_(c) {
  R1_CHECK(c.vocab_size > 0, "model.vocab_size must be set (or taken from the tokenizer)");
  model = register_module("model", Decoder(c));
  if (!c.tie_word_embeddings) lm_head = register_module("lm_head", linear(c.hidden_size, c.vocab_size));
  // GPT-style init: small normal weights, so a fresh model starts near uniform predictions.
  torch::NoGradGuard no_grad;
  for (auto& param : parameters())
    if (param.dim() >= 2) param.normal_(0.0, c.init_std);
}

ForwardOutput CausalLMImpl::forward(const torch::Tensor& input_ids, std::optional<torch::Tensor> positions,
                                    KVCache* cache) {
  const int64_t start = cache ? cache->length : 0;
  torch::Tensor pos = positions ? *positions
                                : torch::arange(start, start + input_ids.size(1), input_ids.options().dtype(torch::kLong))
                                      .unsqueeze(0)
                                      .expand({input_ids.size(0), input_ids.size(1)});
  RoutingStats stats{torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(input_ids.device())), {}, false, {}};
  auto hidden = model->forward(input_ids, pos, cache, &stats);
  if (cache) cache->length += input_ids.size(1);
  const int64_t moe_layers = config_.num_moe_layers();
  if (moe_layers > 0) stats.aux_loss = stats.aux_loss / double(moe_layers);
  return {hidden, stats.aux_loss, std::move(stats.expert_counts)};
}

torch::Tensor CausalLMImpl::logits(const torch::Tensor& hidden) {
  if (lm_head) return lm_head(hidden);
  return torch::matmul(hidden, model->embed_tokens->weight.t());
}

torch::Tensor CausalLMImpl::output_weight() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

KVCache CausalLMImpl::make_cache(int64_t batch, int64_t capacity) const {
  KVCache cache;
  auto options = model->embed_tokens->weight.options().requires_grad(false);
  const int64_t heads = config_.cache_heads();
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    cache.keys.push_back(torch::zeros({batch, heads, capacity, config_.key_dim()}, options));
    cache.values.push_back(torch::zeros({batch, heads, capacity, config_.value_dim()}, options));
  }
  cache.valid = torch::zeros({batch, capacity}, options.dtype(torch::kBool));
  return cache;
}

int64_t CausalLMImpl::num_parameters() const {
  int64_t total = 0;
  for (const auto& p : parameters()) total += p.numel();
  return total;
}

void copy_weights(CausalLM& dst, const CausalLM& src) {
  torch::NoGradGuard no_grad;
  auto src_params = src->named_parameters(true);
  for (auto& item : dst->named_parameters(true)) {
    const auto* from = src_params.find(item.key());
    R1_ASSERT(from != nullptr, "copy_weights: source lacks ", item.key());
    item.value().copy_(*from);
  }
  auto src_buffers = src->named_buffers(true);
  for (auto& item : dst->named_buffers(true)) {
    const auto* from = src_buffers.find(item.key());
    R1_ASSERT(from != nullptr, "copy_weights: source lacks buffer ", item.key());
    item.value().copy_(*from);
  }
}

}  // namespace r1::policy
