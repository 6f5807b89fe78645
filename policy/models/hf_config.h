// What the Hugging Face families' config.json files share: a reader that names the file and key in
// every error, the Llama-style core keys (sizes, norms, dtype), and RoPE in both spellings:
// transformers 5's "rope_parameters" and the older "rope_theta" + "rope_scaling".
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "policy/model_config.h"

namespace r1::policy::hf {

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& json, std::string origin);
  // Present and not null (transformers writes null for "derive it" or "off").
  bool has(const char* key) const;
  // Reads `key` into `field` when present and not null; keeps the default otherwise.
  template <class T>
  void get(const char* key, T& field) const {
    if (!has(key)) return;
    try {
      json_.at(key).get_to(field);
    } catch (const nlohmann::json::exception& e) {
      R1_FAIL(origin_, ": key '", key, "': ", e.what());
    }
  }
  template <class T>
  void require(const char* key, T& field) const {
    R1_CHECK(has(key), origin_, ": missing key '", key, "'");
    get(key, field);
  }
  const nlohmann::json& json() const { return json_; }
  const std::string& origin() const { return origin_; }

 private:
  const nlohmann::json& json_;
  std::string origin_;
};

// The keys of a Llama-style decoder: vocab_size, hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, num_key_value_heads, head_dim (absent or null: hidden / heads),
// max_position_embeddings, rms_norm_eps, tie_word_embeddings, initializer_range, dtype, hidden_act,
// and the RoPE settings (rope_theta defaults to `default_rope_theta`). Sets the HF-family flags
// that differ from r1_moe (fp32 RoPE, no experts until the family reads them).
void read_common(const ConfigReader& reader, ModelConfig& config, double default_rope_theta);
// Refuses sliding-window attention, which the shared forward pass does not implement.
void check_no_sliding_window(const ConfigReader& reader);
// Validates the shape read so far (positive sizes, heads divisible, even RoPE width).
void check_shape(const ConfigReader& reader, const ModelConfig& config);

// The routed-expert keys the Qwen MoE families share (the expert count is read by each, under
// its own names): num_experts_per_tok and moe_intermediate_size (required), norm_topk_prob,
// decoder_sparse_step (>= 1), mlp_only_layers; and their writer.
void read_qwen_moe_routing(const ConfigReader& reader, ModelConfig& config);
void write_qwen_moe_routing(nlohmann::json& json, const ModelConfig& config);

// config.json for `config`: its source_config with the common keys and RoPE written over it (in
// the spelling the source used; rope_parameters for a config made in r1).
nlohmann::json write_common(const ModelConfig& config, const std::string& architecture);

}  // namespace r1::policy::hf
