#include "rollout/torch_runner.h"

#include <algorithm>
#include <map>

#include "common/error.h"

namespace r1::rollout {

namespace {
torch::Tensor long_tensor(const std::vector<int64_t>& values, const torch::Device& device) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kLong)).to(device);
}
}  // namespace

TorchRunner::TorchRunner(policy::CausalLM model, TorchRunnerOptions options)
    : PolicyRunner(std::move(model)), options_(options) {
  R1_CHECK(options_.cache_bytes > 0, "TorchRunner: cache_bytes must be > 0, got ", options_.cache_bytes);
}

TorchRunner::TorchRunner(std::shared_ptr<EngineWeights> weights, TorchRunnerOptions options)
    : TorchRunner(weights->model(), options) {
  weights_ = std::move(weights);
}

void TorchRunner::refresh_weights() {
  if (weights_) weights_->refresh();
}

KvCacheGeometry TorchRunner::kv_geometry(int64_t block_tokens) const {
  return model_kv_geometry(config(), block_tokens, int64_t(model_->model->embed_tokens->weight.element_size()));
}

void TorchRunner::allocate_cache(int64_t num_blocks, int64_t block_tokens) {
  R1_CHECK(num_blocks >= 1 && block_tokens >= 1, "TorchRunner: allocate_cache(", num_blocks, ", ", block_tokens, ")");
  const auto geometry = kv_geometry(block_tokens);
  const auto options = model_->model->embed_tokens->weight.options().requires_grad(false);
  block_tokens_ = block_tokens;
  k_pool_.clear();
  v_pool_.clear();
  for (int64_t l = 0; l < geometry.layers; ++l) {
    k_pool_.push_back(torch::zeros({num_blocks * block_tokens, geometry.kv_heads, geometry.head_dim}, options));
    if (!geometry.shared_kv)
      v_pool_.push_back(torch::zeros({num_blocks * block_tokens, geometry.kv_heads, geometry.head_dim}, options));
  }
}

void TorchRunner::copy_blocks(const std::vector<BlockCopy>& copies) {
  torch::NoGradGuard no_grad;
  for (const auto& copy : copies) {
    auto copy_rows = [&](torch::Tensor& pool) {
      pool.narrow(0, int64_t(copy.dst) * block_tokens_, copy.tokens)
          .copy_(pool.narrow(0, int64_t(copy.src) * block_tokens_, copy.tokens));
    };
    for (auto& pool : k_pool_) copy_rows(pool);
    for (auto& pool : v_pool_) copy_rows(pool);
  }
}

