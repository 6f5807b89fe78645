// Model checkpoints as a Hugging Face-style directory: config.json, model.safetensors (tensors
// under the checkpoint names), tokenizer_config.json.
#pragma once

#include <memory>
#include <string>

#include "policy/tokenizer.h"
#include "policy/transformer.h"

namespace r1::policy {

struct LoadedModel {
  CausalLM model{nullptr};
  std::unique_ptr<Tokenizer> tokenizer;
};

// Writes into `dir` (created if needed); each file is replaced atomically.
void save_pretrained(const std::string& dir, CausalLM& model, const Tokenizer& tokenizer);
// Loads; UserError naming the file and tensor for missing, extra or mis-shaped tensors.
LoadedModel load_pretrained(const std::string& dir);
// Loads weights into an existing model of the same shape.
void load_weights(CausalLM& model, const std::string& safetensors_path);

}  // namespace r1::policy
