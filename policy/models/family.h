// The model-family registry: one entry per config.json model_type, each translating that family's
// config.json into a ModelConfig and back (key names, defaults, checkpoint naming flags). The
// forward pass is shared (policy/transformer.h); a family only says which variant it uses.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/model_config.h"

namespace r1::policy {

struct ModelFamily {
  std::string model_type;
  // config.json -> ModelConfig; UserError naming `origin` and the key on bad or unsupported input.
  ModelConfig (*read_config)(const nlohmann::json& json, const std::string& origin);
  // ModelConfig -> config.json that the family's own loader (transformers) reads unchanged.
  nlohmann::json (*write_config)(const ModelConfig& config);
};

// The family of `model_type`; UserError naming `origin` and the known types otherwise.
const ModelFamily& find_model_family(const std::string& model_type, const std::string& origin);
std::vector<std::string> model_family_names();

// Each family's file defines one of these; families.cpp lists them (an explicit list, not static
// initialisers, which a static library's linker may drop).
ModelFamily r1_moe_family();
ModelFamily qwen2_family();
ModelFamily qwen3_family();
ModelFamily qwen2_moe_family();
ModelFamily qwen3_moe_family();
ModelFamily mixtral_family();
ModelFamily deepseek_v2_family();
ModelFamily deepseek_v3_family();

}  // namespace r1::policy