torch::Tensor TorchRunner::attention(int64_t layer_index, const torch::Tensor& normed,
                                     const policy::RotaryEmbedding::Angles& angles, const torch::Tensor& slots,
                                     const std::vector<PieceKeys>& keys) {
  auto* layer = model_->model->layers[layer_index]->as<policy::DecoderLayer>();
  const auto& c = config();
  std::vector<torch::Tensor> outputs;
  auto& k_pool = k_pool_[layer_index];
  if (!layer->mla_attn) {
    auto& attn = layer->self_attn;
    auto p = attn->project(normed, angles);  // q [1, H, m, d]; k, v [1, KVH, m, d]
    k_pool.index_copy_(0, slots, p.k[0].transpose(0, 1));
    v_pool_[layer_index].index_copy_(0, slots, p.v[0].transpose(0, 1));
    for (const auto& piece : keys) {
      const int64_t count = piece.mask.size(2);
      auto k = k_pool.index_select(0, piece.slots).transpose(0, 1).unsqueeze(0);  // [1, KVH, ctx, d]
      auto v = v_pool_[layer_index].index_select(0, piece.slots).transpose(0, 1).unsqueeze(0);
      outputs.push_back(policy::masked_attention(p.q.narrow(2, piece.row, count), k, v, piece.mask, attn->scale(),
                                                 attn->divides()));
    }
    return attn->o_proj(torch::cat(outputs, 1));
  }
  // Absorbed MLA (see the header).
  auto& mla = layer->mla_attn;
  const int64_t heads = c.num_heads, nope = c.qk_nope_head_dim, rank = c.kv_lora_rank, vdim = c.v_head_dim;
  auto p = mla->project(normed, angles);
  k_pool.index_copy_(0, slots, torch::cat({p.latent[0], p.k_pe[0]}, -1).unsqueeze(1));
  auto w = mla->kv_b_proj->weight.view({heads, nope + vdim, rank});
  auto w_uk = w.narrow(1, 0, nope);                                     // [H, nope, rank]
  auto w_uv_t = w.narrow(1, nope, vdim).transpose(1, 2);                // [H, rank, v]
  auto query = torch::cat({torch::matmul(p.q_nope, w_uk), p.q_pe}, -1);  // [1, H, m, rank + rope]
  for (const auto& piece : keys) {
    const int64_t count = piece.mask.size(2);
    auto cached = k_pool.index_select(0, piece.slots).transpose(0, 1).unsqueeze(0);  // [1, 1, ctx, rank + rope]
    auto latent_avg = policy::masked_attention(query.narrow(2, piece.row, count), cached,
                                               cached.narrow(-1, 0, rank), piece.mask, mla->scale());
    auto per_head = torch::matmul(latent_avg.view({1, count, heads, rank}).transpose(1, 2), w_uv_t);  // [1, H, c, v]
    outputs.push_back(per_head.transpose(1, 2).reshape({1, count, heads * vdim}));
  }
  return mla->o_proj(torch::cat(outputs, 1));
}

torch::Tensor TorchRunner::forward(const StepInputs& in, const std::vector<Piece>& pieces,
                                   std::vector<int32_t>* experts) {
  const auto device = model_->model->embed_tokens->weight.device();
  const auto index_options = torch::TensorOptions().dtype(torch::kLong).device(device);
  std::vector<int64_t> ids, positions, slots;
  std::vector<PieceKeys> keys;
  for (const auto& piece : pieces) {
    const auto& seq = in.sequences[piece.sequence];
    PieceKeys k;
    k.row = int64_t(ids.size());
    const int64_t first_position = seq.context - seq.length + piece.offset;
    const int64_t context = first_position + piece.count;
    for (int64_t t = 0; t < piece.count; ++t) {
      const int64_t index = seq.begin + piece.offset + t;
      ids.push_back(in.tokens[index]);
      positions.push_back(in.positions[index]);
      slots.push_back(in.slots[index]);
    }
    std::vector<int64_t> key_slots(context);
    for (int64_t p = 0; p < context; ++p) {
      const int32_t block = in.block_tables[seq.table * in.max_blocks + p / block_tokens_];
      R1_ASSERT(block >= 0, "TorchRunner: position ", p, " has no block");
      key_slots[p] = int64_t(block) * block_tokens_ + p % block_tokens_;
    }
    k.slots = long_tensor(key_slots, device);
    auto query_position = torch::arange(first_position, context, index_options).unsqueeze(1);
    k.mask = (torch::arange(context, index_options).unsqueeze(0) <= query_position).view({1, 1, piece.count, context});
    keys.push_back(std::move(k));
  }
  auto& decoder = model_->model;
  auto h = decoder->embed_tokens(long_tensor(ids, device).unsqueeze(0));  // [1, m, hidden]
  const auto angles = decoder->rope().angles(long_tensor(positions, device).unsqueeze(0), h.scalar_type());
  const auto slot_tensor = long_tensor(slots, device);
  policy::RoutingStats stats{torch::zeros({}, torch::TensorOptions().device(device)), {}, experts != nullptr, {}};
  for (int64_t l = 0; l < int64_t(decoder->layers->size()); ++l) {
    auto* layer = decoder->layers[l]->as<policy::DecoderLayer>();
    h = h + attention(l, layer->input_layernorm(h), angles, slot_tensor, keys);
    auto normed = layer->post_attention_layernorm(h);
    h = layer->moe ? h + layer->moe->forward(normed.reshape({-1, normed.size(-1)}), &stats).view(normed.sizes())
                   : h + layer->dense_mlp->forward(normed);
  }
  if (experts && !stats.chosen_experts.empty()) {
    auto routed = torch::stack(stats.chosen_experts, 1).to(torch::kCPU, torch::kInt32).contiguous();  // [m, layers, k]
    const auto* ptr = routed.data_ptr<int32_t>();
    experts->insert(experts->end(), ptr, ptr + routed.numel());
  }
  return decoder->norm(h)[0];
}

