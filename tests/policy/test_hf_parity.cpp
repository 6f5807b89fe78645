// Hugging Face families against transformers: tests/fixtures/hf-parity/<family> holds small
// random-weight models saved by transformers 5.17 with its fp32 log-probabilities
// (scripts/make_hf_parity_fixtures.py regenerates them). Every family must match them with a full
// forward pass and with KV-cached token-by-token decoding, save back byte-identically with
// config.json unchanged, count its parameters without building the model, and read sharded and
// BF16/F16 weights.
#include "tests/doctest_torch.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "common/error.h"
#include "policy/checkpoint.h"
#include "policy/model_config.h"
#include "policy/safetensors.h"
#include "policy/transformer.h"
#include "policy/weight_files.h"

using namespace r1::policy;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kFamilies = {"qwen2",   "qwen3",       "qwen3_moe",  "qwen2_moe",
                                            "mixtral", "deepseek_v3", "deepseek_v2"};

fs::path fixture(const std::string& family) {
  return fs::path(R1_SOURCE_DIR) / "tests" / "fixtures" / "hf-parity" / family;
}

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("r1_test_hf_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

struct Expected {
  std::vector<int64_t> ids;
  std::vector<double> logprobs;
};

std::vector<Expected> read_expected(const std::string& family) {
  std::ifstream in(fixture(family) / "expected.jsonl");
  REQUIRE(in.good());
  std::vector<Expected> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    rows.push_back({j["ids"].get<std::vector<int64_t>>(), j["logprobs"].get<std::vector<double>>()});
  }
  return rows;
}

// log p(ids[i+1] | ids[..i]) for i < n-1, from one forward pass: [n-1].
torch::Tensor full_logprobs(CausalLM& model, const std::vector<int64_t>& ids) {
  auto input = torch::tensor(ids, torch::kLong).unsqueeze(0);
  auto logits = model->logits(model->forward(input).hidden)[0].to(torch::kFloat32);
  const int64_t n = int64_t(ids.size());
  auto logp = torch::log_softmax(logits.narrow(0, 0, n - 1), -1);
  return logp.gather(1, input[0].narrow(0, 1, n - 1).unsqueeze(1)).squeeze(1);
}

// The same, one token at a time through the KV cache (how `r1 generate` decodes).
torch::Tensor cached_logprobs(CausalLM& model, const std::vector<int64_t>& ids) {
  const int64_t n = int64_t(ids.size());
  auto cache = model->make_cache(1, n);
  cache.valid.fill_(true);
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i + 1 < n; ++i) {
    auto token = torch::tensor({ids[i]}, torch::kLong).unsqueeze(0);
    auto logits = model->logits(model->forward(token, std::nullopt, &cache).hidden)[0][0].to(torch::kFloat32);
    out.push_back(torch::log_softmax(logits, -1)[ids[i + 1]]);
  }
  return torch::stack(out);
}

double max_abs_diff(const torch::Tensor& got, const std::vector<double>& want) {
  auto expected = torch::tensor(want, torch::kFloat64);
  return (got.to(torch::kFloat64) - expected).abs().max().item<double>();
}

}  // namespace

TEST_CASE("HF parity: each family's logprobs match transformers, full forward and KV-cached decoding") {
  torch::NoGradGuard no_grad;
  for (const auto& family : kFamilies) {
    CAPTURE(family);
    auto model = load_model(fixture(family).string());
    CHECK((model->config().model_type == family));
    const auto rows = read_expected(family);
    REQUIRE(rows.size() == 4);  // 1, 7, 33 and 100 tokens
    double full_diff = 0, cached_diff = 0;
    for (const auto& row : rows) {
      REQUIRE(row.logprobs.size() + 1 == row.ids.size());
      if (row.ids.size() < 2) continue;  // one token: nothing to predict
      full_diff = std::max(full_diff, max_abs_diff(full_logprobs(model, row.ids), row.logprobs));
      // Cached decoding on the 7- and 33-token sequences (the 100-token one only adds time).
      if (row.ids.size() <= 33)
        cached_diff = std::max(cached_diff, max_abs_diff(cached_logprobs(model, row.ids), row.logprobs));
    }
    MESSAGE(family, ": max |logprob - transformers| = ", full_diff, " (full forward), ", cached_diff,
            " (KV-cached decoding)");
    CHECK(full_diff < 1e-4);
    CHECK(cached_diff < 1e-4);
  }
}

