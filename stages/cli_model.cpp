// `r1 generate`, `r1 model info|logprobs`, `r1 tokenize`.
#include <iostream>

#include <torch/torch.h>

#include "common/error.h"
#include "policy/chat_template.h"
#include "policy/checkpoint.h"
#include "rl/token_batch.h"
#include "rollout/cpu_engine.h"
#include "stages/cli.h"

namespace r1::cli {

namespace {

struct GenerateOptions {
  std::string model, prompt, chat_template = "auto";
  int64_t n = 1;
  uint64_t seed = 0;
  rollout::SamplingParams params;
};

void generate(const GenerateOptions& o) {
  auto loaded = policy::load_pretrained(o.model);
  std::string text = o.prompt;
  if (o.chat_template == "auto") {
    // The template the checkpoint was trained with, if it recorded one.
    if (loaded.chat_template) text = policy::ChatTemplate(*loaded.chat_template).render(o.prompt);
  } else if (o.chat_template != "none") {
    policy::TemplateConfig config;
    config.name = o.chat_template;
    text = policy::ChatTemplate(config).render(o.prompt);
  }
  R1_CHECK(o.params.temperature >= 0, "--temperature must be >= 0");
  R1_CHECK(o.params.top_p > 0 && o.params.top_p <= 1, "--top-p must be in (0, 1]");
  R1_CHECK(o.n >= 1 && o.params.max_tokens >= 1, "--n and --max-tokens must be >= 1");
  rollout::CpuEngine engine(loaded.model, *loaded.tokenizer);
  rollout::GenerationRequest request{loaded.tokenizer->encode(text), o.n, o.params, o.seed};
  auto result = engine.generate({request});
  for (const auto& sample : result[0].samples) {
    auto ids = sample.token_ids;
    if (!ids.empty() && ids.back() == loaded.tokenizer->eos_id()) ids.pop_back();
    double total = 0;
    for (float lp : sample.logprobs) total += lp;
    nlohmann::json out = {{"text", loaded.tokenizer->decode(ids)},
                          {"prompt_ids", request.prompt_ids},
                          {"ids", sample.token_ids},  // the completion's, EOS included: text can be lossy UTF-8
                          {"tokens", sample.token_ids.size()},
                          {"logprob", total},
                          {"finish_reason", rollout::finish_reason_name(sample.finish_reason)}};
    std::cout << to_json_text(out) << "\n";
  }
}

// What a checkpoint is, from config.json alone (no weights read, so it works for checkpoints
// larger than memory): family, parameters (all, and per token for MoE), shape, dtype and memory.
void model_info(const std::string& path) {
  const auto c = policy::read_model_config(path);
  const auto counts = policy::count_parameters(c);
  const int64_t dtype_bytes = int64_t(c10::elementSize(policy::dtype_from_name(c.torch_dtype)));
  int64_t kv_bytes_per_token = 0;  // what r1's CPU engine caches per token, in float32
  for (int64_t layer = 0; layer < c.num_layers; ++layer)
    kv_bytes_per_token += c.cache_heads() * (c.key_dim() + c.value_dim()) * 4;
  nlohmann::json tokenizer = nullptr;
  try {
    tokenizer = policy::load_tokenizer(path)->kind();
  } catch (const UserError&) {
    // A Hugging Face directory without an r1 tokenizer: the model alone still loads.
  }
  const int64_t shared = c.shared_expert_intermediate_size > 0 ? 1 : c.num_shared_experts;
  nlohmann::ordered_json out = {  // ordered: the summary first, the full config last
      {"model_type", c.model_type},
      {"parameters", {{"total", counts.total}, {"active_per_token", counts.active_per_token}}},
      {"layers", c.num_layers},
      {"moe_layers", c.num_moe_layers()},
      {"experts",
       {{"routed", c.num_experts},
        {"per_token", c.num_experts > 0 ? c.num_experts_per_token : 0},
        {"shared", c.num_experts > 0 ? shared : 0}}},
      {"attention", c.is_mla() ? "mla" : "gqa"},
      {"hidden_size", c.hidden_size},
      {"vocab_size", c.vocab_size},
      {"max_position", c.max_position},
      {"dtype", c.torch_dtype},
      {"memory",
       {{"weights_bytes", counts.total * dtype_bytes},
        {"weights_bytes_loaded", counts.total * 4},  // r1 holds weights in float32
        {"kv_cache_bytes_per_token", kv_bytes_per_token}}},
      {"tokenizer", tokenizer},
      {"config", policy::to_config_json(c)},
  };
  std::cout << out.dump(2) << "\n";
}

void model_logprobs(const std::string& model_path, const std::string& input) {
  // Token ids in, so no tokenizer is needed: any Hugging Face directory of config and weights.
  policy::LoadedModel loaded;
  loaded.model = policy::load_model(model_path);
  torch::NoGradGuard no_grad;
  for_each_jsonl(input, [&](const nlohmann::json& row, int64_t line) {
    R1_CHECK(row.contains("ids") && row["ids"].is_array(), input, ":", line, ": expected {\"ids\": [int...]}");
    std::vector<int64_t> ids;
    for (const auto& id : row["ids"]) {
      R1_CHECK(id.is_number_integer(), input, ":", line, ": ids must be integers");
      const int64_t value = id.get<int64_t>();
      R1_CHECK(value >= 0 && value < loaded.model->config().vocab_size, input, ":", line, ": token id ", value,
               " outside the vocabulary [0, ", loaded.model->config().vocab_size, ")");
      ids.push_back(value);
    }
    R1_CHECK(int64_t(ids.size()) <= loaded.model->config().max_position, input, ":", line, ": ", ids.size(),
             " tokens exceed max_position");
    std::vector<double> logprobs;
    if (ids.size() >= 2) {
      auto lp = rl::token_logprobs(loaded.model, torch::tensor(ids, torch::kLong).unsqueeze(0)).logprobs[0];
      for (int64_t i = 0; i < lp.size(0); ++i) logprobs.push_back(lp[i].item<double>());
    }
    std::cout << nlohmann::json{{"logprobs", logprobs}}.dump() << "\n";
  });
}

void tokenize(const std::string& tokenizer_path, const std::string& input, bool decode) {
  auto tokenizer = policy::load_tokenizer(tokenizer_path);
  for_each_jsonl(input, [&](const nlohmann::json& row, int64_t line) {
    if (!decode) {
      R1_CHECK(row.contains("text") && row["text"].is_string(), input, ":", line, ": expected {\"text\": str}");
      std::cout << nlohmann::json{{"ids", tokenizer->encode(row["text"].get<std::string>())}}.dump() << "\n";
      return;
    }
    R1_CHECK(row.contains("ids") && row["ids"].is_array(), input, ":", line, ": expected {\"ids\": [int...]}");
    std::vector<int64_t> ids;
    for (const auto& id : row["ids"]) {
      R1_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < tokenizer->vocab_size(), input,
               ":", line, ": ids must be integers in [0, ", tokenizer->vocab_size(), ")");
      ids.push_back(id.get<int64_t>());
    }
    std::cout << to_json_text(nlohmann::json{{"text", tokenizer->decode(ids)}}) << "\n";
  });
}

}  // namespace

