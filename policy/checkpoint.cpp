// Saving and loading model checkpoints.
#include "policy/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "common/error.h"
#include "policy/safetensors.h"
#include "policy/weight_files.h"

namespace r1::policy {

namespace fs = std::filesystem;

namespace {
nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  R1_CHECK(in.good(), "cannot read ", path.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    R1_FAIL(path.string(), ": ", e.what());
  }
}

// Checkpoint tensors a CausalLM does not hold and transformers does not load either: rotary
// tables older exports saved, lm_head beside tied embeddings, DeepSeek-V3's multi-token-prediction
// layers (numbered past num_hidden_layers).
std::function<bool(const std::string&)> ignored_by(const ModelConfig& c) {
  return [c](const std::string& name) {
    if (name.find("rotary_emb.inv_freq") != std::string::npos) return true;
    if (c.tie_word_embeddings && name == "lm_head.weight") return true;
    if (c.num_nextn_predict_layers > 0) {
      static const std::regex layer(R"(^model\.layers\.(\d+)\.)");
      std::smatch m;
      if (std::regex_search(name, m, layer) && std::stoll(m[1].str()) >= c.num_layers) return true;
    }
    return false;
  };
}
}  // namespace

torch::ScalarType dtype_from_name(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  R1_FAIL("dtype '", name, "' is not supported (float32, bfloat16, float16)");
}

void save_model_files(const std::string& dir, torch::nn::Module& module, const nlohmann::json& config_json,
                      std::optional<torch::ScalarType> param_dtype, int64_t max_shard_bytes) {
  fs::create_directories(dir);
  NamedTensors tensors;
  for (const auto& item : module.named_parameters(true)) {
    auto t = item.value().detach();
    if (param_dtype && t.is_floating_point()) t = t.to(*param_dtype);
    tensors.emplace_back(item.key(), t);
  }
  for (const auto& item : module.named_buffers(true)) tensors.emplace_back(item.key(), item.value());
  save_checkpoint_weights(dir, tensors, max_shard_bytes);
  write_json_atomically(fs::path(dir) / "config.json", config_json);
}

void save_checkpoint(const std::string& dir, torch::nn::Module& module, const nlohmann::json& config_json,
                     const Tokenizer& tokenizer, const std::optional<TemplateConfig>& chat_template,
                     std::optional<torch::ScalarType> param_dtype) {
  save_model_files(dir, module, config_json, param_dtype);
  save_tokenizer(tokenizer, dir);
  if (chat_template)
    write_json_atomically(fs::path(dir) / "r1_chat_template.json",
                          {{"name", chat_template->name}, {"system", chat_template->system}});
}

void save_pretrained(const std::string& dir, CausalLM& model, const Tokenizer& tokenizer,
                     const std::optional<TemplateConfig>& chat_template) {
  save_checkpoint(dir, *model, to_config_json(model->config()), tokenizer, chat_template,
                  dtype_from_name(model->config().torch_dtype));
}

void save_model(const std::string& dir, CausalLM& model) {
  save_model_files(dir, *model, to_config_json(model->config()), dtype_from_name(model->config().torch_dtype));
}

void load_weights(torch::nn::Module& module, const std::string& path,
                  const std::function<bool(const std::string&)>& ignore) {
  CheckpointWeights weights(path);
  std::set<std::string> unused;
  for (const auto& name : weights.names()) unused.insert(name);
  torch::NoGradGuard no_grad;
  auto load = [&](const std::string& name, torch::Tensor& target) {
    R1_CHECK(weights.contains(name), weights.description(), ": missing tensor '", name, "'");
    const auto shape = weights.shape(name);
    R1_CHECK(c10::IntArrayRef(shape) == target.sizes(), weights.file_of(name), ": tensor '", name, "' has shape ",
             c10::IntArrayRef(shape), " but the model expects ", target.sizes());
    target.copy_(weights.tensor(name));  // converts F32/BF16/F16 to the module's dtype
    unused.erase(name);
  };
  for (auto& item : module.named_parameters(true)) load(item.key(), item.value());
  for (auto& item : module.named_buffers(true)) load(item.key(), item.value());
  for (const auto& name : unused)
    R1_CHECK(ignore && ignore(name), weights.file_of(name), ": unexpected tensor '", name,
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

ModelConfig read_model_config(const std::string& dir) {
  return from_config_json(read_checkpoint_config(dir), (fs::path(dir) / "config.json").string());
}

CausalLM load_model(const std::string& dir) {
  CausalLM model(read_model_config(dir));
  R1_CHECK(has_checkpoint_weights(dir), "no weights at '", dir,
           "': neither model.safetensors nor model.safetensors.index.json");
  load_weights(*model, dir, ignored_by(model->config()));
  return model;
}

LoadedModel load_pretrained(const std::string& dir) {
  const auto config_json = read_checkpoint_config(dir);
  LoadedModel loaded;
  loaded.chat_template = read_checkpoint_template(dir);
  loaded.tokenizer = load_tokenizer(dir);
  loaded.model = load_model(dir);
  return loaded;
}

}  // namespace r1::policy