TEST_CASE("HF parity: saved back by r1, tensors are byte-identical and config.json round-trips") {
  torch::NoGradGuard no_grad;
  for (const auto& family : kFamilies) {
    CAPTURE(family);
    auto model = load_model(fixture(family).string());
    const auto dir = temp_dir("save_" + family);
    save_model(dir.string(), model);

    // config.json: every key the family wrote, with its value (null included); nothing added.
    const auto original = read_json(fixture(family) / "config.json");
    const auto saved = read_json(dir / "config.json");
    for (const auto& [key, value] : original.items()) {
      CAPTURE(key);
      CHECK(saved.contains(key));
      if (saved.contains(key)) CHECK((saved[key] == value));
    }
    for (const auto& [key, value] : saved.items()) {
      CAPTURE(key);
      CHECK(original.contains(key));
    }

    // Tensors: the same names, dtypes, shapes and bytes.
    SafetensorsFile before((fixture(family) / "model.safetensors").string());
    SafetensorsFile after((dir / "model.safetensors").string());
    CHECK(before.names().size() == after.names().size());
    for (const auto& name : before.names()) {
      CAPTURE(name);
      REQUIRE(after.contains(name));
      CHECK((after.dtype(name) == before.dtype(name)));
      auto a = before.tensor(name), b = after.tensor(name);
      REQUIRE((a.sizes() == b.sizes()));
      CHECK(std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0);
    }

    // And the saved directory loads to the same function.
    auto reloaded = load_model(dir.string());
    std::vector<int64_t> ids = {3, 14, 15, 92, 65, 35, 89, 79};
    CHECK(torch::equal(full_logprobs(model, ids), full_logprobs(reloaded, ids)));
  }
}

TEST_CASE("HF parity: parameter counts from the config alone equal the built model's") {
  for (const auto& family : kFamilies) {
    CAPTURE(family);
    const auto config = read_model_config(fixture(family).string());
    CausalLM model(config);
    const auto counts = count_parameters(config);
    CHECK(counts.total == model->num_parameters());
    if (config.num_experts > 0) CHECK(counts.active_per_token < counts.total);
    else CHECK(counts.active_per_token == counts.total);
  }
}

