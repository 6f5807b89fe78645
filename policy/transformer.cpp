// The decoder-only transformer's forward passes (see transformer.h for what each module is).
#include "policy/transformer.h"

#include <cmath>

#include "common/error.h"

namespace r1::policy {

namespace F = torch::nn::functional;

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
RotaryEmbedding::RotaryEmbedding(int64_t head_dim, int64_t max_position, double theta) {
  auto inv_freq = 1.0 / torch::pow(theta, torch::arange(0, head_dim, 2, torch::kFloat64) / double(head_dim));
  auto t = torch::arange(max_position, torch::kFloat64);
  auto freqs = torch::outer(t, inv_freq);            // [max_position, head_dim/2]
  auto emb = torch::cat({freqs, freqs}, -1);         // rotate-half layout
  cos_ = emb.cos().to(torch::kFloat32);
  sin_ = emb.sin().to(torch::kFloat32);
}

torch::Tensor RotaryEmbedding::apply(const torch::Tensor& x, const torch::Tensor& positions) const {
  R1_ASSERT(positions.max().item<int64_t>() < cos_.size(0), "position past max_position");
  auto cos = cos_.to(x.device()).index({positions}).unsqueeze(1).to(x.scalar_type());  // [b,1,s,d]
  auto sin = sin_.to(x.device()).index({positions}).unsqueeze(1).to(x.scalar_type());
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, -1);
  return x * cos + rotated * sin;
}

// ---- Attention
AttentionImpl::AttentionImpl(const ModelConfig& c, int64_t layer_index)
    : num_heads_(c.num_heads), num_kv_heads_(c.num_kv_heads), head_dim_(c.head_dim), layer_index_(layer_index) {
  auto linear = [&](int64_t in, int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)); };
  q_proj = register_module("q_proj", linear(c.hidden_size, c.num_heads * c.head_dim));
  k_proj = register_module("k_proj", linear(c.hidden_size, c.num_kv_heads * c.head_dim));
  v_proj = register_module("v_proj", linear(c.hidden_size, c.num_kv_heads * c.head_dim));
  o_proj = register_module("o_proj", linear(c.num_heads * c.head_dim, c.hidden_size));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& positions,
                                     const RotaryEmbedding& rope, KVCache* cache) {
  const int64_t batch = x.size(0), seq = x.size(1);
  auto q = q_proj(x).view({batch, seq, num_heads_, head_dim_}).transpose(1, 2);
  auto k = k_proj(x).view({batch, seq, num_kv_heads_, head_dim_}).transpose(1, 2);
  auto v = v_proj(x).view({batch, seq, num_kv_heads_, head_dim_}).transpose(1, 2);
  q = rope.apply(q, positions);
  k = rope.apply(k, positions);

  // Query i sits at slot start+i; it may see slot j <= start+i that holds a real token, and always
  // itself (so a padding query never has an empty softmax).
  int64_t start = 0;
  torch::Tensor key_valid;  // [batch, keys] or undefined (all valid)
  if (cache) {
    start = cache->length;
    R1_ASSERT(start + seq <= cache->capacity(), "KV cache overflow: ", start + seq, " > ", cache->capacity());
    cache->keys[layer_index_].narrow(2, start, seq).copy_(k);
    cache->values[layer_index_].narrow(2, start, seq).copy_(v);
    k = cache->keys[layer_index_].narrow(2, 0, start + seq);
    v = cache->values[layer_index_].narrow(2, 0, start + seq);
    key_valid = cache->valid.narrow(1, 0, start + seq);
  }
  const int64_t num_keys = start + seq;
  auto query_slot = torch::arange(start, start + seq, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
  auto key_slot = torch::arange(num_keys, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
  auto allowed = key_slot.unsqueeze(0) <= query_slot.unsqueeze(1);  // [seq, keys] causal
  torch::Tensor mask = allowed.unsqueeze(0).unsqueeze(0);             // [1,1,seq,keys]
  if (key_valid.defined()) {
    auto self = key_slot.unsqueeze(0) == query_slot.unsqueeze(1);
    mask = (allowed.unsqueeze(0) & key_valid.unsqueeze(1)) | self.unsqueeze(0);  // [b,seq,keys]
    mask = mask.unsqueeze(1);
  }

  // Grouped-query attention: each K/V head serves num_heads/num_kv_heads query heads.
  const int64_t group = num_heads_ / num_kv_heads_;
  if (group > 1) {
    k = k.repeat_interleave(group, 1);
    v = v.repeat_interleave(group, 1);
  }
  auto scores = torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat32) / std::sqrt(double(head_dim_));
  scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
  auto probs = torch::softmax(scores, -1).to(q.scalar_type());
  auto out = torch::matmul(probs, v).transpose(1, 2).reshape({batch, seq, num_heads_ * head_dim_});
  return o_proj(out);
}

// ---- SwiGLU MLP
MlpImpl::MlpImpl(int64_t hidden, int64_t intermediate) {
  auto linear = [](int64_t in, int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)); };
  gate_proj = register_module("gate_proj", linear(hidden, intermediate));
  up_proj = register_module("up_proj", linear(hidden, intermediate));
  down_proj = register_module("down_proj", linear(intermediate, hidden));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return down_proj(F::silu(gate_proj(x)) * up_proj(x));
}

