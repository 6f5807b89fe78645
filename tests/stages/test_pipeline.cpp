// The whole R1 flow through `r1 run configs/r1-tiny.yaml`, shrunk to a few steps per stage: every
// stage finishes and feeds the next (zero -> cold_start -> reasoning_rl -> rejection_sampling ->
// sft -> reward_model -> final_rl, distill), the verdicts land in the store, and the closing table has a row per stage. The
// verdict rules are loosened here: a 20-step base writes nothing correct, and wiring is under test,
// not learning (the demo's figures are in the README).
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <vector>
#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"

namespace {

const std::string kFlowConfig = std::string(R1_SOURCE_DIR) + "/configs/r1-tiny.yaml";

std::string loose_verdict(const std::string& stage) {
  return " --set " + stage + ".verdict.require_correct=false --set " + stage + ".verdict.require_format=false --set " +
         stage + ".verdict.min_language_share=0";
}

const std::string kTinyFlow =
    kTinyRun + " --set cold_start.num_prompts=4 --set cold_start.samples_per_prompt=2 --set cold_start.training.steps=3"
               " --set cold_start.rewrite=true"
               " --set reasoning_rl.steps=2 --set reasoning_rl.prompts_per_step=2 --set reasoning_rl.grpo.group_size=4"
               " --set rejection_sampling.num_prompts=6 --set rejection_sampling.samples_per_prompt=3"
               " --set sft.training.steps=3 --set distill.pretrain.steps=3 --set distill.training.steps=3"
               " --set rejection_sampling.chat_prompts=2 --set eval.chat_prompts=2"
               " --set reward_model.training.steps=3 --set reward_model.held_out_share=0"
               " --set final_rl.steps=2 --set final_rl.prompts_per_step=2 --set final_rl.chat_prompts_per_step=1"
               " --set final_rl.grpo.group_size=4" +
    loose_verdict("cold_start") + loose_verdict("rejection_sampling");

// The traces `r1 traces list` returns for these filters, as JSON objects.
std::vector<nlohmann::json> traces(const std::filesystem::path& run, const std::string& filters) {
  auto listed = r1("traces list --json --limit -1 --db " + (run / "traces.db").string() + " " + filters);
  REQUIRE(listed.exit_code == 0);
  std::vector<nlohmann::json> rows;
  std::istringstream lines(listed.output);
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

nlohmann::json done(const std::filesystem::path& run, const std::string& stage) {
  std::ifstream in(run / stage / "done.json");
  return nlohmann::json::parse(in)["summary"];
}

}  // namespace

TEST_CASE("r1-tiny: every stage runs, feeds the next, and reports in the closing table") {
  const auto dir = fresh_dir("pipeline_flow");
  const auto run = dir / "run";
  // A 20-step base writes no preferred chat reply, so the store alone would give the reward model no pair.
  write_text(dir / "pairs.jsonl",
             "{\"prompt\": \"Say hello to Mia.\", \"chosen\": \"<answer>Hello, how are you?</answer>\", "
             "\"rejected\": \"<answer>Hallo, wie geht es dir?</answer>\"}\n"
             "{\"prompt\": \"Say goodbye to Tom.\", \"chosen\": \"<answer>Goodbye, see you soon!</answer>\", "
             "\"rejected\": \"<answer>Thank you so much!</answer>\"}\n");
  const std::string flow = kTinyFlow + " --set reward_model.pairs_file=" + (dir / "pairs.jsonl").string();
  auto result = r1("run " + kFlowConfig + flow + " --run-dir " + run.string());
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  for (const char* stage : {"pretrain", "zero", "cold_start", "reasoning_rl", "rejection_sampling", "sft",
                            "reward_model", "final_rl", "distill"}) {
    CAPTURE(stage);
    CHECK(std::filesystem::exists(run / stage / "done.json"));
  }
  for (const char* stage : {"zero", "cold_start", "reasoning_rl", "sft", "reward_model", "final_rl", "distill"})
    CHECK(std::filesystem::exists(run / stage / "model" / "config.json"));
  CHECK(std::filesystem::exists(run / "distill" / "baseline" / "config.json"));

  // Every sample of the judged stages is in the store with a verdict; the accepted ones are the SFT sets.
  CHECK(traces(run, "--stage rejection_sampling").size() == (6 + 2) * 3);  // reasoning + chat prompts
  const int64_t accepted = int64_t(traces(run, "--stage rejection_sampling --accepted yes").size());
  const auto rs_summary = done(run, "rejection_sampling");
  CHECK(rs_summary["samples"] == 24);
  CHECK(rs_summary["chat_samples"] == 6);
  CHECK(rs_summary["accepted"] == accepted);
  CHECK(done(run, "sft")["sft_examples"] == accepted);
  CHECK(done(run, "distill")["sft_examples"] == accepted);
  int64_t rejected = 0;
  for (const auto& [reason, count] : rs_summary["rejections"].items()) {
    CAPTURE(reason);  // duplicate: the only reasoning rule left on; the rest: the chat labeller's
    CHECK((reason == "duplicate" || reason == "bad_format" || reason == "not_preferred" ||
           reason == "mixed_language" || reason == "off_topic" || reason == "repetition"));
    CHECK(int64_t(traces(run, "--stage rejection_sampling --rejection-reason " + reason).size()) == count.get<int64_t>());
    rejected += count.get<int64_t>();
  }
  CHECK(accepted + rejected == 24);

  // The reward model learned from the file's pairs (and any the store had); final RL scored its chat
  // prompts with it and its reasoning prompts with the rule rewards.
  const auto rm = done(run, "reward_model");
  CHECK(rm["train_pairs"].get<int64_t>() >= 2);
  std::ifstream rm_config(run / "reward_model" / "model" / "config.json");
  CHECK(nlohmann::json::parse(rm_config)["architectures"][0] == "R1ForSequenceClassification");
  const auto final_rl = traces(run, "--stage final_rl");
  CHECK(final_rl.size() == 2 * (2 + 1) * 4);
  int64_t chat_traces = 0;
  for (const auto& row : final_rl) {
    const bool chat = row["components"].contains("reward_model");
    chat_traces += chat;
    CHECK(row["components"].contains("accuracy") == !chat);
  }
  CHECK(chat_traces == 2 * 1 * 4);
  CHECK(done(run, "final_rl")["eval_preference"].is_number());
  CHECK(done(run, "final_rl")["eval_preference_before"].is_number());
  CHECK(traces(run, "--stage cold_start").size() == 4 * 2);
  CHECK(done(run, "cold_start")["data"]["samples"] == 8);
  const auto rl = traces(run, "--stage reasoning_rl");
  CHECK(rl.size() == 2 * 2 * 4);
  for (const auto& row : rl) CHECK(row["components"].contains("language_consistency"));

  // The closing table: a file and the end of the output, one row per stage (two for distill).
  std::ifstream table_file(run / "results.md");
  const std::string table((std::istreambuf_iterator<char>(table_file)), {});
  for (const char* row : {"| pretrain |", "| zero |", "| cold_start |", "| reasoning_rl |", "| rejection_sampling |",
                          "| sft |", "| reward_model |", "| final_rl |", "| distill (student, corpus only) |",
                          "| distill (student + traces) |"}) {
    CAPTURE(row);
    CHECK(table.find(row) != std::string::npos);
  }
  CHECK(result.output.find(table) != std::string::npos);
  const auto rows = nlohmann::json::parse(std::ifstream(run / "results.json"));
  CHECK(rows.size() == 10);
  for (const auto& row : rows) CHECK(row["accuracy"].is_number() == (row["stage"] != "reward_model"));

  auto status = r1("status " + run.string());
  CHECK(status.exit_code == 0);
  CHECK(status.output.find("rejection_sampling: done") != std::string::npos);

  // Re-running a stage replaces its traces instead of adding a second copy (or failing on them).
  auto again = r1("run " + kFlowConfig + flow + " --run-dir " + run.string() + " --only rejection_sampling");
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("[rejection_sampling] removed 24 traces of an earlier attempt") != std::string::npos);
  CHECK(traces(run, "--stage rejection_sampling").size() == 24);
  CHECK(traces(run, "--stage zero").size() == 2 * 2 * 4);  // other stages untouched
}

TEST_CASE("a stage with nothing to learn from says so, exit 2") {
  const auto dir = fresh_dir("pipeline_empty");
  // A verdict nothing passes (a share above 1 is refused, so: every rule on, a 20-step base).
  auto result = r1("run " + kFlowConfig + kTinyRun +
                   " --set stages=[pretrain,zero,cold_start] --set cold_start.num_prompts=2"
                   " --set cold_start.samples_per_prompt=1 --run-dir " + (dir / "run").string());
  CHECK(result.exit_code == 2);
  CHECK(result.output.find("cold_start: no sample of 'zero' passed the verdict") != std::string::npos);
}