StepOutputs TorchRunner::step(const StepInputs& in) {
  torch::NoGradGuard no_grad;
  R1_ASSERT(!k_pool_.empty(), "TorchRunner::step before allocate_cache");
  StepOutputs out;
  std::vector<int32_t>* experts = in.record_experts ? &out.routed_experts : nullptr;
  // The final hidden state of every token a draw reads, by token index.
  std::map<int64_t, torch::Tensor> drawn_hidden;
  for (const auto& draw : in.draws) drawn_hidden[draw.token];
  auto keep = [&](const torch::Tensor& hidden, int64_t first_token, int64_t count) {
    for (int64_t t = 0; t < count; ++t) {
      auto it = drawn_hidden.find(first_token + t);
      if (it != drawn_hidden.end()) it->second = hidden[t];
    }
  };
  if (options_.batch_invariant) {
    // Token by token; within a sequence in position order, so each sees its predecessors' K/V.
    // Routing is recorded in step order: sequences' tokens are laid out consecutively.
    for (int64_t s = 0; s < int64_t(in.sequences.size()); ++s)
      for (int64_t t = 0; t < in.sequences[s].length; ++t) keep(forward(in, {{s, t, 1}}, experts), in.sequences[s].begin + t, 1);
  } else {
    std::vector<Piece> pieces;
    for (int64_t s = 0; s < int64_t(in.sequences.size()); ++s) pieces.push_back({s, 0, in.sequences[s].length});
    keep(forward(in, pieces, experts), 0, int64_t(in.tokens.size()));
  }

  // Logits of the drawn tokens (one row at a time when batch-invariant), then the fused sampling
  // reference, one row per draw.
  const int64_t vocab = vocab_size();
  std::map<int64_t, std::vector<float>> logits_of;
  std::vector<int64_t> rows;
  std::vector<torch::Tensor> hidden_rows;
  for (auto& [token, hidden] : drawn_hidden) {
    R1_ASSERT(hidden.defined(), "TorchRunner: draw of token ", token, " which is not in the step");
    rows.push_back(token);
    hidden_rows.push_back(hidden);
  }
  auto store = [&](int64_t token, const torch::Tensor& row_logits) {
    auto row = row_logits.to(torch::kCPU, torch::kFloat32).contiguous();
    logits_of[token].assign(row.data_ptr<float>(), row.data_ptr<float>() + vocab);
  };
  if (options_.batch_invariant) {
    for (std::size_t i = 0; i < rows.size(); ++i) store(rows[i], model_->logits(hidden_rows[i].unsqueeze(0))[0]);
  } else if (!rows.empty()) {
    auto logits = model_->logits(torch::stack(hidden_rows));
    for (std::size_t i = 0; i < rows.size(); ++i) store(rows[i], logits[int64_t(i)]);
  }
  std::vector<float> draw_logits;
  std::vector<FusedSamplingParams> params;
  draw_logits.reserve(in.draws.size() * vocab);
  for (const auto& draw : in.draws) {
    const auto& row = logits_of.at(draw.token);
    draw_logits.insert(draw_logits.end(), row.begin(), row.end());
    params.push_back(draw.params);
  }
  if (!in.draws.empty()) out.samples = sample_reference(draw_logits, int64_t(in.draws.size()), vocab, params);
  return out;
}

}  // namespace r1::rollout
