// Example `command` reward program: reads one JSON item a line on stdin
//   {"prompt": str, "response": str, "answer": str, "metadata": {...}}
// and writes one answer a line on stdout, flushed at once:
//   {"reward": 1 or 0, "components": {"contains_answer": ...}, "outcome": "pass"|"fail", "reason"?}
// reward 1 when the text after the last </think> contains the reference answer. Exits at the end
// of its input. Used as:  rewards: {contains: {reward: command, command: [path/to/this/program]}}
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    nlohmann::json answer;
    const nlohmann::json item = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (item.is_discarded() || !item.contains("response") || !item.contains("answer") ||
        !item["response"].is_string() || !item["answer"].is_string()) {
      // Still exactly one line per item: r1 pairs answers with items by order.
      answer = {{"outcome", "error"}, {"reason", "not an item with string response and answer"}};
    } else {
      std::string response = item["response"].get<std::string>();
      const std::string expected = item["answer"].get<std::string>();
      const std::size_t think_close = response.rfind("</think>");
      if (think_close != std::string::npos) response.erase(0, think_close + 8);
      const bool found = !expected.empty() && response.find(expected) != std::string::npos;
      answer = {{"reward", found ? 1.0 : 0.0},
                {"components", {{"contains_answer", found ? 1.0 : 0.0}}},
                {"outcome", found ? "pass" : "fail"}};
      if (!found) answer["reason"] = "the answer does not contain " + expected;
    }
    std::cout << answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  }
  return 0;
}