TEST_CASE("HF checkpoints: sharded weights load through model.safetensors.index.json; bad indexes are named") {
  torch::NoGradGuard no_grad;
  const auto family = std::string("deepseek_v3");
  const auto dir = temp_dir("sharded");
  fs::copy_file(fixture(family) / "config.json", dir / "config.json");
  auto all = load_safetensors((fixture(family) / "model.safetensors").string());
  NamedTensors first, second;
  nlohmann::json weight_map = nlohmann::json::object();
  for (const auto& [name, tensor] : all) {
    const bool in_first = name.find("layers.1.") == std::string::npos;
    (in_first ? first : second).emplace_back(name, tensor);
    weight_map[name] = in_first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  save_safetensors((dir / "model-00001-of-00002.safetensors").string(), first);
  save_safetensors((dir / "model-00002-of-00002.safetensors").string(), second);
  auto write_index = [&](const nlohmann::json& map) {
    std::ofstream(dir / "model.safetensors.index.json") << nlohmann::json{{"metadata", {}}, {"weight_map", map}}.dump();
  };
  write_index(weight_map);
  auto sharded = load_model(dir.string());
  auto single = load_model(fixture(family).string());
  std::vector<int64_t> ids = {1, 2, 3, 4, 5, 6, 7};
  CHECK(torch::equal(full_logprobs(sharded, ids), full_logprobs(single, ids)));

  auto wrong = weight_map;
  wrong["model.norm.weight"] = "model-00002-of-00002.safetensors";
  write_index(wrong);
  CHECK_THROWS_WITH_AS(load_model(dir.string()), doctest::Contains("'model.norm.weight' is mapped to 'model-00002"),
                       r1::UserError);
  auto missing = weight_map;
  missing["model.norm.weight"] = "model-00003-of-00003.safetensors";
  write_index(missing);
  CHECK_THROWS_WITH_AS(load_model(dir.string()), doctest::Contains("does not exist"), r1::UserError);
  auto escape = weight_map;
  escape["model.norm.weight"] = "../model.safetensors";
  write_index(escape);
  CHECK_THROWS_WITH_AS(load_model(dir.string()), doctest::Contains("is not a file name"), r1::UserError);
}

TEST_CASE("HF checkpoints: weights past the shard limit are written as transformers shards them, and read back") {
  torch::NoGradGuard no_grad;
  const auto family = std::string("qwen3_moe");
  auto model = load_model(fixture(family).string());
  NamedTensors tensors;
  int64_t total = 0, largest = 0;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    tensors.emplace_back(name, t);
    total += int64_t(t.nbytes());
    largest = std::max<int64_t>(largest, int64_t(t.nbytes()));
  };
  for (const auto& item : model->named_parameters(true)) add(item.key(), item.value());
  for (const auto& item : model->named_buffers(true)) add(item.key(), item.value());
  const auto dir = temp_dir("shard_writing");
  // An earlier single-file save in the directory: replaced by the shards, not left to win over them.
  save_checkpoint_weights(dir.string(), tensors);
  CHECK(fs::exists(dir / "model.safetensors"));
  const int64_t limit = std::max(largest, total / 4);
  REQUIRE(limit < total);
  const auto written = save_checkpoint_weights(dir.string(), tensors, limit);
  REQUIRE(written.size() >= 3);  // at least 2 shards and the index
  CHECK(written.back() == "model.safetensors.index.json");
  CHECK(written.front() == "model-00001-of-" + std::string(5 - std::to_string(written.size() - 1).size(), '0') +
                               std::to_string(written.size() - 1) + ".safetensors");
  CHECK_FALSE(fs::exists(dir / "model.safetensors"));
  const auto index = read_json(dir / "model.safetensors.index.json");
  CHECK(index["metadata"]["total_size"].get<int64_t>() == total);
  CHECK(index["weight_map"].size() == tensors.size());
  // Each shard within the limit, every tensor in exactly one shard.
  std::vector<std::string> order;
  for (std::size_t k = 0; k + 1 < written.size(); ++k) {
    SafetensorsFile shard((dir / written[k]).string());
    int64_t bytes = 0;
    for (const auto& name : shard.names()) {
      CHECK(index["weight_map"][name] == written[k]);
      bytes += int64_t(shard.tensor(name).nbytes());
      order.push_back(name);
    }
    CHECK(bytes <= limit);
  }
  CHECK(order.size() == tensors.size());
  CHECK(std::set<std::string>(order.begin(), order.end()).size() == tensors.size());
  // load_weights reads the directory through the index; the logprobs are the single file's.
  std::ofstream(dir / "config.json") << read_json(fixture(family) / "config.json").dump(2);
  auto sharded = load_model(dir.string());
  std::vector<int64_t> ids = {3, 1, 4, 1, 5, 9, 2, 6};
  CHECK(torch::equal(full_logprobs(sharded, ids), full_logprobs(model, ids)));
  // Saved again under the limit: one file, and the shards and index are gone.
  save_checkpoint_weights(dir.string(), tensors);
  for (const auto& name : written) CHECK_FALSE(fs::exists(dir / name));
  auto single = load_model(dir.string());
  CHECK(torch::equal(full_logprobs(single, ids), full_logprobs(model, ids)));
  CHECK_THROWS_WITH_AS(save_checkpoint_weights(dir.string(), tensors, 0), doctest::Contains("max_shard_bytes"),
                       r1::UserError);
}

