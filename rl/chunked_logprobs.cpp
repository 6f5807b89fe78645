// A custom autograd function: the logits exist one vocabulary chunk at a time.
#include "rl/chunked_logprobs.h"

#include "common/error.h"

namespace r1::rl {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Per row, over all chunks: lse = log sum exp z, and H = lse - E_p[z].
struct RowStatistics {
  torch::Tensor lse, entropy, target_logit;
};

RowStatistics row_statistics(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
                             int64_t chunk) {
  const int64_t rows = hidden.size(0), vocab = weight.size(0);
  auto options = hidden.options().dtype(torch::kFloat32);
  auto running_max = torch::full({rows}, -std::numeric_limits<float>::infinity(), options);
  auto sum_exp = torch::zeros({rows}, options);     // sum exp(z - running_max)
  auto sum_exp_z = torch::zeros({rows}, options);   // sum exp(z - running_max) * z
  auto target_logit = torch::zeros({rows}, options);
  for (int64_t start = 0; start < vocab; start += chunk) {
    const int64_t width = std::min(chunk, vocab - start);
    auto z = torch::matmul(hidden, weight.narrow(0, start, width).t()).to(torch::kFloat32);  // [rows, width]
    auto new_max = torch::maximum(running_max, std::get<0>(z.max(1)));
    auto rescale = torch::exp(running_max - new_max);
    auto e = torch::exp(z - new_max.unsqueeze(1));
    sum_exp = sum_exp * rescale + e.sum(1);
    sum_exp_z = sum_exp_z * rescale + (e * z).sum(1);
    running_max = new_max;
    auto local = targets - start;
    auto inside = (local >= 0) & (local < width);
    auto picked = z.gather(1, local.clamp(0, width - 1).unsqueeze(1)).squeeze(1);
    target_logit = torch::where(inside, picked, target_logit);
  }
  auto lse = running_max + torch::log(sum_exp);
  return {lse, lse - sum_exp_z / sum_exp, target_logit};
}

class ChunkedLogprobsFunction : public torch::autograd::Function<ChunkedLogprobsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, torch::Tensor hidden, torch::Tensor weight, torch::Tensor targets,
                               int64_t chunk) {
    auto stats = row_statistics(hidden, weight, targets, chunk);
    ctx->save_for_backward({hidden, weight, targets, stats.lse, stats.entropy});
    ctx->saved_data["chunk"] = chunk;
    return {stats.target_logit - stats.lse, stats.entropy};
  }

  // d logp_t / dz_v = [v == t] - p_v;   d H / dz_v = -p_v (z_v - lse + H).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto hidden = saved[0], weight = saved[1], targets = saved[2], lse = saved[3], entropy = saved[4];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const int64_t rows = hidden.size(0), vocab = weight.size(0);
    auto options = hidden.options().dtype(torch::kFloat32);
    auto g_logprob = grads[0].defined() ? grads[0].to(torch::kFloat32) : torch::zeros({rows}, options);
    auto g_entropy = grads[1].defined() ? grads[1].to(torch::kFloat32) : torch::zeros({rows}, options);
    auto hidden32 = hidden.to(torch::kFloat32);
    auto grad_hidden = torch::zeros_like(hidden32);
    auto grad_weight = torch::zeros(weight.sizes(), options);
    for (int64_t start = 0; start < vocab; start += chunk) {
      const int64_t width = std::min(chunk, vocab - start);
      auto w = weight.narrow(0, start, width).to(torch::kFloat32);
      auto z = torch::matmul(hidden32, w.t());
      auto p = torch::exp(z - lse.unsqueeze(1));
      auto dz = -p * (g_logprob.unsqueeze(1) + g_entropy.unsqueeze(1) * (z - lse.unsqueeze(1) + entropy.unsqueeze(1)));
      auto local = targets - start;
      auto inside = ((local >= 0) & (local < width)).to(torch::kFloat32);
      dz.scatter_add_(1, local.clamp(0, width - 1).unsqueeze(1), (g_logprob * inside).unsqueeze(1));
      grad_hidden += torch::matmul(dz, w);
      grad_weight.narrow(0, start, width).copy_(torch::matmul(dz.t(), hidden32));
    }
    return {grad_hidden.to(hidden.scalar_type()), grad_weight.to(weight.scalar_type()), torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

ChunkedLogprobs chunked_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                 const torch::Tensor& targets, int64_t vocab_chunk) {
  R1_ASSERT(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
            "chunked_logprobs: hidden [tokens, H] and weight [V, H] expected");
  R1_ASSERT(targets.dim() == 1 && targets.size(0) == hidden.size(0), "chunked_logprobs: one target per row");
  R1_ASSERT(vocab_chunk > 0, "chunked_logprobs: vocab_chunk must be > 0");
  auto out = ChunkedLogprobsFunction::apply(hidden, weight, targets, vocab_chunk);
  return {out[0], out[1]};
}

}  // namespace r1::rl
