// `r1 traces list|show|search|stats|export` as a user runs them: on a generated store (every
// filter checked against the rows it returns), on the database of a real `r1 run`, and with
// hostile input (quotes, SQL fragments, huge numbers, malformed full-text queries).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "cli_runner.h"

namespace fs = std::filesystem;

namespace {

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line.front() == '{') out.push_back(nlohmann::json::parse(line));
  return out;
}

// A generated store of 4,000 traces in three stages (r1 bench store --generate-only), made once.
const std::string& generated_db() {
  static const std::string db = [] {
    const auto dir = fresh_dir("cli_traces_generated");
    const std::string path = (dir / "traces.db").string();
    auto made = r1("bench store --generate-only --samples 4000 --seed 7 --db " + path);
    INFO(made.output);
    REQUIRE(made.exit_code == 0);
    return path;
  }();
  return db;
}

}  // namespace

TEST_CASE("traces list: each filter holds for every row returned, sorts order them, counts add up") {
  const std::string db = generated_db();
  auto all = r1("traces list --json --limit -1 --db " + db);
  REQUIRE(all.exit_code == 0);
  const auto rows = json_lines(all.output);
  REQUIRE(rows.size() == 4000);

  auto filtered = r1("traces list --json --limit -1 --db " + db +
                     " --stage reasoning_rl --min-step 2 --max-step 3 --min-reward 1 --finish-reason stop"
                     " --min-tokens 20 --max-language 0.999");
  REQUIRE(filtered.exit_code == 0);
  const auto got = json_lines(filtered.output);
  std::size_t expected = 0;
  for (const auto& row : rows) {
    expected += row["stage"] == "reasoning_rl" && row["step"] >= 2 && row["step"] <= 3 && row["reward"] >= 1.0 &&
                row["finish_reason"] == "stop" && row["completion_tokens"] >= 20 && row["language_share"] <= 0.999;
  }
  CHECK(expected > 0);
  CHECK(got.size() == expected);
  for (const auto& row : got) {
    CHECK(row["stage"] == "reasoning_rl");
    CHECK(row["reward"].get<double>() >= 1.0);
    CHECK(row["language_share"].get<double>() <= 0.999);
  }

  // Rejection-sampling verdicts.
  auto rejected = r1("traces list --json --limit -1 --db " + db + " --accepted no --rejection-reason incorrect");
  const auto rejected_rows = json_lines(rejected.output);
  CHECK(!rejected_rows.empty());
  for (const auto& row : rejected_rows) {
    CHECK(row["accepted"] == false);
    CHECK(row["outcome"] == "fail");
  }
  auto accepted = r1("traces list --json --limit -1 --db " + db + " --accepted yes");
  for (const auto& row : json_lines(accepted.output)) {
    CHECK(row["stage"] == "rejection_sampling");
    CHECK(row["outcome"] == "pass");
  }

  // Sorted by reward, largest first, paged.
  auto sorted = r1("traces list --json --db " + db + " --sort reward --desc --limit 30 --offset 10");
  const auto page = json_lines(sorted.output);
  REQUIRE(page.size() == 30);
  for (std::size_t i = 1; i < page.size(); ++i) CHECK(page[i - 1]["reward"] >= page[i]["reward"]);

  // The human table ends with the count.
  auto table = r1("traces list --db " + db + " --stage zero --limit 5");
  CHECK(table.exit_code == 0);
  CHECK(table.output.find("matching; showing 5 from offset 0") != std::string::npos);
}

