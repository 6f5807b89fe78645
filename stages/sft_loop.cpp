// The supervised loop: sample a batch, masked next-token loss (+ the router's aux loss), AdamW.
#include "stages/sft_loop.h"

#include <algorithm>
#include <random>

#include "common/error.h"

namespace r1::stages {

rl::TokenSequence sft_sequence(const RunContext& ctx, const std::string& stage, const std::string& prompt,
                               const std::string& completion, int64_t max_position) {
  const auto& tokenizer = ctx.tokenizer();
  rl::TokenSequence seq;
  seq.prompt_ids = tokenizer.encode(ctx.chat_template().render(prompt));
  seq.completion_ids = tokenizer.encode(completion);
  seq.completion_ids.push_back(tokenizer.eos_id());
  R1_CHECK(int64_t(seq.prompt_ids.size() + seq.completion_ids.size()) <= max_position, stage, ": an example of ",
           seq.prompt_ids.size() + seq.completion_ids.size(), " tokens exceeds model.max_position ", max_position);
  return seq;
}

SftResult train_sft(RunContext& ctx, const std::string& stage, policy::CausalLM& model,
                    const std::vector<rl::TokenSequence>& examples, const SftConfig& cfg, uint64_t seed) {
  R1_CHECK(!examples.empty(), stage, ": no training examples");
  const auto& tokenizer = ctx.tokenizer();
  const double aux_coef = model->config().router_aux_loss_coef;
  rl::Optimizer optimizer(model->parameters(), cfg.optimizer, cfg.steps);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, examples.size() - 1);
  ctx.progress().start(stage, cfg.steps);
  const double started = ctx.progress().elapsed_seconds();
  SftResult result;
  double loss_sum = 0.0, tokens = 0.0;
  int64_t window = 0;
  for (int64_t step = 1; step <= cfg.steps; ++step) {
    std::vector<rl::TokenSequence> batch;
    for (int64_t b = 0; b < cfg.batch_size; ++b) batch.push_back(examples[pick(rng)]);
    auto packed = rl::pack(batch, tokenizer.pad_id(), cfg.train_on_prompt);
    auto out = rl::token_logprobs(model, packed.input_ids);
    auto nll = -rl::masked_mean(out.logprobs, packed.loss_mask);
    auto loss = nll + aux_coef * out.aux_loss;
    loss.backward();
    const double lr = optimizer.current_lr();
    const double grad_norm = optimizer.step();
    const double step_loss = nll.item<double>();
    loss_sum += step_loss;
    tokens += packed.loss_mask.sum().item<double>();
    ++window;
    ctx.progress().update(step, format_line("loss %.3f", step_loss));
    if (step % cfg.log_every == 0 || step == cfg.steps) {
      const double seconds = std::max(ctx.progress().elapsed_seconds() - started, 1e-9);
      result.final_loss = loss_sum / double(window);
      result.tokens_per_s = tokens / seconds;
      ctx.log_metrics(stage, step,
                      {{"loss", result.final_loss}, {"lr", lr}, {"grad_norm", grad_norm},
                       {"aux_loss", out.aux_loss.item<double>()}});
      ctx.progress().line(format_line("[%s] step %4lld/%lld  loss %.4f  lr %.2e  grad %.2f  %.0f tok/s", stage.c_str(),
                                      (long long)step, (long long)cfg.steps, result.final_loss, lr, grad_norm,
                                      result.tokens_per_s));
      loss_sum = 0.0;
      window = 0;
    }
  }
  ctx.progress().finish();
  return result;
}

}  // namespace r1::stages
