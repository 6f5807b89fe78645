// model_tensors(): the walk over the policy's modules (see the header).
#include "rollout/model_tensors.h"

namespace r1::rollout {

namespace {

LinearTensors linear_of(const torch::nn::Linear& module) {
  if (!module) return {};
  return {module->weight.detach(), module->bias.defined() ? module->bias.detach() : torch::Tensor()};
}

MlpTensors mlp_of(const policy::Mlp& module) {
  return {linear_of(module->gate_proj), linear_of(module->up_proj), linear_of(module->down_proj)};
}

torch::Tensor norm_of(const policy::RMSNorm& module) { return module ? module->weight.detach() : torch::Tensor(); }

}  // namespace

ModelTensors model_tensors(const policy::CausalLM& model) {
  torch::NoGradGuard no_grad;
  const auto& decoder = model->model;
  ModelTensors t;
  t.embed = decoder->embed_tokens->weight.detach();
  t.final_norm = decoder->norm->weight.detach();
  t.lm_head = model->output_weight().detach();
  t.attention_scale = 1.0;
  for (const auto& module : *decoder->layers) {
    auto* d = module->as<policy::DecoderLayer>();
    LayerTensors layer;
    layer.input_norm = norm_of(d->input_layernorm);
    layer.post_norm = norm_of(d->post_attention_layernorm);
    if (d->mla_attn) {
      const auto& a = d->mla_attn;
      layer.q = linear_of(a->q_proj);
      layer.q_a = linear_of(a->q_a_proj);
      layer.q_b = linear_of(a->q_b_proj);
      layer.q_a_norm = norm_of(a->q_a_layernorm);
      layer.kv_a = linear_of(a->kv_a_proj_with_mqa);
      layer.kv_a_norm = norm_of(a->kv_a_layernorm);
      layer.kv_b = linear_of(a->kv_b_proj);
      layer.o = linear_of(a->o_proj);
      t.attention_scale = a->scale();
    } else {
      const auto& a = d->self_attn;
      layer.q = linear_of(a->q_proj);
      layer.k = linear_of(a->k_proj);
      layer.v = linear_of(a->v_proj);
      layer.o = linear_of(a->o_proj);
      layer.q_norm = norm_of(a->q_norm);
      layer.k_norm = norm_of(a->k_norm);
      // r1_moe divides the scores by sqrt(head_dim); the kernels multiply (a rounding difference).
      t.attention_scale = a->divides() ? 1.0 / a->scale() : a->scale();
    }
    if (d->moe) {
      const auto& moe = d->moe;
      layer.moe = true;
      layer.router = moe->gate->weight.detach();
      if (moe->gate->e_score_correction_bias.defined()) layer.correction_bias = moe->gate->e_score_correction_bias.detach();
      for (const auto& e : *moe->experts) {
        auto* expert = e->as<policy::Mlp>();
        layer.w_gate.push_back(expert->gate_proj->weight.detach());
        layer.w_up.push_back(expert->up_proj->weight.detach());
        layer.w_down.push_back(expert->down_proj->weight.detach());
      }
      if (moe->shared_experts) {
        layer.has_shared = true;
        layer.shared = mlp_of(moe->shared_experts);
        layer.shared_gate = linear_of(moe->shared_expert_gate);
      }
    } else {
      layer.mlp = mlp_of(d->dense_mlp);
    }
    t.layers.push_back(std::move(layer));
  }
  return t;
}

std::vector<float> host_floats(const torch::Tensor& t) {
  if (!t.defined()) return {};
  const auto flat = t.detach().to(torch::kCPU, torch::kFloat32).contiguous().view(-1);
  return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
}

}  // namespace r1::rollout