TEST_CASE("HF checkpoints: BF16 and F16 weights are converted to the model's dtype and saved back in theirs") {
  torch::NoGradGuard no_grad;
  for (const auto& [dtype_name, dtype] : std::vector<std::pair<std::string, torch::ScalarType>>{
           {"bfloat16", torch::kBFloat16}, {"float16", torch::kFloat16}}) {
    CAPTURE(dtype_name);
    const auto dir = temp_dir("dtype_" + dtype_name);
    auto config = read_json(fixture("qwen3") / "config.json");
    config["dtype"] = dtype_name;
    std::ofstream(dir / "config.json") << config.dump(2);
    NamedTensors narrow;
    for (const auto& [name, tensor] : load_safetensors((fixture("qwen3") / "model.safetensors").string()))
      narrow.emplace_back(name, tensor.to(dtype));
    save_safetensors((dir / "model.safetensors").string(), narrow);

    auto model = load_model(dir.string());
    auto params = model->named_parameters(true);
    for (const auto& [name, tensor] : narrow) {
      CAPTURE(name);
      CHECK((params[name].scalar_type() == torch::kFloat32));
      CHECK(torch::equal(params[name], tensor.to(torch::kFloat32)));
    }
    const auto out = temp_dir("dtype_out_" + dtype_name);
    save_model(out.string(), model);
    SafetensorsFile saved((out / "model.safetensors").string());
    for (const auto& [name, tensor] : narrow) {
      CAPTURE(name);
      CHECK(torch::equal(saved.tensor(name), tensor));
    }
    CHECK((read_json(out / "config.json")["dtype"] == dtype_name));
  }
}

TEST_CASE("HF configs: rope_parameters and the older rope_theta + rope_scaling read alike; errors name the key") {
  auto base = read_json(fixture("deepseek_v3") / "config.json");
  auto v5 = base;
  v5["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 50000.0}, {"factor", 4.0},
                           {"original_max_position_embeddings", 128}, {"mscale", 1.0}, {"mscale_all_dim", 0.5},
                           {"beta_fast", 32}, {"beta_slow", 1}};
  auto legacy = base;
  legacy.erase("rope_parameters");
  legacy["rope_theta"] = 50000.0;
  legacy["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 128},
                            {"mscale", 1.0}, {"mscale_all_dim", 0.5}, {"beta_fast", 32}, {"beta_slow", 1}};
  const auto a = from_config_json(v5, "v5.json"), b = from_config_json(legacy, "legacy.json");
  for (const auto* c : {&a, &b}) {
    CHECK(c->rope_theta == 50000.0);
    CHECK((c->rope.type == "yarn"));
    CHECK(c->rope.factor == 4.0);
    CHECK(c->rope.original_max_position == 128);
    // Softmax scale: 1/sqrt(16) * mscale(4, 0.5)^2.
    const double m = 0.1 * 0.5 * std::log(4.0) + 1.0;
    CHECK(c->attention_scale == doctest::Approx(0.25 * m * m));
  }
  // Each spelling is written back as it was read.
  CHECK((to_config_json(a) == v5));
  CHECK((to_config_json(b) == legacy));

  // YaRN: the fastest-rotating dims keep their frequency, the slowest are divided by the factor,
  // and cos/sin carry mscale / mscale_all_dim.
  RotaryEmbedding rope(a);
  auto angles = rope.angles(torch::tensor({{1}}, torch::kLong), torch::kFloat32);
  const double attention = (0.1 * 1.0 * std::log(4.0) + 1.0) / (0.1 * 0.5 * std::log(4.0) + 1.0);
  const int64_t dim = a.qk_rope_head_dim;
  const double slowest = 1.0 / std::pow(50000.0, double(dim - 2) / dim) / 4.0;
  CHECK(angles.cos[0][0][0][0].item<double>() == doctest::Approx(std::cos(1.0) * attention).epsilon(1e-5));
  CHECK(angles.cos[0][0][0][dim / 2 - 1].item<double>() == doctest::Approx(std::cos(slowest) * attention).epsilon(1e-5));

  auto unknown = base;
  unknown["model_type"] = "gpt_neox";
  CHECK_THROWS_WITH_AS(from_config_json(unknown, "c.json"), doctest::Contains("known: r1_moe, qwen2"), r1::UserError);
  auto missing = base;
  missing.erase("kv_lora_rank");
  CHECK_THROWS_WITH_AS(from_config_json(missing, "c.json"), doctest::Contains("c.json: missing key 'kv_lora_rank'"),
                       r1::UserError);
  auto sliding = read_json(fixture("qwen2") / "config.json");
  sliding["use_sliding_window"] = true;
  CHECK_THROWS_WITH_AS(from_config_json(sliding, "q.json"), doctest::Contains("use_sliding_window"), r1::UserError);
  auto dynamic = read_json(fixture("qwen2") / "config.json");
  dynamic["rope_parameters"] = {{"rope_type", "dynamic"}, {"rope_theta", 10000.0}, {"factor", 2.0}};
  CHECK_THROWS_WITH_AS(from_config_json(dynamic, "q.json"), doctest::Contains("rope_type 'dynamic' is not supported"),
                       r1::UserError);
}

