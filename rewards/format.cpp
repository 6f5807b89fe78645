// The `format` verifier: is the completion exactly <think>...</think><answer>...</answer>, each tag
// once and in order? With option think_opened_by_prompt (for chat templates such as deepseek_r1
// whose assistant prefix already ends in "<think>\n"), the completion starts inside the thinking:
// it must hold no <think> of its own, then </think><answer>...</answer>.
// Plain string search, linear in the completion's length; knows nothing of the answer's meaning.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"
#include "rewards/builtins.h"
#include "rewards/text.h"

namespace r1::rewards {

namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kAnswerOpen = "<answer>";
constexpr std::string_view kAnswerClose = "</answer>";
constexpr std::array<std::string_view, 4> kTags = {kThinkOpen, kThinkClose, kAnswerOpen,
                                                   kAnswerClose};

constexpr std::string_view kComponent = "format";  // the component each verdict is recorded under

class FormatReward : public Reward {
 public:
  explicit FormatReward(bool think_opened_by_prompt)
      : think_opened_by_prompt_(think_opened_by_prompt) {}

  std::string name() const override { return "format"; }

  RewardResult score(const RewardInput& input) const override {
    if (think_opened_by_prompt_) {
      // Judge it as if the prompt's "<think>" were part of it; a second <think> then shows up as
      // a repeated tag.
      return score_body("<think>" + std::string(text::trim(input.completion)));
    }
    return score_body(input.completion);
  }

 private:
  RewardResult score_body(std::string_view completion) const {
    const std::string_view body = text::trim(completion);

    // Every tag exactly once; name every tag that is missing or repeated, not just the first.
    std::string problems;
    for (std::string_view tag : kTags) {
      const std::size_t times = text::count(body, tag);
      if (times == 1) continue;
      if (think_opened_by_prompt_ && tag == kThinkOpen) {
        if (!problems.empty()) problems += "; ";
        problems += "tag <think> appears in the completion, but the prompt already opened it";
        continue;
      }
      if (!problems.empty()) problems += "; ";
      problems += times == 0 ? "missing " + std::string(tag)
                             : "tag " + std::string(tag) + " appears " + std::to_string(times) +
                                   " times";
    }
    if (!problems.empty()) return binary_verdict(kComponent, false, problems);

    const std::size_t think_open = body.find(kThinkOpen);
    const std::size_t think_close = body.find(kThinkClose);
    const std::size_t answer_open = body.find(kAnswerOpen);
    const std::size_t answer_close = body.find(kAnswerClose);
    if (!(think_open < think_close && think_close < answer_open && answer_open < answer_close)) {
      return binary_verdict(kComponent, false, "tags out of order: expected <think>, </think>, <answer>, </answer>");
    }
    if (think_open != 0) return binary_verdict(kComponent, false, "text before <think>");
    const std::size_t gap_begin = think_close + kThinkClose.size();
    if (!text::is_blank(body.substr(gap_begin, answer_open - gap_begin))) {
      return binary_verdict(kComponent, false, "text between </think> and <answer>");
    }
    const std::size_t answer_begin = answer_open + kAnswerOpen.size();
    if (text::is_blank(body.substr(answer_begin, answer_close - answer_begin))) {
      return binary_verdict(kComponent, false, "empty answer");
    }
    // body is trimmed, so anything after </answer> is non-whitespace text.
    if (answer_close + kAnswerClose.size() != body.size()) {
      return binary_verdict(kComponent, false, "text after </answer>");
    }
    return binary_verdict(kComponent, true, "");
  }

  bool think_opened_by_prompt_;
};

std::unique_ptr<Reward> make_format(const nlohmann::json& options) {
  check_option_keys("format", options, {"think_opened_by_prompt"});
  bool think_opened_by_prompt = false;
  if (options.is_object() && options.contains("think_opened_by_prompt")) {
    const nlohmann::json& value = options["think_opened_by_prompt"];
    R1_CHECK(value.is_boolean(), "format option think_opened_by_prompt must be true or false, got ",
             value.dump());
    think_opened_by_prompt = value.get<bool>();
  }
  return std::make_unique<FormatReward>(think_opened_by_prompt);
}

}  // namespace

RewardInfo format_reward_info() {
  return {"format", "1 if the completion is exactly <think>...</think> <answer>...</answer>, else 0",
          make_format,
          {{"think_opened_by_prompt", "false",
            "the chat template's assistant prefix already opens <think> (e.g. deepseek_r1)"}}};
}

}  // namespace r1::rewards