TEST_CASE("traces show lays out reasoning and answer apart; export writes every field of every match") {
  const std::string db = generated_db();
  auto show = r1("traces show 17 --color never --db " + db);
  REQUIRE(show.exit_code == 0);
  CHECK(show.output.find("reasoning") != std::string::npos);
  CHECK(show.output.find("answer") != std::string::npos);
  CHECK(show.output.find("language_consistency = ") != std::string::npos);
  CHECK(show.output.find("\033[") == std::string::npos);  // --color never
  auto colored = r1("traces show 17 --color always --db " + db);
  CHECK(colored.output.find("\033[1m") != std::string::npos);

  auto json = r1("traces show 17 --json --db " + db);
  const auto trace = nlohmann::json::parse(json.output);
  const std::string completion = trace["completion"];
  CHECK(completion.find("<think>" + trace["reasoning"].get<std::string>()) == 0);
  CHECK(completion.find("<answer>" + trace["answer"].get<std::string>() + "</answer>") != std::string::npos);

  const auto out = fs::path(db).parent_path() / "accepted.jsonl";
  auto exported = r1("traces export --accepted yes -o " + out.string() + " --db " + db);
  REQUIRE(exported.exit_code == 0);
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  const auto lines = json_lines(text.str());
  auto count = r1("traces list --accepted yes --limit 0 --db " + db);
  CHECK(count.output.find("(" + std::to_string(lines.size()) + " matching") != std::string::npos);
  REQUIRE(!lines.empty());
  for (const char* field : {"prompt", "completion", "reasoning", "answer", "reward", "components", "accepted",
                            "language_share", "logprob_mean", "seed", "stage", "step"})
    CHECK(lines.front().contains(field));
  // Keyset pages (5,000 rows each) do not repeat or skip: ids strictly increase.
  for (std::size_t i = 1; i < lines.size(); ++i) CHECK(lines[i - 1]["id"] < lines[i]["id"]);
}

TEST_CASE("traces search and stats") {
  const std::string db = generated_db();
  auto found = r1("traces search \"zuerst addieren\" --json --limit 20 --db " + db);
  REQUIRE(found.exit_code == 0);
  const auto hits = json_lines(found.output);
  REQUIRE(hits.size() == 20);
  for (std::size_t i = 0; i < hits.size(); ++i) {
    const std::string completion = hits[i]["completion"];
    CHECK(completion.find("zuerst") != std::string::npos);
    CHECK(completion.find("addieren") != std::string::npos);
    CHECK(hits[i]["snippet"].get<std::string>().find("[") != std::string::npos);
    if (i > 0) CHECK(hits[i - 1]["id"] > hits[i]["id"]);  // newest first
  }
  auto narrowed = r1("traces search zuerst --json --limit -1 --stage zero --max-reward 0.5 --db " + db);
  for (const auto& row : json_lines(narrowed.output)) {
    CHECK(row["stage"] == "zero");
    CHECK(row["reward"].get<double>() <= 0.5);
  }
  auto phrase = r1("traces search --fts '\"carry the remainder\"' --json --limit 5 --db " + db);
  CHECK(phrase.exit_code == 0);
  for (const auto& row : json_lines(phrase.output))
    CHECK(row["completion"].get<std::string>().find("carry the remainder") != std::string::npos);

  auto stats = r1("traces stats --json --db " + db);
  REQUIRE(stats.exit_code == 0);
  const auto lines = json_lines(stats.output);
  int64_t total = 0;
  bool rejection_summary = false;
  for (const auto& line : lines) {
    if (line["step"] == "all") {
      total += line["count"].get<int64_t>();
      if (line["stage"] == "rejection_sampling") {
        rejection_summary = true;
        CHECK(line["accepted"].get<int64_t>() + line["rejected"].get<int64_t>() == line["count"].get<int64_t>());
        CHECK(line["rejections"].contains("incorrect"));
      }
    }
  }
  CHECK(total == 4000);
  CHECK(rejection_summary);
  auto per_stage = r1("traces stats --per-stage --db " + db);
  CHECK(per_stage.exit_code == 0);
  CHECK(per_stage.output.find("reasoning_rl") != std::string::npos);
}

