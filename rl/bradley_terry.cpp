#include "rl/bradley_terry.h"

#include "common/error.h"

namespace r1::rl {

BradleyTerryTerms bradley_terry_loss(const torch::Tensor& chosen, const torch::Tensor& rejected) {
  R1_CHECK(chosen.dim() == 1 && chosen.sizes() == rejected.sizes() && chosen.numel() > 0,
           "bradley_terry_loss: chosen and rejected must be equal non-empty [pairs] tensors, got ", chosen.sizes(),
           " and ", rejected.sizes());
  const auto margin = chosen - rejected;
  BradleyTerryTerms terms;
  // log_sigmoid, not log(sigmoid): finite for any margin.
  terms.loss = -torch::log_sigmoid(margin).mean();
  const auto detached = margin.detach();
  terms.accuracy = (detached > 0).to(torch::kDouble).mean().item<double>();
  terms.margin = detached.to(torch::kDouble).mean().item<double>();
  return terms;
}

}  // namespace r1::rl
