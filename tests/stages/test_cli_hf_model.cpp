// `r1 model logprobs` and `r1 model info` on Hugging Face directories that hold no tokenizer (the
// parity fixtures: config.json and model.safetensors only).
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"
#include "tests/stages/hf_checkpoint.h"

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

TEST_CASE("r1 generate on Hugging Face checkpoints with a tokenizer.json: engine logprobs equal the teacher-forced ones") {
  // The teacher-forced log-probabilities are the ones checked against transformers above; the
  // engine's, sampled with a KV cache, must agree on its own tokens. Greedy twice with different
  // seeds gives the same tokens; sampling is a function of the seed.
  for (const std::string family : {"qwen3", "qwen2_moe", "deepseek_v3"}) {
    CAPTURE(family);
    if (!std::filesystem::exists(kHfFixtures / family / "config.json")) {
      MESSAGE("skipped: no HF fixture for " << family);
      continue;
    }
    const auto dir = make_checkpoint(fresh_dir("generate_" + family) / "model", family);
    const std::string base = "generate --model " + dir.string() + " --prompt 'Tom has 3 apples.' --template chatml";
    auto greedy = r1(base + " --temperature 0 --max-tokens 12 --seed 1");
    INFO(greedy.output);
    REQUIRE(greedy.exit_code == 0);
    auto greedy_again = r1(base + " --temperature 0 --max-tokens 12 --seed 99");
    REQUIRE(greedy_again.exit_code == 0);
    const auto sample = nlohmann::json::parse(greedy.output.substr(0, greedy.output.find('\n')));
    CHECK(nlohmann::json::parse(greedy_again.output.substr(0, greedy_again.output.find('\n')))["ids"] == sample["ids"]);
    CHECK(sample["prompt_ids"].size() > 20);  // ChatML's markers around the question, one id per byte
    REQUIRE(!sample["ids"].empty());

    auto sampled = r1(base + " --temperature 1 --n 3 --max-tokens 10 --seed 5");
    REQUIRE(sampled.exit_code == 0);
    CHECK(sampled.output == r1(base + " --temperature 1 --n 3 --max-tokens 10 --seed 5").output);

    // Teacher forcing over prompt + completion: the completion's logprobs sum to the engine's.
    for (const auto& line : {greedy.output, sampled.output}) {
      std::istringstream rows(line);
      std::string row_text;
      while (std::getline(rows, row_text)) {
        const auto row = nlohmann::json::parse(row_text);
        std::vector<int64_t> ids = row["prompt_ids"].get<std::vector<int64_t>>();
        const auto completion = row["ids"].get<std::vector<int64_t>>();
        ids.insert(ids.end(), completion.begin(), completion.end());
        const auto input = dir.parent_path() / "ids.jsonl";
        write_text(input, nlohmann::json({{"ids", ids}}).dump() + "\n");
        auto lp = r1("model logprobs --model " + dir.string() + " --input " + input.string());
        REQUIRE(lp.exit_code == 0);
        const auto logprobs = nlohmann::json::parse(lp.output)["logprobs"].get<std::vector<double>>();
        double forced = 0;
        for (std::size_t i = row["prompt_ids"].size() - 1; i < logprobs.size(); ++i) forced += logprobs[i];
        CHECK(row["logprob"].get<double>() == doctest::Approx(forced).epsilon(1e-5));
      }
    }
  }
}
