// `r1 rewards score` as a user runs it on real data: every GSM8K test solution scored with
// math_accuracy against its own "#### N" answer gives 1; with the final number changed, 0.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"

namespace {

// Scores a JSONL file through the CLI; returns the rewards in order.
std::vector<double> score_file(const std::filesystem::path& input) {
  auto out = r1("rewards score --reward math_accuracy --input " + input.string());
  REQUIRE(out.exit_code == 0);
  std::vector<double> rewards;
  std::istringstream lines(out.output);
  for (std::string line; std::getline(lines, line);) rewards.push_back(nlohmann::json::parse(line)["reward"].get<double>());
  return rewards;
}

}  // namespace

TEST_CASE("rewards score: every GSM8K test solution matches its own answer, and a changed one does not") {
  const std::filesystem::path data = std::string(R1_SOURCE_DIR) + "/../shared/data/gsm8k/test.jsonl";
  if (!std::filesystem::exists(data)) {
    MESSAGE("skipped: " << data.string() << " is absent (the shared data folder is not next to the repository)");
    return;
  }
  auto dir = fresh_dir("gsm8k_cli");
  std::ifstream in(data);
  std::ofstream same(dir / "same.jsonl"), changed(dir / "changed.jsonl");
  int64_t rows = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto row = nlohmann::json::parse(line);
    const std::string solution = row["answer"].get<std::string>();
    const auto marker = solution.rfind("#### ");
    REQUIRE(marker != std::string::npos);
    const std::string answer = solution.substr(marker + 5);
    std::string digits;
    for (char c : answer)
      if (c != ',') digits += c;
    const std::string wrong = std::to_string(std::stoll(digits) + 1);
    same << nlohmann::json{{"prompt", row["question"]}, {"response", solution}, {"answer", answer}}.dump() << "\n";
    changed << nlohmann::json{{"prompt", row["question"]}, {"response", solution.substr(0, marker + 5) + wrong},
                              {"answer", answer}}.dump()
            << "\n";
    ++rows;
  }
  same.close();
  changed.close();
  CHECK(rows == 1319);
  const auto right = score_file(dir / "same.jsonl");
  const auto wrong = score_file(dir / "changed.jsonl");
  REQUIRE(int64_t(right.size()) == rows);
  REQUIRE(int64_t(wrong.size()) == rows);
  int64_t right_ones = 0, wrong_ones = 0;
  for (double r : right) right_ones += r == 1.0;
  for (double r : wrong) wrong_ones += r == 1.0;
  CHECK(right_ones == rows);
  CHECK(wrong_ones == 0);
}
