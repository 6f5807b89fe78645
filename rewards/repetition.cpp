// The `repetition` penalty for looping text (as in "Demystifying Long Chain-of-Thought Reasoning in
// LLMs", Yeo et al. 2025): over the whole completion's words (word_scanner, numbers included,
// lowercased; each Han character a word),
//   score = -max_penalty * (1 - distinct n-grams / all n-grams)
// so 0 when no n-gram repeats, approaching -max_penalty as one n-gram repeats forever; 0 when the
// text has fewer than n words. Defaults: n = 3, max_penalty = 1, so the score is in [-1, 0].
// N-grams are compared by a 64-bit hash of their words (a collision, about 1 in 10^19 per pair,
// would only lower the penalty). The outcome is always pass: this is a graded penalty, not a
// verdict; the reason gives the counts when there is a penalty.
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/error.h"
#include "rewards/builtins.h"
#include "rewards/word_lists.h"
#include "rewards/word_scanner.h"

namespace r1::rewards {

namespace {

constexpr long long kDefaultN = 3;
constexpr long long kMaxN = 32;

std::uint64_t hash_word(std::string_view word) {
  std::uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (char c : word) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

// Mixes a word hash into an n-gram hash, position-sensitively ("a b" != "b a").
std::uint64_t mix(std::uint64_t seed, std::uint64_t value) {
  seed ^= value + 0x9E3779B97F4A7C15ull + (seed << 6) + (seed >> 2);
  seed ^= seed >> 31;
  seed *= 0xBF58476D1CE4E5B9ull;
  return seed;
}

class RepetitionReward : public Reward {
 public:
  RepetitionReward(std::size_t n, double max_penalty) : n_(n), max_penalty_(max_penalty) {}

  std::string name() const override { return "repetition"; }

  RewardResult score(const RewardInput& input) const override {
    std::vector<std::uint64_t> words;
    WordScanner scanner(input.completion, /*with_numbers=*/true);
    ScannedWord word;
    while (scanner.next(word)) {
      words.push_back(word.is_number ? hash_word(word.text) : hash_word(lowercase(word.text)));
    }

    RewardResult result;
    result.outcome = Outcome::pass;
    if (words.size() < n_) {
      result.components["repetition"] = 0.0;
      return result;
    }
    const std::size_t total = words.size() - n_ + 1;
    std::unordered_set<std::uint64_t> distinct;
    distinct.reserve(total);
    for (std::size_t start = 0; start < total; ++start) {
      std::uint64_t gram = static_cast<std::uint64_t>(n_);
      for (std::size_t i = 0; i < n_; ++i) gram = mix(gram, words[start + i]);
      distinct.insert(gram);
    }
    const double repeated_share = 1.0 - static_cast<double>(distinct.size()) / total;
    result.score = repeated_share == 0.0 ? 0.0 : -max_penalty_ * repeated_share;
    result.components["repetition"] = result.score;
    if (distinct.size() < total) {
      result.reason = std::to_string(total - distinct.size()) + " of " + std::to_string(total) +
                      " " + std::to_string(n_) + "-grams repeat an earlier one";
    }
    return result;
  }

 private:
  std::size_t n_;
  double max_penalty_;
};

std::unique_ptr<Reward> make_repetition(const nlohmann::json& options) {
  check_option_keys("repetition", options, {"n", "max_penalty"});
  long long n = kDefaultN;
  double max_penalty = 1.0;
  if (options.is_object() && options.contains("n")) {
    const nlohmann::json& value = options["n"];
    R1_CHECK(value.is_number_integer() && value.get<long long>() >= 1 &&
                 value.get<long long>() <= kMaxN,
             "repetition option n must be an integer in [1, ", kMaxN, "], got ", value.dump());
    n = value.get<long long>();
  }
  if (options.is_object() && options.contains("max_penalty")) {
    const nlohmann::json& value = options["max_penalty"];
    R1_CHECK(value.is_number() && value.get<double>() >= 0.0 && value.get<double>() <= 1e6,
             "repetition option max_penalty must be a number >= 0, got ", value.dump());
    max_penalty = value.get<double>();
  }
  return std::make_unique<RepetitionReward>(static_cast<std::size_t>(n), max_penalty);
}

}  // namespace

RewardInfo repetition_reward_info() {
  return {"repetition",
          "-(share of repeated word n-grams) * max_penalty, in [-max_penalty, 0]; options n (3), max_penalty (1)",
          make_repetition,
          {{"n", std::to_string(kDefaultN), "words per n-gram, in [1, 32]"},
           {"max_penalty", "1", "score when every n-gram repeats; the score is in [-max_penalty, 0]"}}};
}

}  // namespace r1::rewards
