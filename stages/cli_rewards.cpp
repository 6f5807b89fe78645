// `r1 rewards list|score`.
#include <iostream>

#include "common/error.h"
#include "rewards/registry.h"
#include "stages/cli.h"

namespace r1::cli {

namespace {

// "accuracy,format" or "accuracy=1,format=0.5" -> weights.
std::map<std::string, double> parse_reward_list(const std::string& text) {
  std::map<std::string, double> weights;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    R1_CHECK(!item.empty(), "--reward: empty name in '", text, "'");
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      weights[item] = 1.0;
    } else {
      try {
        std::size_t used = 0;
        weights[item.substr(0, eq)] = std::stod(item.substr(eq + 1), &used);
        R1_CHECK(used == item.size() - eq - 1, "");
      } catch (const std::exception&) {
        R1_FAIL("--reward: weight of '", item.substr(0, eq), "' is not a number: '", item.substr(eq + 1), "'");
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return weights;
}

void score(const std::string& names, const std::string& input, int threads) {
  auto reward = rewards::compose(parse_reward_list(names));
  std::vector<rewards::RewardInput> inputs;
  for_each_jsonl(input, [&](const nlohmann::json& row, int64_t line) {
    for (const char* key : {"prompt", "response", "answer"})
      R1_CHECK(row.contains(key) && row[key].is_string(), input, ":", line, ": missing string field \"", key, "\"");
    inputs.push_back({row["prompt"], row["response"], row["answer"], row.value("metadata", nlohmann::json::object())});
  });
  for (const auto& result : rewards::score_batch(*reward, inputs, threads)) {
    nlohmann::json out = {{"reward", result.score}, {"components", result.components},
                          {"outcome", rewards::outcome_name(result.outcome)}};
    if (!result.reason.empty()) out["reason"] = result.reason;
    std::cout << to_json_text(out) << "\n";
  }
}

}  // namespace

void add_reward_commands(CLI::App& app) {
  auto* rewards_cmd = app.add_subcommand("rewards", "list the registered rewards, or score responses with them");
  rewards_cmd->require_subcommand(1);
  auto* list = rewards_cmd->add_subcommand("list", "list the registered rewards with their options (name = default)");
  list->callback([] {
    for (const auto& info : rewards::Registry::global().list()) {
      std::cout << info.name << "\t" << info.description << "\n";
      for (const auto& p : info.parameters)
        std::cout << "    " << p.name << " = " << p.default_value << "\t" << p.doc << "\n";
    }
  });

  auto names = std::make_shared<std::string>();
  auto input = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(2);
  auto* score_cmd = rewards_cmd->add_subcommand(
      "score", "score JSONL lines {\"prompt\", \"response\", \"answer\"}; prints {\"reward\", \"components\"} per line, same order");
  score_cmd->add_option("--reward", *names, "NAME[,NAME...] or NAME=WEIGHT,...")->required();
  score_cmd->add_option("--input", *input, "JSONL file, or - for stdin")->required();
  score_cmd->add_option("--threads", *threads, "scoring threads")->capture_default_str();
  score_cmd->callback([names, input, threads] { score(*names, *input, *threads); });
}

}  // namespace r1::cli
