// Model checkpoints as a Hugging Face-style directory: config.json, model.safetensors (tensors
// under the checkpoint names), tokenizer_config.json, and r1_chat_template.json (the template the
// model was trained with, so `r1 generate` can prompt it the same way).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "policy/chat_template.h"
#include "policy/tokenizer.h"
#include "policy/transformer.h"

namespace r1::policy {

struct LoadedModel {
  CausalLM model{nullptr};
  std::unique_ptr<Tokenizer> tokenizer;
  std::optional<TemplateConfig> chat_template;  // absent for checkpoints saved without one
};

// Writes into `dir` (created if needed); each file is replaced atomically.
void save_pretrained(const std::string& dir, CausalLM& model, const Tokenizer& tokenizer,
                     const std::optional<TemplateConfig>& chat_template = std::nullopt);
// Loads; UserError naming the file and tensor for missing, extra or mis-shaped tensors.
LoadedModel load_pretrained(const std::string& dir);
// Loads weights into an existing module (a model of the same shape); UserError for a missing,
// extra or mis-shaped tensor.
void load_weights(torch::nn::Module& module, const std::string& safetensors_path);

// The parts both checkpoint kinds share (policy here, reward model in reward_model.h): `module`'s
// parameters under their names in model.safetensors, `config_json` as config.json, the tokenizer
// and the template; and reading config.json and r1_chat_template.json back.
void save_checkpoint(const std::string& dir, torch::nn::Module& module, const nlohmann::json& config_json,
                     const Tokenizer& tokenizer, const std::optional<TemplateConfig>& chat_template);
nlohmann::json read_checkpoint_config(const std::string& dir);
std::optional<TemplateConfig> read_checkpoint_template(const std::string& dir);

}  // namespace r1::policy
