// AdamW with linear warm-up and a constant or cosine schedule, and gradient-norm clipping.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace r1::rl {

struct OptimizerConfig {
  double lr = 1e-3;
  double weight_decay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double grad_clip = 1.0;         // max global gradient norm; 0 turns clipping off
  int64_t warmup_steps = 0;       // linear ramp from 0 to lr
  std::string schedule = "constant";  // constant | cosine (to min_lr_ratio * lr at the last step)
  double min_lr_ratio = 0.1;

  template <class V>
  void visit(V& v) {
    v("lr", lr);
    v("weight_decay", weight_decay);
    v("beta1", beta1);
    v("beta2", beta2);
    v("eps", eps);
    v("grad_clip", grad_clip);
    v("warmup_steps", warmup_steps);
    v("schedule", schedule);
    v("min_lr_ratio", min_lr_ratio);
    v.check(lr > 0, "lr", "must be > 0");
    v.check(weight_decay >= 0, "weight_decay", "must be >= 0");
    v.check(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "beta1", "betas must be in [0, 1)");
    v.check(grad_clip >= 0, "grad_clip", "must be >= 0");
    v.check(warmup_steps >= 0, "warmup_steps", "must be >= 0");
    v.check(schedule == "constant" || schedule == "cosine", "schedule", "must be constant or cosine");
  }
};

class Optimizer {
 public:
  Optimizer(std::vector<torch::Tensor> parameters, OptimizerConfig config, int64_t total_steps);
  // Clips, applies one update at the scheduled learning rate, zeroes the gradients.
  // Returns the gradient norm before clipping. A non-finite norm: UserError, nothing updated.
  double step();
  double current_lr() const;
  int64_t steps_done() const { return step_; }
  // The AdamW moments and the schedule's step, for an exact resume. load() expects an optimiser
  // over the same parameters; UserError naming the file otherwise.
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  std::vector<torch::Tensor> parameters_;
  OptimizerConfig config_;
  int64_t total_steps_;
  int64_t step_ = 0;
  std::unique_ptr<torch::optim::AdamW> adamw_;
};

}  // namespace r1::rl
