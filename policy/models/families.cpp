// The registered model families, looked up by config.json's model_type.
#include "policy/models/family.h"

#include "common/error.h"

namespace r1::policy {

namespace {
const std::vector<ModelFamily>& families() {
  static const std::vector<ModelFamily> all = {
      r1_moe_family(),    qwen2_family(),   qwen3_family(),       qwen2_moe_family(),
      qwen3_moe_family(), mixtral_family(), deepseek_v2_family(), deepseek_v3_family(),
  };
  return all;
}
}  // namespace

const ModelFamily& find_model_family(const std::string& model_type, const std::string& origin) {
  for (const auto& family : families())
    if (family.model_type == model_type) return family;
  std::string known;
  for (const auto& name : model_family_names()) known += (known.empty() ? "" : ", ") + name;
  R1_FAIL(origin, ": model_type '", model_type, "' is not supported (known: ", known, ")");
}

std::vector<std::string> model_family_names() {
  std::vector<std::string> names;
  for (const auto& family : families()) names.push_back(family.model_type);
  return names;
}

}  // namespace r1::policy