// ---- MoE
MoeImpl::MoeImpl(const ModelConfig& c)
    : num_experts_(c.num_experts), top_k_(c.num_experts_per_token), norm_topk_prob_(c.norm_topk_prob) {
  gate = register_module("gate", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, c.num_experts).bias(false)));
  experts = register_module("experts", torch::nn::ModuleList());
  for (int64_t e = 0; e < c.num_experts; ++e) experts->push_back(Mlp(c.hidden_size, c.expert_intermediate_size));
  if (c.num_shared_experts > 0)
    shared_experts = register_module(
        "shared_experts", Mlp(c.hidden_size, c.expert_intermediate_size * c.num_shared_experts));
}

torch::Tensor MoeImpl::forward(const torch::Tensor& x, torch::Tensor* aux_loss) {
  // Router in fp32: RL compares probabilities across implementations, so routing must not depend
  // on the activation dtype.
  auto router_probs = torch::softmax(gate(x).to(torch::kFloat32), -1);  // [tokens, experts]
  auto [topk_weight, topk_index] = router_probs.topk(top_k_, -1);
  if (norm_topk_prob_) topk_weight = topk_weight / (topk_weight.sum(-1, true) + 1e-20);
  topk_weight = topk_weight.to(x.scalar_type());

  auto out = shared_experts ? shared_experts->forward(x) : torch::zeros_like(x);
  auto flat_expert = topk_index.reshape(-1);                                   // [tokens*k]
  auto flat_token = torch::arange(x.size(0), topk_index.options()).repeat_interleave(top_k_);
  auto flat_weight = topk_weight.reshape(-1);
  // Group the routed slots by expert once, then run each expert on its tokens only.
  auto order = flat_expert.argsort();
  auto counts = torch::bincount(flat_expert, /*weights=*/{}, num_experts_);
  auto sorted_token = flat_token.index_select(0, order);
  auto sorted_weight = flat_weight.index_select(0, order);
  const auto* count = counts.data_ptr<int64_t>();
  int64_t offset = 0;
  for (int64_t expert_idx = 0; expert_idx < num_experts_; ++expert_idx) {
    const int64_t n = count[expert_idx];
    if (n == 0) continue;
    auto tokens = sorted_token.narrow(0, offset, n);
    auto expert_out = experts[expert_idx]->as<Mlp>()->forward(x.index_select(0, tokens));
    out = out.index_add(0, tokens, expert_out * sorted_weight.narrow(0, offset, n).unsqueeze(1));
    offset += n;
  }
  if (aux_loss) {
    auto routed_share = counts.to(torch::kFloat32) / double(flat_expert.size(0));  // f_e
    auto mean_prob = router_probs.mean(0);                                          // P_e
    *aux_loss = *aux_loss + double(num_experts_) * (routed_share * mean_prob).sum();
  }
  return out;
}

// ---- Decoder layer
DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, int64_t layer_index) {
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  self_attn = register_module("self_attn", Attention(c, layer_index));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  // Checkpoints name the feed-forward "mlp" whether it is dense or MoE.
  if (c.is_moe()) moe = register_module("mlp", Moe(c));
  else dense_mlp = register_module("mlp", Mlp(c.hidden_size, c.intermediate_size));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& positions,
                                        const RotaryEmbedding& rope, KVCache* cache, torch::Tensor* aux_loss) {
  auto h = x + self_attn->forward(input_layernorm(x), positions, rope, cache);
  auto normed = post_attention_layernorm(h);
  if (moe) {
    auto flat = normed.reshape({-1, normed.size(-1)});
    return h + moe->forward(flat, aux_loss).view(normed.sizes());
  }
  return h + dense_mlp->forward(normed);
}

// ---- Decoder trunk
DecoderImpl::DecoderImpl(const ModelConfig& c) : rope_(c.head_dim, c.max_position, c.rope_theta) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) layers->push_back(DecoderLayer(c, i));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor DecoderImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& positions, KVCache* cache,
                                   torch::Tensor* aux_loss) {
  auto h = embed_tokens(input_ids);
  for (const auto& layer : *layers) h = layer->as<DecoderLayer>()->forward(h, positions, rope_, cache, aux_loss);
  return norm(h);
}

// ---- Causal LM
CausalLMImpl::CausalLMImpl(const ModelConfig& c) : config_(c) {
  R1_CHECK(c.vocab_size > 0, "model.vocab_size must be set (or taken from the tokenizer)");
  model = register_module("model", Decoder(c));
  if (!c.tie_word_embeddings)
    lm_head = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, c.vocab_size).bias(false)));
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
  auto aux = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(input_ids.device()));
  auto hidden = model->forward(input_ids, pos, cache, &aux);
  if (cache) cache->length += input_ids.size(1);
  if (config_.is_moe()) aux = aux / double(config_.num_layers);
  return {hidden, aux};
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
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    cache.keys.push_back(torch::zeros({batch, config_.num_kv_heads, capacity, config_.head_dim}, options));
    cache.values.push_back(torch::zeros({batch, config_.num_kv_heads, capacity, config_.head_dim}, options));
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
}

}  // namespace r1::policy
