// What the engine tests on the HF parity fixtures (tests/fixtures/hf-parity) share: the families,
// a loader, a config reader, and a tokenizer for their 256-id vocabulary.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/checkpoint.h"
#include "policy/model_config.h"
#include "policy/tokenizer.h"

namespace r1::test {

// The fixtures' vocabulary is 256 ids: EOS and padding moved inside it.
class SmallVocabTokenizer : public policy::ByteTokenizer {
 public:
  int64_t eos_id() const override { return 1; }
  int64_t pad_id() const override { return 0; }
};

inline const std::vector<std::string>& hf_fixture_families() {
  static const std::vector<std::string> families = {"qwen2",   "qwen3",       "qwen3_moe",  "qwen2_moe",
                                                    "mixtral", "deepseek_v3", "deepseek_v2"};
  return families;
}

inline policy::CausalLM load_hf_fixture(const std::string& family) {
  return policy::load_model(std::string(R1_SOURCE_DIR) + "/tests/fixtures/hf-parity/" + family);
}

// A family's fixture config.json with `changes` merged over it, read by the policy's own reader, so
// that the settings are the ones that family really gets.
inline policy::ModelConfig hf_fixture_config(const std::string& family, const nlohmann::json& changes = {}) {
  std::ifstream in(std::string(R1_SOURCE_DIR) + "/tests/fixtures/hf-parity/" + family + "/config.json");
  REQUIRE(in.good());
  auto json = nlohmann::json::parse(in);
  if (!changes.is_null()) json.merge_patch(changes);
  return policy::from_config_json(json, family + ".json");
}

}  // namespace r1::test
