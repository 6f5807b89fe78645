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
// Loads weights into an existing model of the same shape.
void load_weights(CausalLM& model, const std::string& safetensors_path);

}  // namespace r1::policy
