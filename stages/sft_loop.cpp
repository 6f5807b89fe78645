// The supervised loop: sample a batch, masked next-token loss (+ the router's aux loss), AdamW.
#include "stages/sft_loop.h"

#include <cmath>
#include <algorithm>
#include <random>

#include "common/error.h"
#include "sampling/trace_store.h"
#include "stages/stage_checkpoint.h"

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

std::vector<std::pair<std::string, std::string>> accepted_traces(RunContext& ctx, const std::string& reader,
                                                                 const std::string& stage) {
  const int64_t run_id = ctx.run_id();
  ctx.traces().flush(/*include_index=*/false);
  sampling::TraceStore store(ctx.traces().path(), /*read_only=*/true);
  sampling::TraceFilter filter;
  filter.run_id = run_id;
  filter.stage = stage;
  filter.accepted = true;
  filter.limit = -1;
  std::vector<std::pair<std::string, std::string>> traces;
  for (auto& row : store.list(filter)) traces.emplace_back(std::move(row.prompt), std::move(row.completion));
  R1_CHECK(!traces.empty(), reader, ": no accepted traces of stage '", stage, "' in ", ctx.traces().path(), " (run ",
           run_id, "): run that stage first, or loosen its verdict");
  ctx.progress().line(format_line("[%s] %lld accepted traces of %s", reader.c_str(), (long long)traces.size(),
                                  stage.c_str()));
  return traces;
}

nlohmann::json resume_state(const RunContext& ctx, const std::string& stage) {
  const auto& resume = ctx.resume_point(stage);
  return resume ? resume->state : nlohmann::json::object();
}

std::string resume_phase(const RunContext& ctx, const std::string& stage) {
  const auto phase = resume_state(ctx, stage).value("phase", nlohmann::json());
  return phase.is_string() ? phase.get<std::string>() : "";
}

SftResult train_sft(RunContext& ctx, const std::string& stage, policy::CausalLM& model,
                    const std::vector<rl::TokenSequence>& examples, const SftConfig& cfg, uint64_t seed,
                    const SftPhase& phase) {
  R1_CHECK(!examples.empty(), stage, ": no training examples");
  const auto& tokenizer = ctx.tokenizer();
  const double aux_coef = model->config().router_aux_loss_coef;
  rl::Optimizer optimizer(model->parameters(), cfg.optimizer, cfg.steps);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, examples.size() - 1);
  int64_t first_step = 1;
  if (!phase.name.empty() && resume_phase(ctx, stage) == phase.name) {
    const auto& resume = *ctx.resume_point(stage);
    load_stage_checkpoint(resume, model, optimizer);
    const int64_t done_steps = resume.step - phase.step_offset;
    R1_CHECK(done_steps >= 1 && done_steps < cfg.steps, resume.dir.string(), ": a checkpoint after step ", done_steps,
             " of ", phase.name, ", which has ", cfg.steps, " steps in this config");
    first_step = done_steps + 1;
    for (int64_t draw = 0; draw < done_steps * cfg.batch_size; ++draw) pick(rng);  // the data position
    ctx.progress().line(format_line("[%s] %s: going on after step %lld", stage.c_str(), phase.name.c_str(),
                                    (long long)done_steps));
  }
  model->model->activation_checkpointing = cfg.activation_checkpointing;
  ctx.progress().start(stage, cfg.steps);
  const double started = ctx.progress().elapsed_seconds();
  SftResult result;
  double loss_sum = 0.0, tokens = 0.0;
  int64_t window = 0;
  for (int64_t step = first_step; step <= cfg.steps; ++step) {
    std::vector<rl::TokenSequence> batch;
    for (int64_t b = 0; b < cfg.batch_size; ++b) batch.push_back(examples[pick(rng)]);
    auto packed = rl::pack(batch, tokenizer.pad_id(), cfg.train_on_prompt);
    auto out = rl::token_logprobs(model, packed.input_ids);
    auto nll = -rl::masked_mean(out.logprobs, packed.loss_mask);
    auto loss = nll + aux_coef * out.aux_loss;
    R1_CHECK(std::isfinite(loss.item<double>()), stage, " step ", step, ": the loss is ", loss.item<double>(),
             "; stopped before the update, so the weights are those of the last step. Lower optimizer.lr or set "
             "optimizer.grad_clip");
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
      ctx.log_metrics(stage, phase.step_offset + step,
                      {{"loss", result.final_loss}, {"lr", lr}, {"grad_norm", grad_norm},
                       {"aux_loss", out.aux_loss.item<double>()}});
      ctx.progress().line(format_line("[%s] step %4lld/%lld  loss %.4f  lr %.2e  grad %.2f  %.0f tok/s", stage.c_str(),
                                      (long long)step, (long long)cfg.steps, result.final_loss, lr, grad_norm,
                                      result.tokens_per_s));
      loss_sum = 0.0;
      window = 0;
      if (!phase.name.empty() && cfg.checkpoint_every > 0 && step % cfg.checkpoint_every == 0 && step < cfg.steps) {
        ctx.traces().flush(/*include_index=*/false);  // the metrics logged so far are in the store first
        auto state = phase.state;
        state["phase"] = phase.name;
        state["steps"] = cfg.steps;
        save_stage_checkpoint(ctx.stage_dir(stage), phase.step_offset + step, model, ctx.tokenizer(), optimizer, state);
      }
    }
  }
  ctx.progress().finish();
  model->model->activation_checkpointing = false;  // later forwards (sampling, evaluation) keep no graph anyway
  return result;
}

}  // namespace r1::stages
