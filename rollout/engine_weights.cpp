// EngineWeights: a same-structure module in the engine's dtype and device, refreshed by name.
#include "rollout/engine_weights.h"

#include <chrono>
#include <map>
#include <string>

#include <torch/cuda.h>

#include "common/error.h"

namespace r1::rollout {
namespace {

// Parameters and buffers by their full names ("model.layers.0.mlp.gate.weight").
std::map<std::string, torch::Tensor> named_tensors(const policy::CausalLM& model) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : model->named_parameters(/*recurse=*/true)) tensors[item.key()] = item.value();
  for (const auto& item : model->named_buffers(/*recurse=*/true)) tensors[item.key()] = item.value();
  return tensors;
}

}  // namespace

EngineWeights::EngineWeights(policy::CausalLM learner, torch::Device device, torch::ScalarType dtype)
    : learner_(std::move(learner)), engine_(nullptr), device_(device) {
  const auto& reference = learner_->model->embed_tokens->weight;
  shared_ = reference.device() == device && reference.scalar_type() == dtype;
  if (shared_) {
    engine_ = learner_;
    return;
  }
  engine_ = policy::CausalLM(learner_->config());
  engine_->to(device, dtype);  // every parameter and buffer: the policy registers floating ones only
  engine_->eval();
  refresh();
}

WeightRefresh EngineWeights::refresh() {
  WeightRefresh r;
  if (shared_) {  // the engine runs on the learner's own tensors: nothing to move
    last_ = r;
    return last_;
  }
  const auto from = named_tensors(learner_);
  const auto to = named_tensors(engine_);
  R1_ASSERT(from.size() == to.size(), "EngineWeights: the learner has ", from.size(), " tensors, the engine ",
           to.size());
  torch::NoGradGuard no_grad;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& [name, target] : to) {
    const auto found = from.find(name);
    R1_ASSERT(found != from.end(), "EngineWeights: the learner has no tensor '", name, "'");
    const torch::Tensor& source = found->second;
    R1_ASSERT(source.sizes() == target.sizes(), "EngineWeights: '", name, "' is ", source.sizes(), " in the learner, ",
             target.sizes(), " in the engine");
    target.copy_(source);  // converts dtype and crosses devices in the one pass
    ++r.tensors;
    r.bytes_read += int64_t(source.numel() * source.element_size());
    r.bytes_written += int64_t(target.numel() * target.element_size());
  }
  if (device_.is_cuda()) torch::cuda::synchronize();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  last_ = r;
  return last_;
}

}  // namespace r1::rollout
