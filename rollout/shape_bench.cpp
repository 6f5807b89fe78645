#include "rollout/shape_bench.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include <torch/torch.h>
#if defined(R1_TORCH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "common/error.h"
#include "policy/models/family.h"
#include "policy/tokenizer.h"
#include "rollout/engine_weights.h"
#include "rollout/null_runner.h"
#include "rollout/paged_engine.h"
#include "rollout/torch_runner.h"

namespace r1::rollout {

namespace {

// Sequences never stop early: no id is EOS.
class NoEosTokenizer : public policy::ByteTokenizer {
 public:
  int64_t eos_id() const override { return -1; }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Forces the device to finish queued work (a one-element read back).
void synchronize(const torch::Tensor& t) { (void)t.flatten()[0].item<float>(); }

// Read plus write bytes per second of a device-to-device copy (Decisions).
double copy_bandwidth(const torch::Device& device) {
  const int64_t bytes = device.is_cuda() ? (int64_t{1} << 30) : (int64_t{128} << 20);
  auto src = torch::ones({bytes / 4}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  auto dst = torch::empty_like(src);
  dst.copy_(src);
  synchronize(dst);
  double best = 1e300;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    dst.copy_(src);
    synchronize(dst);
    best = std::min(best, seconds_since(start));
  }
  return 2.0 * double(bytes) / best;
}

policy::CausalLM shape_model(const std::string& name, const ShapeBenchOptions& o, const torch::Device& device) {
  const auto json = rollout_bench_shape(name);
  const auto& family = policy::find_model_family(json.at("model_type").get<std::string>(), "bench shape " + name);
  auto config = family.read_config(json, "bench shape " + name);
  config.max_position = std::max(config.max_position, o.prompt_tokens + o.new_tokens + 1);
  if (o.layers > 0) config.num_layers = std::min(config.num_layers, o.layers);
  torch::manual_seed(int64_t(o.seed));
  policy::CausalLM model(config);
  model->eval();
  model->to(device, o.dtype == "float32" ? torch::kFloat32 : torch::kBFloat16);
  return model;
}

// Hands LibTorch's cached device memory back to the driver: the CUDA runner allocates its weights
// and K/V pool with cudaMalloc, which cannot use what LibTorch's allocator keeps (the fp32 learner
// of the refresh row alone is 28 GB at the OLMoE shape). A no-op in a CPU LibTorch build.
void release_cached_device_memory() {
#if defined(R1_TORCH_CUDA)
  if (torch::cuda::is_available()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

// `python3 script ...`: the last line of its stdout as JSON, or a reason it could not run.
nlohmann::json run_hf_baseline(const ShapeBenchOptions& o, const std::string& shape, int64_t batch,
                               const std::string& device, std::ostream& log) {
  if (o.hf_script.empty()) return {{"note", "no --hf-script"}};
  if (!std::filesystem::exists(o.hf_script)) return {{"note", "no " + o.hf_script + " here"}};
  auto config = rollout_bench_shape(shape);
  if (o.layers > 0) config["num_hidden_layers"] = std::min<int64_t>(config["num_hidden_layers"].get<int64_t>(), o.layers);
  config["max_position_embeddings"] =
      std::max<int64_t>(config["max_position_embeddings"].get<int64_t>(), o.prompt_tokens + o.new_tokens + 1);
  const auto path = std::filesystem::temp_directory_path() / ("r1-bench-" + shape + ".json");
  std::ofstream(path) << config.dump(2);
  const std::string command = "python3 '" + o.hf_script + "' --config '" + path.string() + "' --batch " +
                              std::to_string(batch) + " --prompt-tokens " + std::to_string(o.prompt_tokens) +
                              " --new-tokens " + std::to_string(o.new_tokens) + " --device " + device + " --dtype " +
                              o.dtype + " --seed " + std::to_string(o.seed) + " 2>&1";
  log << "bench rollout: " << command << std::endl;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {{"note", "could not start python3"}};
  std::string output, last;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  std::filesystem::remove(path);
  std::size_t end = output.find_last_not_of("\n");
  if (end != std::string::npos) {
    const std::size_t begin = output.rfind('\n', end);
    last = output.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1) + 1);
  }
  if (status != 0) return {{"note", "transformers baseline failed: " + last}};
  try {
    return nlohmann::json::parse(last);
  } catch (const nlohmann::json::exception&) {
    return {{"note", "transformers baseline printed no JSON: " + last}};
  }
}

}  // namespace

std::vector<std::string> rollout_bench_shape_names() { return {"qwen2.5-0.5b", "olmoe-1b-7b"}; }

nlohmann::json rollout_bench_shape(const std::string& name) {
  if (name == "qwen2.5-0.5b")  // Qwen/Qwen2.5-0.5B's config.json sizes
    return {{"model_type", "qwen2"},        {"hidden_size", 896},          {"intermediate_size", 4864},
            {"num_hidden_layers", 24},      {"num_attention_heads", 14},   {"num_key_value_heads", 2},
            {"vocab_size", 151936},         {"max_position_embeddings", 32768}, {"rms_norm_eps", 1e-6},
            {"rope_theta", 1000000.0},      {"tie_word_embeddings", true}, {"hidden_act", "silu"},
            {"use_sliding_window", false},  {"sliding_window", nullptr},   {"initializer_range", 0.02}};
  if (name == "olmoe-1b-7b")  // allenai/OLMoE-1B-7B's sizes, in the qwen3_moe family (Decisions)
    return {{"model_type", "qwen3_moe"},   {"hidden_size", 2048},          {"intermediate_size", 1024},
            {"moe_intermediate_size", 1024}, {"num_hidden_layers", 16},   {"num_attention_heads", 16},
            {"num_key_value_heads", 16},   {"head_dim", 128},              {"num_experts", 64},
            {"num_experts_per_tok", 8},    {"norm_topk_prob", false},      {"decoder_sparse_step", 1},
            {"mlp_only_layers", nlohmann::json::array()}, {"vocab_size", 50304},
            {"max_position_embeddings", 4096}, {"rms_norm_eps", 1e-5},     {"rope_theta", 10000.0},
            {"tie_word_embeddings", false}, {"hidden_act", "silu"},        {"use_sliding_window", false},
            {"sliding_window", nullptr},   {"initializer_range", 0.02}};
  std::string known;
  for (const auto& n : rollout_bench_shape_names()) known += (known.empty() ? "" : ", ") + n;
  R1_FAIL("unknown bench shape '", name, "'; known: ", known);
}

double decode_step_bytes(const policy::CausalLM& model, int64_t batch, int64_t context, int64_t kv_bytes_per_token) {
  const auto& c = model->config();
  // Expected distinct experts among batch * top_k uniform choices of E.
  const double distinct =
      c.is_moe() ? double(c.num_experts) * (1.0 - std::pow(1.0 - double(c.num_experts_per_token) / c.num_experts, batch))
                 : 0.0;
  double bytes = 0;
  for (const auto& item : model->named_parameters()) {
    const auto& name = item.key();
    const double size = double(item.value().numel()) * double(item.value().element_size());
    if (name.find(".experts.") != std::string::npos)
      bytes += size * distinct / double(c.num_experts);  // one expert's share
    else if (name.find("embed_tokens") != std::string::npos && !c.tie_word_embeddings)
      bytes += size * double(batch) / double(c.vocab_size);  // the batch's rows only
    else
      bytes += size;  // tied embeddings are read whole as the output matrix
  }
  return bytes + double(batch) * double(context) * double(kv_bytes_per_token);
}

// The refresh after an optimiser step: an fp32 learner at the shape, the engine's bf16 copy of it
// (EngineWeights for the LibTorch runner; the CUDA runner's own device weights), the fastest of
// three refreshes. Its bytes (read + written) per second compare with the copy bandwidth, which
// counts both directions too.
nlohmann::json weight_refresh_row(const std::string& shape, const ShapeBenchOptions& o, const torch::Device& device,
                                  double bandwidth) {
  ShapeBenchOptions fp32 = o;
  fp32.dtype = "float32";
  const auto learner = shape_model(shape, fp32, device);
  WeightRefresh best;
  auto keep_best = [&](const WeightRefresh& r) {
    if (best.tensors == 0 || r.seconds < best.seconds) best = r;
  };
  if (o.runner == "cuda") {
    auto runner = o.cuda_runner(learner, true);  // built by a first refresh: the warm-up
    for (int i = 0; i < 3; ++i) {
      runner->refresh_weights();
      keep_best(runner->last_refresh());
    }
  } else {
    EngineWeights views(learner, device, torch::kBFloat16);
    for (int i = 0; i < 3; ++i) keep_best(views.refresh());
  }
  const double moved = double(best.bytes_read + best.bytes_written);
  return {{"shape", shape},
          {"tensors", best.tensors},
          {"bytes_read", best.bytes_read},
          {"bytes_written", best.bytes_written},
          {"ms", best.seconds * 1e3},
          {"gb_s", moved / best.seconds / 1e9},
          {"fraction_of_copy_bandwidth", moved / best.seconds / bandwidth}};
}

nlohmann::json bench_rollout_shapes(const ShapeBenchOptions& o, std::ostream& log) {
  R1_CHECK(o.prompt_tokens >= 1 && o.new_tokens >= 1, "bench rollout: --prompt-tokens and --new-tokens must be >= 1");
  R1_CHECK(o.dtype == "bfloat16" || o.dtype == "float32", "bench rollout: --dtype must be bfloat16 or float32, got '",
           o.dtype, "'");
  R1_CHECK(!o.batches.empty(), "bench rollout: --batches is empty");
  for (int64_t b : o.batches) R1_CHECK(b >= 1, "bench rollout: batch sizes must be >= 1, got ", b);
  for (const auto& shape : o.shapes) rollout_bench_shape(shape);  // unknown names fail before any work
  R1_CHECK(o.runner == "torch" || o.runner == "cuda" || o.runner == "null",
           "bench rollout: --runner must be torch, cuda or null, got '", o.runner, "'");
  const bool on_null_runner = o.runner == "null";
  const bool on_cuda_runner = o.runner == "cuda";
  R1_CHECK(!on_cuda_runner || o.cuda_runner, "bench rollout: --runner cuda, but this build has no CUDA runner (no CUDA toolkit at configure time)");
  const bool cuda = o.device == "cuda" || (o.device == "auto" && torch::cuda::is_available());
  R1_CHECK(o.device == "auto" || o.device == "cuda" || o.device == "cpu", "bench rollout: --device must be auto, cuda or cpu");
  R1_CHECK(!cuda || torch::cuda::is_available(), "bench rollout: --device cuda, but LibTorch sees no GPU");
  const torch::Device device(cuda ? torch::kCUDA : torch::kCPU);
  const std::string device_name = cuda ? "cuda" : "cpu";

  const double bandwidth = copy_bandwidth(device);
  log << "bench rollout: copy bandwidth " << bandwidth / 1e9 << " GB/s on " << device_name << std::endl;
  NoEosTokenizer tokenizer;
  nlohmann::json results = nlohmann::json::array(), refreshes = nlohmann::json::array();
  for (const auto& shape : o.shapes) {
    refreshes.push_back(weight_refresh_row(shape, o, device, bandwidth));
    release_cached_device_memory();
    log << "bench rollout: weight refresh " << refreshes.back().dump() << std::endl;
    auto model = shape_model(shape, o, device);
    log << "bench rollout: " << shape << ", " << model->num_parameters() << " parameters, "
        << model->config().num_layers << " layers" << std::endl;
    for (int64_t batch : o.batches) {
      const int64_t block_tokens = 16;
      const int64_t kv_per_token =
          model_kv_geometry(model->config(), 1, int64_t(model->model->embed_tokens->weight.element_size())).bytes_per_block();
      const int64_t blocks_per_seq = (o.prompt_tokens + o.new_tokens + block_tokens - 1) / block_tokens + 1;
      PagedEngineConfig config;
      config.block_tokens = block_tokens;
      config.num_blocks = batch * blocks_per_seq;
      config.scheduler.max_running = batch;
      config.scheduler.max_tokens_per_step = std::max<int64_t>(2048, batch);
      config.scheduler.prefill_chunk = 512;
      std::unique_ptr<ModelRunner> runner;
      release_cached_device_memory();  // the previous batch's engine and pool are gone
      if (on_cuda_runner) {
        runner = o.cuda_runner(model, o.dtype == "bfloat16");
      } else if (on_null_runner) {
        runner = std::make_unique<NullRunner>(model);
      } else {
        TorchRunnerOptions runner_options;
        runner_options.cache_bytes = config.num_blocks * block_tokens * kv_per_token;
        runner = std::make_unique<TorchRunner>(model, runner_options);
      }
      PagedEngine engine(std::move(runner), tokenizer, config);

      std::mt19937_64 rng(o.seed + uint64_t(batch));
      std::uniform_int_distribution<int64_t> token(0, model->config().vocab_size - 1);
      std::vector<GenerationRequest> requests(batch);
      for (int64_t b = 0; b < batch; ++b) {
        requests[b].prompt_ids.resize(o.prompt_tokens);
        for (auto& id : requests[b].prompt_ids) id = token(rng);
        requests[b].params.max_tokens = o.new_tokens;
        requests[b].seed = o.seed + uint64_t(b);
      }
      auto warm = requests;  // a short run first: allocator, kernels, caches
      for (auto& r : warm) r.params.max_tokens = std::min<int64_t>(4, o.new_tokens);
      engine.generate(warm);
      const auto start = std::chrono::steady_clock::now();
      const auto generated = engine.generate(requests);
      const double seconds = seconds_since(start);
      int64_t tokens = 0;
      for (const auto& result : generated) tokens += int64_t(result.samples.at(0).token_ids.size());

      double roofline_seconds = 0;
      for (int64_t step = 0; step < o.new_tokens; ++step)
        roofline_seconds += decode_step_bytes(model, batch, o.prompt_tokens + step, kv_per_token) / bandwidth;
      const double tok_s = double(tokens) / seconds;
      // The engine loop alone on the same workload (rollout/null_runner.h): what every synchronous
      // step of the measured runner also spends on the host, against the decode roofline.
      double host_seconds = seconds;
      int64_t host_steps = engine.last_stats().steps;
      if (!on_null_runner) {
        PagedEngine host(std::make_unique<NullRunner>(model), tokenizer, config);
        host.generate(warm);
        const auto host_start = std::chrono::steady_clock::now();
        host.generate(requests);
        host_seconds = seconds_since(host_start);
        host_steps = host.last_stats().steps;
      }
      const double roofline = double(batch * o.new_tokens) / roofline_seconds;
      nlohmann::json row = {{"shape", shape},          {"batch", batch},         {"tok_s", tok_s},
                            {"roofline_tok_s", roofline}, {"fraction", tok_s / roofline}, {"tokens", tokens},
                            {"seconds", seconds},      {"steps", engine.last_stats().steps},
                            {"host_ms_per_step", host_seconds * 1e3 / double(std::max<int64_t>(host_steps, 1))},
                            {"host_fraction_of_roofline", host_seconds / roofline_seconds}};
      const auto hf = on_null_runner ? nlohmann::json{{"note", "--runner null: no baseline"}}
                                     : run_hf_baseline(o, shape, batch, device_name, log);
      row["hf_tok_s"] = hf.contains("tok_s") ? hf["tok_s"] : nlohmann::json(nullptr);
      if (hf.contains("note")) row["hf_note"] = hf["note"];
      if (hf.contains("tok_s")) row["speedup_vs_hf"] = tok_s / hf["tok_s"].get<double>();
      log << "bench rollout: " << row.dump() << std::endl;
      results.push_back(row);
    }
  }
  return {{"bench", "rollout"},
          {"engine", on_cuda_runner   ? "paged, CUDA runner (kernels + cuBLAS)"
                     : on_null_runner ? "paged, null runner (the engine loop alone)"
                                      : "paged, LibTorch runner"},
          {"device", device_name},
          {"dtype", o.dtype},
          {"copy_bandwidth_gb_s", bandwidth / 1e9},
          {"prompt_tokens", o.prompt_tokens},
          {"new_tokens", o.new_tokens},
          {"layers", o.layers > 0 ? nlohmann::json(o.layers) : nlohmann::json("as the shape")},
          {"weight_refresh", refreshes},
          {"results", results}};
}

}  // namespace r1::rollout
