// AdamW with a learning-rate schedule.
#include "rl/optimizer.h"

#include <cmath>
#include <fstream>

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
  const double lr = current_lr();
  for (auto& group : adamw_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  adamw_->step();
  adamw_->zero_grad();
  ++step_;
  return norm;
}

void Optimizer::save(const std::string& path) const {
  torch::serialize::OutputArchive archive;
  adamw_->save(archive);
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
  adamw_->load(archive);
  step_ = step.item<int64_t>();
}

}  // namespace r1::rl