TEST_CASE("HF families train: gradients reach MLA projections, the router and the experts") {
  auto model = load_model(fixture("deepseek_v3").string());
  auto ids = torch::tensor({{5, 9, 2, 7, 1, 3}}, torch::kLong);
  auto out = model->forward(ids);
  auto loss = torch::log_softmax(model->logits(out.hidden), -1).select(-1, 4).mean() + out.aux_loss;
  loss.backward();
  auto params = model->named_parameters(true);
  for (const char* name : {"model.layers.0.self_attn.q_a_proj.weight", "model.layers.1.self_attn.kv_b_proj.weight",
                           "model.layers.1.mlp.gate.weight", "model.layers.1.mlp.shared_experts.up_proj.weight"}) {
    CAPTURE(name);
    REQUIRE(params[name].grad().defined());
    CHECK(params[name].grad().abs().sum().item<double>() > 0);
  }
  // The correction bias is a buffer: saved and loaded, never trained by gradients.
  CHECK(model->named_buffers(true).contains("model.layers.1.mlp.gate.e_score_correction_bias"));
}

TEST_CASE("HF parity fixtures exercise each family's own parts: switching one off breaks the match") {
  torch::NoGradGuard no_grad;
  // family, a tensor the family has and the others lack, what to set it to. (A k bias would barely
  // matter: it shifts all of a query's scores alike, up to the rotation.)
  const std::vector<std::tuple<std::string, std::string, double>> parts = {
      {"qwen2", "model.layers.0.self_attn.v_proj.bias", 0.0},
      {"qwen3", "model.layers.0.self_attn.q_norm.weight", 1.0},
      {"qwen2_moe", "model.layers.1.mlp.shared_expert_gate.weight", 0.0},
      {"deepseek_v3", "model.layers.1.mlp.gate.e_score_correction_bias", 0.0},
      {"deepseek_v2", "model.layers.0.self_attn.kv_a_layernorm.weight", 1.0},
  };
  for (const auto& [family, name, value] : parts) {
    CAPTURE(family);
    CAPTURE(name);
    auto model = load_model(fixture(family).string());
    auto params = model->named_parameters(true);
    auto buffers = model->named_buffers(true);
    auto* tensor = params.find(name) ? params.find(name) : buffers.find(name);
    REQUIRE(tensor != nullptr);
    tensor->fill_(value);
    double diff = 0;
    for (const auto& row : read_expected(family))
      if (row.ids.size() >= 2) diff = std::max(diff, max_abs_diff(full_logprobs(model, row.ids), row.logprobs));
    CHECK(diff > 1e-3);
  }
}

TEST_CASE("HF configs: DeepSeek-V3's published config counts 671B parameters, 37B active per token") {
  // tests/fixtures/hf-configs/deepseek_v3_671b.json: the released config.json's shape keys (its
  // rope_scaling spelling, torch_dtype; without quantization_config). Counted, never built.
  const auto config = from_config_json(
      read_json(fs::path(R1_SOURCE_DIR) / "tests" / "fixtures" / "hf-configs" / "deepseek_v3_671b.json"), "v3.json");
  const auto counts = count_parameters(config);
  CHECK(counts.total == doctest::Approx(671e9).epsilon(0.005));
  CHECK(counts.active_per_token == doctest::Approx(37e9).epsilon(0.02));
  CHECK(config.num_moe_layers() == 58);  // first_k_dense_replace: 3
  // YaRN with mscale == mscale_all_dim: cos/sin unscaled, softmax scale times mscale(40, 1)^2.
  const double m = 0.1 * std::log(40.0) + 1.0;
  CHECK(config.attention_scale == doctest::Approx(m * m / std::sqrt(192.0)));
}
