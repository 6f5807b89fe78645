// FP8 E4M3 weights with DeepSeek-V3's block scales (policy/fp8.h): the code table, block
// dequantisation, and a whole checkpoint stored in FP8 loading into the model.
#include "tests/doctest_torch.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "policy/checkpoint.h"
#include "policy/fp8.h"
#include "policy/weight_files.h"

using namespace r1::policy;
namespace fs = std::filesystem;

namespace {

const fs::path kFixture = fs::path(R1_SOURCE_DIR) / "tests" / "fixtures" / "hf-parity" / "deepseek_v3";

// A safetensors file written by hand, so a tensor can be declared F8_E4M3 (save_safetensors
// writes only the dtypes r1 produces).
void write_safetensors(const fs::path& path, const std::vector<std::tuple<std::string, std::string, torch::Tensor>>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, dtype, tensor] : tensors) {
    auto t = tensor.contiguous();
    const auto begin = data.size();
    data.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
    header[name] = {{"dtype", dtype}, {"shape", t.sizes().vec()}, {"data_offsets", {begin, data.size()}}};
  }
  auto text = header.dump();
  std::string length(8, '\0');
  for (int i = 0; i < 8; ++i) length[i] = char((uint64_t(text.size()) >> (8 * i)) & 0xff);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << length << text << data;
}

// Nearest E4M3 code of each value of x (float [rows, cols]), NaN codes excluded.
torch::Tensor nearest_codes(const torch::Tensor& x) {
  auto table = fp8_e4m3_table().clone();
  table.masked_fill_(table.isnan(), std::numeric_limits<float>::infinity());
  return (x.reshape({-1, 1}) - table.unsqueeze(0)).abs().argmin(1).to(torch::kByte).view(x.sizes());
}

}  // namespace

TEST_CASE("E4M3 codes decode to their values: normals, subnormals, signs, the largest, NaN") {
  auto codes = torch::tensor({0x38, 0x30, 0xC0, 0x7E, 0x01, 0x08, 0x3C, 0x80, 0x00, 0x7F}, torch::kByte);
  auto v = decode_fp8_e4m3(codes);
  CHECK(v[0].item<float>() == 1.0f);
  CHECK(v[1].item<float>() == 0.5f);
  CHECK(v[2].item<float>() == -2.0f);
  CHECK(v[3].item<float>() == 448.0f);
  CHECK(v[4].item<float>() == std::ldexp(1.0f, -9));  // smallest subnormal
  CHECK(v[5].item<float>() == std::ldexp(1.0f, -6));  // smallest normal
  CHECK(v[6].item<float>() == 1.5f);
  CHECK(v[7].item<float>() == 0.0f);
  CHECK(std::signbit(v[7].item<float>()));
  CHECK(v[8].item<float>() == 0.0f);
  CHECK(std::isnan(v[9].item<float>()));
  // 254 codes are numbers, distinct but for +0 and -0.
  auto table = fp8_e4m3_table();
  CHECK(table.isnan().sum().item<int64_t>() == 2);
  CHECK(std::get<0>(at::_unique(table.masked_select(table.isnan().logical_not()))).numel() == 253);
}

TEST_CASE("block dequantisation: one factor per 128x128 block, edge blocks cut; a wrong scale shape is an error") {
  auto codes = torch::full({130, 3}, 0x38, torch::kByte);  // all 1.0
  auto scale = torch::tensor({{2.0f}, {3.0f}});
  auto w = dequantize_fp8_e4m3(codes, scale, "w");
  CHECK(w.sizes() == torch::IntArrayRef({130, 3}));
  CHECK(w[0][0].item<float>() == 2.0f);
  CHECK(w[127][2].item<float>() == 2.0f);
  CHECK(w[128][0].item<float>() == 3.0f);
  CHECK(w[129][2].item<float>() == 3.0f);
  CHECK_THROWS_WITH_AS(dequantize_fp8_e4m3(codes, torch::ones({1, 1}), "layers.0.w"),
                       doctest::Contains("layers.0.w_scale_inv: shape [1, 1]"), r1::UserError);
}

TEST_CASE("a DeepSeek-V3 checkpoint stored in FP8 with block scales loads into the model, weights exact") {
  if (!fs::exists(kFixture / "config.json")) {
    MESSAGE("skipped: no HF fixture at " << kFixture.string());
    return;
  }
  auto reference = load_model(kFixture.string());
  auto dir = fs::temp_directory_path() / ("r1_test_fp8_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(kFixture / "config.json", dir / "config.json");

  // Quantise what DeepSeek-V3 quantises: the 2-D projection weights of the layers (attention,
  // experts, shared experts); embeddings, norms, router and lm_head stay in float32.
  std::vector<std::tuple<std::string, std::string, torch::Tensor>> stored;
  std::map<std::string, torch::Tensor> expected;
  int64_t quantised = 0;
  for (const auto& item : reference->named_parameters(true)) {
    const auto& name = item.key();
    auto w = item.value().detach();
    const bool quantise = w.dim() == 2 && name.find("_proj.weight") != std::string::npos;
    if (!quantise) {
      stored.emplace_back(name, "F32", w);
      continue;
    }
    const int64_t rb = (w.size(0) + 127) / 128, cb = (w.size(1) + 127) / 128;
    auto padded = torch::zeros({rb * 128, cb * 128});
    padded.narrow(0, 0, w.size(0)).narrow(1, 0, w.size(1)).copy_(w);
    auto scale = padded.view({rb, 128, cb, 128}).abs().amax({1, 3}).clamp_min(1e-12) / 448.0;  // [rb, cb]
    auto factors = scale.repeat_interleave(128, 0).repeat_interleave(128, 1).narrow(0, 0, w.size(0)).narrow(1, 0, w.size(1));
    auto codes = nearest_codes(w / factors);
    stored.emplace_back(name, "F8_E4M3", codes);
    stored.emplace_back(name + "_scale_inv", "F32", scale.to(torch::kFloat32));
    expected[name] = decode_fp8_e4m3(codes) * factors;
    ++quantised;
  }
  for (const auto& item : reference->named_buffers(true)) stored.emplace_back(item.key(), "F32", item.value());
  write_safetensors(dir / "model.safetensors", stored);

  CheckpointWeights weights(dir.string());
  for (const auto& name : weights.names()) CHECK(name.find("_scale_inv") == std::string::npos);
  auto model = load_model(dir.string());
  int64_t checked = 0;
  for (const auto& item : model->named_parameters(true)) {
    auto found = expected.find(item.key());
    if (found == expected.end()) {
      CHECK(item.value().equal(reference->named_parameters(true)[item.key()]));
      continue;
    }
    CHECK(item.value().equal(found->second));
    ++checked;
  }
  MESSAGE(quantised << " weights stored in FP8 and dequantised exactly");
  CHECK(checked == quantised);
  CHECK(quantised >= 10);

  // The FP8 model computes nearly the float32 one's probabilities (3 mantissa bits).
  torch::NoGradGuard no_grad;
  auto ids = torch::arange(0, 40, torch::kLong).unsqueeze(0) * 5 % 256;
  auto logprobs = [&](CausalLM& m) { return torch::log_softmax(m->logits(m->forward(ids).hidden), -1); };
  auto exact = logprobs(reference);
  auto fp8 = logprobs(model);
  const double mean_diff = (exact - fp8).abs().mean().item<double>();
  MESSAGE("FP8 vs float32 mean |logprob difference| " << mean_diff);
  CHECK(mean_diff > 0);     // the weights did change
  CHECK(mean_diff < 0.05);  // but only by FP8 rounding
}
