// The `overlong` penalty: DAPO's soft overlong punishment. With L the completion's length,
// Lmax = max_length and B = buffer:
//   0                      when L <= Lmax - B
//   (Lmax - B - L) / B     when Lmax - B < L <= Lmax   (linear from 0 down to -1)
//   -1                     when L > Lmax
// Length is in tokens when metadata gives "num_tokens" (the pipeline knows them; rewards never see
// tokens), else in Unicode code points of the completion — a stand-in that is tokenizer-free and
// does not punish non-Latin text for its longer UTF-8 bytes. Configure max_length in the unit the
// pipeline passes. Outcome: pass when unpenalised, fail when penalised.
#include <cstddef>
#include <string>

#include "common/error.h"
#include "rewards/builtins.h"
#include "rewards/unicode_text.h"

namespace r1::rewards {

namespace {

// DAPO's settings: 20,480-token responses with a 4,096-token soft buffer.
constexpr long long kDefaultMaxLength = 20480;
constexpr long long kDefaultBuffer = 4096;

class OverlongReward : public Reward {
 public:
  OverlongReward(long long max_length, long long buffer) : max_length_(max_length), buffer_(buffer) {}

  std::string name() const override { return "overlong"; }

  RewardResult score(const RewardInput& input) const override {
    RewardResult result;
    long long length = 0;
    std::string unit = "code points";
    if (input.metadata.is_object() && input.metadata.contains("num_tokens")) {
      const nlohmann::json& tokens = input.metadata["num_tokens"];
      if (!tokens.is_number_integer() || tokens.get<long long>() < 0) {
        result.outcome = Outcome::error;
        result.reason = "metadata num_tokens is " + tokens.dump() + ", not a non-negative integer";
        result.components["overlong"] = 0.0;
        return result;
      }
      length = tokens.get<long long>();
      unit = "tokens";
    } else {
      length = static_cast<long long>(unicode::count_code_points(input.completion));
    }

    const long long soft_limit = max_length_ - buffer_;
    if (length <= soft_limit) {
      result.score = 0.0;
    } else if (length <= max_length_) {
      result.score = static_cast<double>(soft_limit - length) / static_cast<double>(buffer_);
    } else {
      result.score = -1.0;
    }
    result.components["overlong"] = result.score;
    result.outcome = result.score < 0 ? Outcome::fail : Outcome::pass;
    if (result.score < 0) {
      result.reason = std::to_string(length) + " " + unit + " > " + std::to_string(soft_limit) +
                      (length > max_length_ ? " and over max_length " + std::to_string(max_length_)
                                            : " (inside the buffer before max_length " +
                                                  std::to_string(max_length_) + ")");
    }
    return result;
  }

 private:
  long long max_length_;
  long long buffer_;
};

long long positive_integer(const nlohmann::json& options, const char* key, long long fallback) {
  if (!options.is_object() || !options.contains(key)) return fallback;
  const nlohmann::json& value = options[key];
  R1_CHECK(value.is_number_integer() && value.get<long long>() > 0,
           "overlong option ", key, " must be a positive integer, got ", value.dump());
  return value.get<long long>();
}

std::unique_ptr<Reward> make_overlong(const nlohmann::json& options) {
  check_option_keys("overlong", options, {"max_length", "buffer"});
  const long long max_length = positive_integer(options, "max_length", kDefaultMaxLength);
  // Without max_length too, DAPO's buffer; with only max_length, a buffer of a fifth of it.
  const bool max_given = options.is_object() && options.contains("max_length");
  const long long buffer =
      positive_integer(options, "buffer", max_given ? std::max(1LL, max_length / 5) : kDefaultBuffer);
  R1_CHECK(buffer <= max_length, "overlong option buffer (", buffer,
           ") must not exceed max_length (", max_length, ")");
  return std::make_unique<OverlongReward>(max_length, buffer);
}

}  // namespace

RewardInfo overlong_reward_info() {
  return {"overlong",
          "DAPO soft overlong penalty: 0 up to max_length - buffer, linear to -1 at max_length, -1 beyond",
          make_overlong,
          {{"max_length", std::to_string(kDefaultMaxLength),
            "length scored -1 (tokens when metadata has num_tokens, else code points)"},
           {"buffer", std::to_string(kDefaultBuffer) + " (max_length / 5 when only max_length is set)",
            "length before max_length over which the penalty grows from 0 to -1"}}};
}

}  // namespace r1::rewards
