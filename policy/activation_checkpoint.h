// Activation checkpointing of a decoder layer (Chen et al. 2016, "Training Deep Nets with Sublinear
// Memory Cost"; PyTorch's reentrant torch.utils.checkpoint): the forward runs the layer without
// autograd and keeps only its input; the backward runs it again with autograd and back-propagates
// through that recomputation, accumulating the layer's parameter gradients as it goes. Activation
// memory falls from every layer's intermediates to one tensor per layer plus one layer's
// intermediates; the price is a second forward of every layer.
#pragma once

#include <torch/torch.h>

#include "policy/transformer.h"

namespace r1::policy {

// layer(x, angles, no cache, stats), the same values and gradients, with the layer's activations
// recomputed in the backward. The layer must outlive the backward (it is the model's own).
torch::Tensor checkpointed_layer(DecoderLayerImpl& layer, const torch::Tensor& x, const RotaryEmbedding::Angles& angles,
                                 RoutingStats* stats);

}  // namespace r1::policy
