// Saving and loading r1 model checkpoints.
#include "policy/checkpoint.h"

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "policy/safetensors.h"

namespace r1::policy {

namespace fs = std::filesystem;

namespace {
void write_json_atomically(const fs::path& path, const nlohmann::json& value) {
  {
    std::ofstream out(path.string() + ".tmp");
    R1_CHECK(out.good(), "cannot write ", path.string());
    out << value.dump(2) << "\n";
  }
  fs::rename(path.string() + ".tmp", path);
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  R1_CHECK(in.good(), "cannot read ", path.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    R1_FAIL(path.string(), ": ", e.what());
  }
}
}  // namespace

void save_checkpoint(const std::string& dir, torch::nn::Module& module, const nlohmann::json& config_json,
                     const Tokenizer& tokenizer, const std::optional<TemplateConfig>& chat_template) {
  fs::create_directories(dir);
  NamedTensors tensors;
  for (const auto& item : module.named_parameters(true)) tensors.emplace_back(item.key(), item.value());
  save_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}});
  write_json_atomically(fs::path(dir) / "config.json", config_json);
  save_tokenizer(tokenizer, dir);
  if (chat_template)
    write_json_atomically(fs::path(dir) / "r1_chat_template.json",
                          {{"name", chat_template->name}, {"system", chat_template->system}});
}

void save_pretrained(const std::string& dir, CausalLM& model, const Tokenizer& tokenizer,
                     const std::optional<TemplateConfig>& chat_template) {
  save_checkpoint(dir, *model, to_config_json(model->config()), tokenizer, chat_template);
}

void load_weights(torch::nn::Module& module, const std::string& safetensors_path) {
  auto tensors = load_safetensors(safetensors_path);
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(true)) {
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

nlohmann::json read_checkpoint_config(const std::string& dir) {
  const auto config_path = fs::path(dir) / "config.json";
  R1_CHECK(fs::exists(config_path), "no model at '", dir, "': ", config_path.string(), " does not exist");
  return read_json(config_path);
}

std::optional<TemplateConfig> read_checkpoint_template(const std::string& dir) {
  const auto template_path = fs::path(dir) / "r1_chat_template.json";
  if (!fs::exists(template_path)) return std::nullopt;
  const auto t = read_json(template_path);
  R1_CHECK(t.is_object() && t.value("name", nlohmann::json()).is_string() && t.value("system", nlohmann::json()).is_string(),
           template_path.string(), ": expected {\"name\": str, \"system\": str}");
  return TemplateConfig{t["name"], t["system"]};
}

LoadedModel load_pretrained(const std::string& dir) {
  const auto config_json = read_checkpoint_config(dir);
  LoadedModel loaded;
  loaded.chat_template = read_checkpoint_template(dir);
  loaded.tokenizer = load_tokenizer(dir);
  loaded.model = CausalLM(from_config_json(config_json, (fs::path(dir) / "config.json").string()));
  load_weights(*loaded.model, (fs::path(dir) / "model.safetensors").string());
  return loaded;
}

}  // namespace r1::policy
