// What the engine tests on the HF parity fixtures (tests/fixtures/hf-parity) share: the families,
// a loader, and a tokenizer for their 256-id vocabulary.
#pragma once

#include <string>
#include <vector>

#include "policy/checkpoint.h"
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

}  // namespace r1::test
