// Saving and loading r1 model checkpoints.
#include "policy/checkpoint.h"

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "policy/safetensors.h"

namespace r1::policy {

namespace fs = std::filesystem;

void save_pretrained(const std::string& dir, CausalLM& model, const Tokenizer& tokenizer) {
  fs::create_directories(dir);
  NamedTensors tensors;
  for (const auto& item : model->named_parameters(true)) tensors.emplace_back(item.key(), item.value());
  save_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}});
  const auto config_path = fs::path(dir) / "config.json";
  {
    std::ofstream out(config_path.string() + ".tmp");
    R1_CHECK(out.good(), "cannot write ", config_path.string());
    out << to_config_json(model->config()).dump(2) << "\n";
  }
  fs::rename(config_path.string() + ".tmp", config_path);
  save_tokenizer(tokenizer, dir);
}

void load_weights(CausalLM& model, const std::string& safetensors_path) {
  auto tensors = load_safetensors(safetensors_path);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters(true)) {
    auto found = tensors.find(item.key());
    R1_CHECK(found != tensors.end(), safetensors_path, ": missing tensor '", item.key(), "'");
    R1_CHECK(found->second.sizes() == item.value().sizes(), safetensors_path, ": tensor '", item.key(), "' has shape ",
             found->second.sizes(), " but the model expects ", item.value().sizes());
    item.value().copy_(found->second);
    tensors.erase(found);
  }
  R1_CHECK(tensors.empty(), safetensors_path, ": unexpected tensor '", tensors.begin()->first,
           "' (not a parameter of this model)");
}

LoadedModel load_pretrained(const std::string& dir) {
  const auto config_path = fs::path(dir) / "config.json";
  std::ifstream in(config_path);
  R1_CHECK(in.good(), "no model at '", dir, "': cannot read ", config_path.string());
  nlohmann::json config_json;
  try {
    config_json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    R1_FAIL(config_path.string(), ": ", e.what());
  }
  LoadedModel loaded;
  loaded.tokenizer = load_tokenizer(dir);
  loaded.model = CausalLM(from_config_json(config_json, config_path.string()));
  load_weights(loaded.model, (fs::path(dir) / "model.safetensors").string());
  return loaded;
}

}  // namespace r1::policy
