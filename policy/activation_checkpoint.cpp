// A custom autograd function around one decoder layer: forward without a graph, backward by
// recomputation (activation_checkpoint.h).
#include "policy/activation_checkpoint.h"

#include "common/error.h"

namespace r1::policy {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct LayerRecompute : torch::autograd::Function<LayerRecompute> {
  // Outputs: the layer's output, its load-balancing loss (a scalar; 0 for a dense layer) and its
  // expert counts (empty for a dense layer; not differentiable). The layer travels as its address:
  // autograd's saved data holds IValues, and the model owns the layer for the whole step.
  static variable_list forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor cos, torch::Tensor sin,
                               int64_t layer_address) {
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(layer_address);
    RoutingStats local{torch::zeros({}, x.options().dtype(torch::kFloat32)), {}, false, {}};
    auto out = layer->forward(x, {cos, sin}, /*cache=*/nullptr, &local);
    auto counts = local.expert_counts.empty() ? torch::zeros({0}, x.options().dtype(torch::kLong))
                                              : local.expert_counts.front();
    ctx->save_for_backward({x, cos, sin});
    ctx->saved_data["layer"] = layer_address;
    ctx->mark_non_differentiable({counts});
    return {out, local.aux_loss, counts};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    auto x = saved[0].detach().requires_grad_(true);
    torch::Tensor out, aux;
    {
      torch::AutoGradMode with_grad(true);
      RoutingStats local{torch::zeros({}, x.options().dtype(torch::kFloat32)), {}, false, {}};
      out = layer->forward(x, {saved[1], saved[2]}, /*cache=*/nullptr, &local);
      aux = local.aux_loss;
    }
    variable_list outputs{out}, output_grads{grads[0].defined() ? grads[0] : torch::zeros_like(out)};
    if (aux.requires_grad() && grads[1].defined()) {
      outputs.push_back(aux);
      output_grads.push_back(grads[1]);
    }
    // Parameter gradients accumulate into .grad here, as in a plain backward; x's comes back.
    torch::autograd::backward(outputs, output_grads);
    return {x.grad(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor checkpointed_layer(DecoderLayerImpl& layer, const torch::Tensor& x, const RotaryEmbedding::Angles& angles,
                                 RoutingStats* stats) {
  auto outputs = LayerRecompute::apply(x, angles.cos, angles.sin, reinterpret_cast<int64_t>(&layer));
  R1_ASSERT(outputs.size() == 3, "checkpointed_layer: expected output, aux loss and counts");
  if (stats) {
    if (layer.moe) {
      stats->aux_loss = stats->aux_loss + outputs[1];
      stats->expert_counts.push_back(outputs[2]);
    }
  }
  return outputs[0];
}

}  // namespace r1::policy
