// AdamW with a learning-rate schedule.
#include "rl/optimizer.h"

#include <cmath>
#include <fstream>
#include <string>
#include <type_traits>

#include "common/error.h"

namespace r1::rl {

Optimizer::Optimizer(std::vector<torch::Tensor> parameters, OptimizerConfig config, int64_t total_steps)
    : parameters_(std::move(parameters)), config_(std::move(config)), total_steps_(std::max<int64_t>(total_steps, 1)) {
  auto options = torch::optim::AdamWOptions(config_.lr)
                     .betas({config_.beta1, config_.beta2})
                     .eps(config_.eps)
                     .weight_decay(config_.weight_decay);
  adamw_ = std::make_unique<torch::optim::AdamW>(parameters_, options);
}

double Optimizer::current_lr() const {
  if (config_.warmup_steps > 0 && step_ < config_.warmup_steps)
    return config_.lr * double(step_ + 1) / double(config_.warmup_steps);
  if (config_.schedule == "cosine") {
    const double span = std::max<double>(1.0, double(total_steps_ - config_.warmup_steps));
    const double progress = std::min(1.0, double(step_ - config_.warmup_steps) / span);
    const double floor = config_.min_lr_ratio * config_.lr;
    return floor + 0.5 * (config_.lr - floor) * (1.0 + std::cos(M_PI * progress));
  }
  return config_.lr;
}

double Optimizer::step() {
  double norm = 0.0;
  if (config_.grad_clip > 0) {
    norm = torch::nn::utils::clip_grad_norm_(parameters_, config_.grad_clip);
  } else {
    for (const auto& p : parameters_)
      if (p.grad().defined()) norm += p.grad().pow(2).sum().item<double>();
    norm = std::sqrt(norm);
  }
  if (!std::isfinite(norm)) {
    // A NaN or infinite gradient would spread through AdamW's moments into every weight: the step
    // is refused and the weights and moments stay as they were.
    for (auto& p : parameters_) p.mutable_grad() = torch::Tensor();
    R1_FAIL("optimiser step ", step_ + 1, ": the gradient norm is ", norm,
            "; stopped before the update, so the weights are those of the last step. Lower optimizer.lr or set "
            "optimizer.grad_clip");
  }
  const double lr = current_lr();
  for (auto& group : adamw_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  adamw_->step();
  // Gradients dropped, not zeroed: the next backward then writes them fresh, as in a resumed run's
  // first step (which starts with none). Accumulating into zeros instead gives other strides and
  // hence other summation orders in the clipping norm, so a resume would differ in the last bits.
  for (auto& p : parameters_) p.mutable_grad() = torch::Tensor();
  ++step_;
  return norm;
}

namespace {

// The key AdamW files a parameter's state under: a string of the TensorImpl address in LibTorch
// 1.13, the address itself in later versions.
template <class Key>
Key state_key(const torch::Tensor& parameter) {
  if constexpr (std::is_same_v<Key, std::string>)
    return c10::guts::to_string(parameter.unsafeGetTensorImpl());
  else
    return parameter.unsafeGetTensorImpl();
}

using StateKey = std::decay_t<decltype(std::declval<torch::optim::AdamW&>().state())>::key_type;

}  // namespace

// Each parameter's moments and step by its position, not through AdamW::save/load: LibTorch's own
// round trip did not restore the state exactly (tests/rl/test_resume_state.cpp fails with it), and
// positions are what survive a new process, where every address differs.
void Optimizer::save(const std::string& path) const {
  torch::serialize::OutputArchive archive;
  const auto& state = adamw_->state();
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const auto found = state.find(state_key<StateKey>(parameters_[i]));
    if (found == state.end()) continue;  // never stepped
    const auto& adam = static_cast<const torch::optim::AdamWParamState&>(*found->second);
    const std::string tag = std::to_string(i);
    archive.write("step." + tag, torch::tensor(int64_t(adam.step()), torch::kLong));
    archive.write("exp_avg." + tag, adam.exp_avg());
    archive.write("exp_avg_sq." + tag, adam.exp_avg_sq());
    if (adam.max_exp_avg_sq().defined()) archive.write("max_exp_avg_sq." + tag, adam.max_exp_avg_sq());
  }
  archive.write("r1_schedule_step", torch::tensor(step_, torch::kLong));
  archive.write("r1_parameter_count", torch::tensor(int64_t(parameters_.size()), torch::kLong));
  archive.save_to(path);
}

void Optimizer::load(const std::string& path) {
  R1_CHECK(std::ifstream(path).good(), path, ": no optimiser state to resume from");
  torch::serialize::InputArchive archive;
  torch::Tensor step, count;
  try {
    archive.load_from(path);
    archive.read("r1_schedule_step", step);
    archive.read("r1_parameter_count", count);
  } catch (const c10::Error& e) {
    R1_FAIL(path, ": not an r1 optimiser state (", e.what_without_backtrace(), ")");
  }
  R1_CHECK(count.item<int64_t>() == int64_t(parameters_.size()), path, ": optimiser state for ", count.item<int64_t>(),
           " parameters, this model has ", parameters_.size());
  auto& state = adamw_->state();
  state.clear();
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const std::string tag = std::to_string(i);
    torch::Tensor param_step, exp_avg, exp_avg_sq, max_exp_avg_sq;
    if (!archive.try_read("step." + tag, param_step)) continue;
    R1_CHECK(archive.try_read("exp_avg." + tag, exp_avg) && archive.try_read("exp_avg_sq." + tag, exp_avg_sq), path,
             ": parameter ", i, " has a step but no moments");
    R1_CHECK(exp_avg.sizes() == parameters_[i].sizes(), path, ": parameter ", i, " has moments of shape ",
             exp_avg.sizes(), ", the model's is ", parameters_[i].sizes());
    auto adam = std::make_unique<torch::optim::AdamWParamState>();
    adam->step(param_step.item<int64_t>());
    adam->exp_avg(exp_avg);
    adam->exp_avg_sq(exp_avg_sq);
    if (archive.try_read("max_exp_avg_sq." + tag, max_exp_avg_sq)) adam->max_exp_avg_sq(max_exp_avg_sq);
    state[state_key<StateKey>(parameters_[i])] = std::move(adam);
  }
  step_ = step.item<int64_t>();
}

}  // namespace r1::rl