void add_model_commands(CLI::App& app) {
  auto gen = std::make_shared<GenerateOptions>();
  auto* generate_cmd = app.add_subcommand("generate", "sample completions of a prompt from a model checkpoint (CPU engine); one JSON line per sample");
  generate_cmd->add_option("--model", gen->model, "checkpoint directory (config.json, model.safetensors)")->required();
  generate_cmd->add_option("--prompt", gen->prompt, "prompt text")->required();
  generate_cmd->add_option("--template", gen->chat_template, "chat template: auto (the one the checkpoint was trained with, else none), none, r1_zero, deepseek_r1, chatml")->capture_default_str();
  generate_cmd->add_option("--n", gen->n, "samples")->capture_default_str();
  generate_cmd->add_option("--temperature", gen->params.temperature, "0 for greedy")->capture_default_str();
  generate_cmd->add_option("--top-p", gen->params.top_p, "nucleus mass")->capture_default_str();
  generate_cmd->add_option("--top-k", gen->params.top_k, "0: off")->capture_default_str();
  generate_cmd->add_option("--max-tokens", gen->params.max_tokens, "completion tokens at most")->capture_default_str();
  generate_cmd->add_option("--stop", gen->params.stop, "stop string (repeatable); kept in the output");
  generate_cmd->add_option("--seed", gen->seed, "sampling seed")->capture_default_str();
  generate_cmd->callback([gen] { generate(*gen); });

  auto* model = app.add_subcommand("model", "inspect a model checkpoint");
  model->require_subcommand(1);
  auto info_path = std::make_shared<std::string>();
  auto* info = model->add_subcommand("info", "print the checkpoint's family, parameter counts (total, active per token), layers, experts, vocabulary, dtype and memory as JSON (reads config.json only)");
  info->add_option("path", *info_path, "checkpoint directory")->required();
  info->callback([info_path] { model_info(*info_path); });

  auto lp_model = std::make_shared<std::string>();
  auto lp_input = std::make_shared<std::string>();
  auto* logprobs = model->add_subcommand("logprobs", "log p of each token after the first; in: {\"ids\": [int...]} per line, out: {\"logprobs\": [float...]}");
  logprobs->add_option("--model", *lp_model, "checkpoint directory")->required();
  logprobs->add_option("--input", *lp_input, "JSONL file, or - for stdin")->required();
  logprobs->callback([lp_model, lp_input] { model_logprobs(*lp_model, *lp_input); });

  auto tok_path = std::make_shared<std::string>();
  auto tok_input = std::make_shared<std::string>("-");
  auto tok_decode = std::make_shared<bool>(false);
  auto* tok = app.add_subcommand("tokenize", "token ids of text; in: {\"text\": str} per line, out: {\"ids\": [int...]} "
                                             "in the same order (no BOS/EOS added; special and other added tokens "
                                             "written in the text are matched, as HF tokenizers do)");
  tok->add_option("--tokenizer", *tok_path,
                  "\"byte\", a checkpoint directory, a directory with a Hugging Face tokenizer.json (and "
                  "tokenizer_config.json), or the tokenizer.json file itself")
      ->required();
  tok->add_option("--input", *tok_input, "JSONL file, or - for stdin (the default: r1 tokenize reads standard input)")
      ->capture_default_str();
  tok->add_flag("--decode", *tok_decode,
                "the other way: in {\"ids\": [int...]}, out {\"text\": str} (bytes that are not UTF-8, as in a "
                "character cut between tokens, print as U+FFFD)");
  tok->callback([tok_path, tok_input, tok_decode] { tokenize(*tok_path, *tok_input, *tok_decode); });
}

}  // namespace r1::cli
