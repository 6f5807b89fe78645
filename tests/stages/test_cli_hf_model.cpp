// `r1 model logprobs` and `r1 model info` on Hugging Face directories that hold no tokenizer (the
// parity fixtures: config.json and model.safetensors only).
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"

namespace {
std::string fixture(const std::string& family) {
  return std::string(R1_SOURCE_DIR) + "/tests/fixtures/hf-parity/" + family;
}
}  // namespace

TEST_CASE("r1 model logprobs reads a tokenizer-less HF directory and matches transformers") {
  for (const std::string family : {"qwen3_moe", "deepseek_v3"}) {
    CAPTURE(family);
    const auto expected_path = fixture(family) + "/expected.jsonl";
    auto lp = r1("model logprobs --model " + fixture(family) + " --input " + expected_path);
    REQUIRE(lp.exit_code == 0);
    std::ifstream expected_in(expected_path);
    std::istringstream got_in(lp.output);
    std::string want_line, got_line;
    int rows = 0;
    double max_diff = 0;
    while (std::getline(expected_in, want_line) && std::getline(got_in, got_line)) {
      auto want = nlohmann::json::parse(want_line)["logprobs"];
      auto got = nlohmann::json::parse(got_line)["logprobs"];
      REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < got.size(); ++i)
        max_diff = std::max(max_diff, std::abs(got[i].get<double>() - want[i].get<double>()));
      ++rows;
    }
    CHECK(rows == 4);
    MESSAGE(family, " via the CLI: max |logprob - transformers| = ", max_diff);
    CHECK(max_diff < 1e-4);
  }
}

TEST_CASE("r1 model info prints family, parameter counts, experts, vocabulary, dtype and memory") {
  auto info = r1("model info " + fixture("deepseek_v3"));
  REQUIRE(info.exit_code == 0);
  auto j = nlohmann::json::parse(info.output);
  CHECK((j["model_type"] == "deepseek_v3"));
  CHECK(j["parameters"]["total"].get<int64_t>() > j["parameters"]["active_per_token"].get<int64_t>());
  CHECK((j["layers"] == 2));
  CHECK((j["moe_layers"] == 1));
  CHECK((j["experts"]["routed"] == 8));
  CHECK((j["experts"]["per_token"] == 2));
  CHECK((j["experts"]["shared"] == 1));
  CHECK((j["attention"] == "mla"));
  CHECK((j["vocab_size"] == 256));
  CHECK((j["dtype"] == "float32"));
  CHECK(j["memory"]["weights_bytes"].get<int64_t>() == 4 * j["parameters"]["total"].get<int64_t>());
  CHECK((j["tokenizer"].is_null()));

  auto missing = r1("model info " + fresh_dir("cli_hf_missing").string());
  CHECK(missing.exit_code == 2);
  CHECK(missing.output.find("config.json does not exist") != std::string::npos);
}
