// Reading and writing the config.json keys the Hugging Face families share.
#include "policy/models/hf_config.h"

namespace r1::policy::hf {

ConfigReader::ConfigReader(const nlohmann::json& json, std::string origin) : json_(json), origin_(std::move(origin)) {
  R1_CHECK(json_.is_object(), origin_, ": expected a JSON object");
}

bool ConfigReader::has(const char* key) const { return json_.contains(key) && !json_.at(key).is_null(); }

namespace {

// RoPE settings from one object: rope_parameters (transformers 5) or rope_scaling (older).
void read_rope_object(const nlohmann::json& object, const std::string& where, ModelConfig& c) {
  R1_CHECK(object.is_object(), where, ": expected an object");
  ConfigReader r(object, where);
  std::string type = "default";
  r.get("type", type);  // the older spelling of rope_type
  r.get("rope_type", type);
  r.get("rope_theta", c.rope_theta);
  double partial = 1.0;
  r.get("partial_rotary_factor", partial);
  R1_CHECK(partial == 1.0, where, ": partial_rotary_factor ", partial, " is not supported (only 1)");
  R1_CHECK(type == "default" || type == "linear" || type == "yarn", where, ": rope_type '", type,
           "' is not supported (default, linear, yarn)");
  c.rope.type = type;
  if (type == "default") return;
  r.require("factor", c.rope.factor);
  R1_CHECK(c.rope.factor >= 1.0, where, ": factor must be >= 1");
  if (type != "yarn") return;
  r.get("original_max_position_embeddings", c.rope.original_max_position);
  r.get("beta_fast", c.rope.beta_fast);
  r.get("beta_slow", c.rope.beta_slow);
  r.get("mscale", c.rope.mscale);
  r.get("mscale_all_dim", c.rope.mscale_all_dim);
  r.get("attention_factor", c.rope.attention_factor);
  r.get("truncate", c.rope.truncate);
}

void read_rope(const ConfigReader& reader, ModelConfig& c) {
  const auto& j = reader.json();
  if (reader.has("rope_parameters")) {
    const auto& rp = j.at("rope_parameters");
    R1_CHECK(rp.is_object() && !rp.contains("full_attention"), reader.origin(),
             ": key 'rope_parameters': expected one object of RoPE settings (per-layer-type RoPE is not supported)");
    reader.get("rope_theta", c.rope_theta);  // a stray top-level value; rope_parameters wins
    read_rope_object(rp, reader.origin() + ": rope_parameters", c);
    return;
  }
  reader.get("rope_theta", c.rope_theta);
  double partial = 1.0;
  reader.get("partial_rotary_factor", partial);
  R1_CHECK(partial == 1.0, reader.origin(), ": partial_rotary_factor ", partial, " is not supported (only 1)");
  if (reader.has("rope_scaling")) read_rope_object(j.at("rope_scaling"), reader.origin() + ": rope_scaling", c);
}

// Writes `value` under `key` unless the source lacks the key and `value` is the default, so a
// round trip neither drops nor adds keys.
template <class T>
void put(nlohmann::json& object, const nlohmann::json& source, const char* key, const T& value, const T& fallback) {
  if (source.is_object() && source.contains(key)) object[key] = value;
  else if (!(value == fallback)) object[key] = value;
}

void write_rope_fields(nlohmann::json& object, const nlohmann::json& source, const ModelConfig& c) {
  const RopeScaling defaults;
  if (c.rope.type == "default") return;
  object["factor"] = c.rope.factor;
  if (c.rope.type != "yarn") return;
  put(object, source, "original_max_position_embeddings", c.rope.original_max_position, defaults.original_max_position);
  put(object, source, "beta_fast", c.rope.beta_fast, defaults.beta_fast);
  put(object, source, "beta_slow", c.rope.beta_slow, defaults.beta_slow);
  put(object, source, "mscale", c.rope.mscale, defaults.mscale);
  put(object, source, "mscale_all_dim", c.rope.mscale_all_dim, defaults.mscale_all_dim);
  put(object, source, "attention_factor", c.rope.attention_factor, defaults.attention_factor);
  put(object, source, "truncate", c.rope.truncate, defaults.truncate);
}

void write_rope(nlohmann::json& j, const ModelConfig& c) {
  const auto& src = c.source_config;
  const bool legacy = src.is_object() && !src.contains("rope_parameters") &&
                      (src.contains("rope_theta") || src.contains("rope_scaling"));
  if (!legacy) {
    nlohmann::json rp = src.is_object() && src.contains("rope_parameters") && src["rope_parameters"].is_object()
                            ? src["rope_parameters"]
                            : nlohmann::json::object();
    const nlohmann::json rp_source = rp;
    rp["rope_theta"] = c.rope_theta;
    rp["rope_type"] = c.rope.type;
    write_rope_fields(rp, rp_source, c);
    j["rope_parameters"] = rp;
    if (src.is_object() && src.contains("rope_theta")) j["rope_theta"] = c.rope_theta;
    return;
  }
  j["rope_theta"] = c.rope_theta;
  if (c.rope.type == "default") {
    if (src.contains("rope_scaling")) j["rope_scaling"] = nullptr;
    return;
  }
  nlohmann::json rs = src.contains("rope_scaling") && src["rope_scaling"].is_object() ? src["rope_scaling"]
                                                                                      : nlohmann::json::object();
  const nlohmann::json rs_source = rs;
  if (rs.contains("type") && !rs.contains("rope_type")) rs["type"] = c.rope.type;
  else rs["rope_type"] = c.rope.type;
  write_rope_fields(rs, rs_source, c);
  j["rope_scaling"] = rs;
}

}  // namespace

void read_common(const ConfigReader& r, ModelConfig& c, double default_rope_theta) {
  c.preset = "";
  c.source_config = r.json();
  r.get("model_type", c.model_type);
  r.require("vocab_size", c.vocab_size);
  r.require("hidden_size", c.hidden_size);
  r.get("intermediate_size", c.intermediate_size);
  r.require("num_hidden_layers", c.num_layers);
  r.require("num_attention_heads", c.num_heads);
  c.num_kv_heads = c.num_heads;  // transformers' convention when num_key_value_heads is absent
  r.get("num_key_value_heads", c.num_kv_heads);
  R1_CHECK(c.num_heads > 0 && c.hidden_size > 0, r.origin(), ": hidden_size and num_attention_heads must be positive");
  c.head_dim = c.hidden_size / c.num_heads;
  r.get("head_dim", c.head_dim);
  c.max_position = 2048;
  r.get("max_position_embeddings", c.max_position);
  c.rms_norm_eps = 1e-6;
  r.get("rms_norm_eps", c.rms_norm_eps);
  c.tie_word_embeddings = false;
  r.get("tie_word_embeddings", c.tie_word_embeddings);
  r.get("initializer_range", c.init_std);
  c.torch_dtype = "float32";
  r.get("torch_dtype", c.torch_dtype);
  r.get("dtype", c.torch_dtype);
  R1_CHECK(c.torch_dtype == "float32" || c.torch_dtype == "bfloat16" || c.torch_dtype == "float16", r.origin(),
           ": dtype '", c.torch_dtype, "' is not supported (float32, bfloat16, float16)");
  std::string act = "silu";
  r.get("hidden_act", act);
  R1_CHECK(act == "silu", r.origin(), ": hidden_act '", act, "' is not supported (silu)");
  c.rope_theta = default_rope_theta;
  c.rope = RopeScaling{};
  read_rope(r, c);
  c.hf_float_order = true;
  // Dense until the family reads its experts.
  c.num_experts = 0;
  c.num_shared_experts = 0;
  c.norm_topk_prob = false;
  c.router_aux_loss_coef = 0.001;
  r.get("router_aux_loss_coef", c.router_aux_loss_coef);
}

void read_qwen_moe_routing(const ConfigReader& r, ModelConfig& c) {
  r.require("num_experts_per_tok", c.num_experts_per_token);
  r.require("moe_intermediate_size", c.expert_intermediate_size);
  r.get("norm_topk_prob", c.norm_topk_prob);
  r.get("decoder_sparse_step", c.decoder_sparse_step);
  r.get("mlp_only_layers", c.mlp_only_layers);
  R1_CHECK(c.decoder_sparse_step >= 1, r.origin(), ": decoder_sparse_step must be >= 1");
}

void write_qwen_moe_routing(nlohmann::json& j, const ModelConfig& c) {
  j["num_experts_per_tok"] = c.num_experts_per_token;
  j["moe_intermediate_size"] = c.expert_intermediate_size;
  j["norm_topk_prob"] = c.norm_topk_prob;
  j["decoder_sparse_step"] = c.decoder_sparse_step;
  j["mlp_only_layers"] = c.mlp_only_layers;
  j["router_aux_loss_coef"] = c.router_aux_loss_coef;
}

void check_no_sliding_window(const ConfigReader& r) {
  bool use = false;
  r.get("use_sliding_window", use);
  R1_CHECK(!use, r.origin(), ": use_sliding_window: sliding-window attention is not supported");
  if (!r.json().contains("use_sliding_window") && r.has("sliding_window")) {
    // Families without the switch (Mixtral, Mistral) apply sliding_window whenever it is set.
    int64_t window = 0;
    r.get("sliding_window", window);
    R1_CHECK(window == 0, r.origin(), ": sliding_window ", window, ": sliding-window attention is not supported");
  }
}

void check_shape(const ConfigReader& r, const ModelConfig& c) {
  R1_CHECK(c.vocab_size > 0 && c.hidden_size > 0 && c.num_layers > 0 && c.head_dim > 0, r.origin(),
           ": vocab_size, hidden_size, num_hidden_layers and head_dim must be positive");
  R1_CHECK(c.num_kv_heads > 0 && c.num_heads % c.num_kv_heads == 0, r.origin(), ": num_key_value_heads ",
           c.num_kv_heads, " must be positive and divide num_attention_heads ", c.num_heads);
  R1_CHECK(c.rope_dim() % 2 == 0, r.origin(), ": the RoPE width ", c.rope_dim(), " must be even");
  R1_CHECK(c.max_position >= 1, r.origin(), ": max_position_embeddings must be positive");
  if (c.num_experts > 0)
    R1_CHECK(c.num_experts_per_token >= 1 && c.num_experts_per_token <= c.num_experts, r.origin(),
             ": num_experts_per_tok ", c.num_experts_per_token, " must be in [1, ", c.num_experts, "]");
}

nlohmann::json write_common(const ModelConfig& c, const std::string& architecture) {
  nlohmann::json j = c.source_config.is_object() ? c.source_config : nlohmann::json::object();
  const auto& src = c.source_config;
  j["model_type"] = c.model_type;
  if (!j.contains("architectures")) j["architectures"] = {architecture};
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  // Absent or null means "hidden / heads" to transformers: write it only where it says more.
  const bool derived_head_dim = c.head_dim == c.hidden_size / c.num_heads;
  const bool source_head_dim = src.is_object() && src.contains("head_dim") && !src["head_dim"].is_null();
  if (source_head_dim || !derived_head_dim) j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["initializer_range"] = c.init_std;
  if (src.is_object() && src.contains("torch_dtype") && !src.contains("dtype")) j["torch_dtype"] = c.torch_dtype;
  else j["dtype"] = c.torch_dtype;
  if (!j.contains("hidden_act")) j["hidden_act"] = "silu";
  write_rope(j, c);
  return j;
}

}  // namespace r1::policy::hf