TEST_CASE("traces commands: hostile input is plain data or a clear error (exit 2), and loses nothing") {
  const std::string db = generated_db();
  for (const std::string stage : {"\"'; DROP TABLE samples; --\"", "\"zero' OR '1'='1\"", "\"%\"", "\"\""}) {
    auto listed = r1("traces list --json --stage " + stage + " --db " + db);
    CHECK(listed.exit_code == 0);
    CHECK(json_lines(listed.output).empty());
  }
  for (const std::string text : {"'\"'", "\"AND OR NOT\"", "\"NEAR(\"", "'*'", "\"col:x\"", "\") OR 1=1 --\""}) {
    auto searched = r1("traces search " + text + " --db " + db);
    INFO(text, searched.output);
    CHECK(searched.exit_code == 0);
  }
  auto malformed = r1("traces search --fts '\"unclosed' --db " + db);
  CHECK(malformed.exit_code == 2);
  CHECK(malformed.output.find("not a valid full-text query") != std::string::npos);

  struct Bad {
    std::string args;
    std::string message;
  };
  for (const Bad& bad : std::vector<Bad>{{"list --offset -5", "--offset"},
                                         {"list --sort bogus", "--sort"},
                                         {"list --accepted maybe", "--accepted"},
                                         {"list --min-reward abc", "min-reward"},
                                         {"list --min-step 1.5", "min-step"},
                                         {"show 99999999999", "no trace with id 99999999999"},
                                         {"show -1", "no trace"},
                                         {"show --color sometimes 1", "--color"}}) {
    auto result = r1("traces " + bad.args + " --db " + db);
    INFO(bad.args, result.output);
    CHECK(result.exit_code == 2);
    CHECK(result.output.find(bad.message) != std::string::npos);
  }
  // Huge finite numbers are values, not errors.
  auto huge = r1("traces list --json --min-reward 1e300 --db " + db);
  CHECK(huge.exit_code == 0);
  CHECK(json_lines(huge.output).empty());

  // Files that are not trace stores.
  const auto dir = fs::path(db).parent_path();
  write_text(dir / "not_a_db.db", "hello, this is text\n");
  auto not_db = r1("traces list --db " + (dir / "not_a_db.db").string());
  CHECK(not_db.exit_code == 2);
  CHECK(not_db.output.find("not_a_db.db") != std::string::npos);
  auto missing = r1("traces list --db " + (dir / "absent.db").string());
  CHECK(missing.exit_code == 2);

  // Nothing was lost.
  auto all = r1("traces list --limit 0 --db " + db);
  CHECK(all.output.find("(4000 matching") != std::string::npos);
}

TEST_CASE("every traces command works on the database a real r1 run wrote") {
  auto dir = fresh_dir("cli_traces_run");
  auto run = r1("run " + kDemoConfig + kTinyRun + " --run-dir " + (dir / "run").string());
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const std::string db = (dir / "run/traces.db").string();
  auto listed = r1("traces list --json --limit -1 --stage zero --db " + db);
  REQUIRE(listed.exit_code == 0);
  const auto rows = json_lines(listed.output);
  REQUIRE(rows.size() == 16);  // 2 steps x 2 prompts x 4 samples
  for (const auto& row : rows) {
    CHECK(row["run"] == "tiny-zero");
    CHECK(row["prompt_tokens"].get<int64_t>() > 0);
    CHECK(row["completion_tokens"].get<int64_t>() > 0);
    CHECK(row["logprob_min"].get<double>() <= row["logprob_mean"].get<double>());
    // The run measures every trace's language share (run.language: en), rewarded or not.
    CHECK(row["language_share"].is_number());
    CHECK(row["advantage"].is_number());
    CHECK(row["components"].contains("accuracy"));
  }
  CHECK(r1("traces show " + std::to_string(rows.front()["id"].get<int64_t>()) + " --db " + db).exit_code == 0);
  auto stats = r1("traces stats --json --db " + db);
  CHECK(stats.exit_code == 0);
  CHECK(json_lines(stats.output).size() == 3);  // step 1, step 2, all
  auto search = r1("traces search the --db " + db);
  CHECK(search.exit_code == 0);
  auto exported = r1("traces export --db " + db);
  CHECK(json_lines(exported.output).size() == 16);
}
