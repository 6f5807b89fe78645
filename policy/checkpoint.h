// Model checkpoints as a Hugging Face-style directory: config.json, model.safetensors (tensors
// under the checkpoint names; or shards listed by model.safetensors.index.json past 5 GB),
// tokenizer_config.json, and r1_chat_template.json (the template the model was trained with, so
// `r1 generate` can prompt it the same way). Any registered family (policy/models/) loads; a
// Hugging Face checkpoint saved back by r1 loads in transformers unchanged.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "policy/chat_template.h"
#include "policy/tokenizer.h"
#include "policy/transformer.h"
#include "policy/weight_files.h"

namespace r1::policy {

struct LoadedModel {
  CausalLM model{nullptr};
  std::unique_ptr<Tokenizer> tokenizer;
  std::optional<TemplateConfig> chat_template;  // absent for checkpoints saved without one
};

// Writes into `dir` (created if needed); each file is replaced atomically. Parameters are saved in
// the config's dtype (config.json's "dtype", float32 for r1_moe), buffers as they are.
void save_pretrained(const std::string& dir, CausalLM& model, const Tokenizer& tokenizer,
                     const std::optional<TemplateConfig>& chat_template = std::nullopt);
// The model alone (config.json and model.safetensors): a Hugging Face directory without tokenizer.
void save_model(const std::string& dir, CausalLM& model);
// Loads model, tokenizer and template; UserError naming the file and tensor for missing, extra or
// mis-shaped tensors.
LoadedModel load_pretrained(const std::string& dir);
// The model alone: needs no tokenizer files (a Hugging Face directory of config and weights).
CausalLM load_model(const std::string& dir);
// The config alone (no weights read): for inspecting checkpoints larger than memory.
ModelConfig read_model_config(const std::string& dir);

// Loads weights into an existing module (a model of the same shape): its parameters and buffers,
// each converted to the module's dtype. `path` is a .safetensors file or a checkpoint directory
// (single file or sharded). UserError for a missing, extra or mis-shaped tensor; checkpoint
// tensors for which `ignore` returns true are skipped.
void load_weights(torch::nn::Module& module, const std::string& path,
                  const std::function<bool(const std::string&)>& ignore = nullptr);

// The parts both checkpoint kinds share (policy here, reward model in reward_model.h): `module`'s
// parameters and buffers under their names in model.safetensors (parameters converted to
// `param_dtype` when given), `config_json` as config.json, the tokenizer and the template; and
// reading config.json and r1_chat_template.json back.
void save_checkpoint(const std::string& dir, torch::nn::Module& module, const nlohmann::json& config_json,
                     const Tokenizer& tokenizer, const std::optional<TemplateConfig>& chat_template,
                     std::optional<torch::ScalarType> param_dtype = std::nullopt);
// Weights past `max_shard_bytes` are sharded as transformers does (policy/weight_files.h).
void save_model_files(const std::string& dir, torch::nn::Module& module, const nlohmann::json& config_json,
                      std::optional<torch::ScalarType> param_dtype = std::nullopt,
                      int64_t max_shard_bytes = kDefaultMaxShardBytes);
nlohmann::json read_checkpoint_config(const std::string& dir);
std::optional<TemplateConfig> read_checkpoint_template(const std::string& dir);

// "float32", "bfloat16", "float16" <-> the torch dtype.
torch::ScalarType dtype_from_name(const std::string& name);

}  // namespace r1::policy
