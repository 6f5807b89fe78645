// The `r1` command line as a user meets it: help, config errors (exit 2 naming file, line and key),
// a short real pipeline run whose SQLite traces the stock sqlite3 shell can query, and the tools.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "tests/stages/cli_runner.h"

namespace fs = std::filesystem;

TEST_CASE("help for r1 and every subcommand") {
  auto top = r1("--help");
  CHECK(top.exit_code == 0);
  for (const char* cmd : {"run", "stage", "status", "generate", "model", "tokenize", "rewards", "traces"})
    CHECK(top.output.find(cmd) != std::string::npos);
  for (const char* cmd : {"run", "stage", "status", "generate", "model info", "model logprobs", "tokenize",
                          "bench tokenizer", "rewards list", "rewards score", "traces list", "traces show", "traces stats"}) {
    auto help = r1(std::string(cmd) + " --help");
    CHECK_MESSAGE(help.exit_code == 0, cmd);
    CHECK_MESSAGE(help.output.find("Usage") != std::string::npos, cmd);
  }
  CHECK(r1("").exit_code == 2);
  CHECK(r1("frobnicate").exit_code == 2);
}

TEST_CASE("malformed configs: one clear message naming file, line and key; exit 2") {
  auto dir = fresh_dir("cli_config");
  write_text(dir / "typo.yaml", "run:\n  name: x\nzero:\n  stepz: 3\n");
  auto typo = r1("run " + (dir / "typo.yaml").string() + " --run-dir " + (dir / "run").string());
  CHECK(typo.exit_code == 2);
  CHECK(typo.output.find("typo.yaml:4:3") != std::string::npos);
  CHECK(typo.output.find("zero.stepz") != std::string::npos);
  CHECK(typo.output.find("did you mean 'steps'") != std::string::npos);

  write_text(dir / "type.yaml", "pretrain:\n  steps: many\n");
  auto type = r1("run " + (dir / "type.yaml").string());
  CHECK(type.exit_code == 2);
  CHECK(type.output.find("type.yaml:2:10: pretrain.steps") != std::string::npos);

  write_text(dir / "syntax.yaml", "run: [unclosed\n");
  auto syntax = r1("run " + (dir / "syntax.yaml").string());
  CHECK(syntax.exit_code == 2);
  CHECK(syntax.output.find("syntax.yaml:") != std::string::npos);

  auto bad_set = r1("run " + kDemoConfig + " --set zero.grpo.clip_low=2");
  CHECK(bad_set.exit_code == 2);
  CHECK(bad_set.output.find("--set zero.grpo.clip_low=2") != std::string::npos);

  auto bad_stage = r1("run " + kDemoConfig + " --set stages=[pretrain,zer0] --run-dir " + (dir / "run").string());
  CHECK(bad_stage.exit_code == 2);
  CHECK(bad_stage.output.find("unknown stage 'zer0'") != std::string::npos);

  auto missing = r1("run " + (dir / "nope.yaml").string());
  CHECK(missing.exit_code == 2);
  CHECK(!fs::exists(dir / "run"));  // nothing was started
}

TEST_CASE("a short pipeline run writes the resolved config, checkpoints, metrics and SQLite traces") {
  auto dir = fresh_dir("cli_run");
  const auto run_dir = (dir / "run").string();
  auto run = r1("run " + kDemoConfig + kTinyRun + " --run-dir " + run_dir);
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.output.find("[zero] step   2/2") != std::string::npos);
  CHECK(run.output.find("accuracy") != std::string::npos);
  CHECK(fs::exists(dir / "run/config.yaml"));
  CHECK(fs::exists(dir / "run/pretrain/model/model.safetensors"));
  CHECK(fs::exists(dir / "run/zero/model/config.json"));
  CHECK(fs::exists(dir / "run/zero/metrics.jsonl"));
  CHECK(fs::exists(dir / "run/zero/done.json"));
  CHECK(fs::exists(dir / "run/zero/model/r1_chat_template.json"));

  // 2 steps x 2 prompts x 4 samples, every one in the store with its reward components.
  const std::string db = (dir / "run/traces.db").string();
  if (fs::exists("/usr/bin/sqlite3")) {
    auto count = run_command("sqlite3 " + db + " \"select count(*) from sample_view where stage = 'zero'\"");
    CHECK(count.output == "16\n");
    auto rewards = run_command("sqlite3 " + db +
                               " \"select count(*) from samples where json_extract(components, '$.accuracy')"
                               " is not null and json_extract(components, '$.format') is not null\"");
    CHECK(rewards.output == "16\n");
  } else {
    MESSAGE("sqlite3 shell not installed: skipping the shell query");
  }
  auto listed = r1("traces list --db " + db + " --stage zero --limit 3");
  CHECK(listed.exit_code == 0);
  auto stats = r1("traces stats --db " + db);
  CHECK(stats.exit_code == 0);
  CHECK(stats.output.find("zero") != std::string::npos);
  auto show = r1("traces show 1 --db " + db);
  CHECK(show.exit_code == 0);
  CHECK(show.output.find("reference") != std::string::npos);

  // A second run resumes: both stages are done, so both are skipped.
  auto again = r1("run " + kDemoConfig + kTinyRun + " --run-dir " + run_dir);
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("[pretrain] finished earlier") != std::string::npos);
  CHECK(again.output.find("[zero] finished earlier") != std::string::npos);
  auto status = r1("status " + run_dir);
  CHECK(status.exit_code == 0);
  CHECK(status.output.find("zero: done") != std::string::npos);

  // The checkpoint serves the model tools.
  const std::string model = run_dir + "/zero/model";
  auto info = r1("model info " + model);
  CHECK(info.exit_code == 0);
  CHECK(info.output.find("\"n_routed_experts\": 8") != std::string::npos);
  auto gen = r1("generate --model " + model + " --prompt \"Mia has 3 apples.\" --n 2 --max-tokens 8 --seed 3");
  CHECK(gen.exit_code == 0);
  CHECK(std::count(gen.output.begin(), gen.output.end(), '\n') == 2);
  write_text(dir / "ids.jsonl", "{\"ids\": [65, 66, 67, 68]}\n");
  auto lp = r1("model logprobs --model " + model + " --input " + (dir / "ids.jsonl").string());
  CHECK(lp.exit_code == 0);
  CHECK(lp.output.find("\"logprobs\":[") != std::string::npos);
  write_text(dir / "bad_ids.jsonl", "{\"ids\": [65, 9999]}\n");
  auto bad_lp = r1("model logprobs --model " + model + " --input " + (dir / "bad_ids.jsonl").string());
  CHECK(bad_lp.exit_code == 2);
  CHECK(bad_lp.output.find("bad_ids.jsonl:1") != std::string::npos);
}

TEST_CASE("rewards and tokenize speak JSONL, in order; bad lines name file and line") {
  auto dir = fresh_dir("cli_tools");
  write_text(dir / "in.jsonl",
             "{\"prompt\": \"2+2?\", \"response\": \"<think>2+2=4</think> <answer>4</answer>\", \"answer\": \"4\"}\n"
             "{\"prompt\": \"2+3?\", \"response\": \"<answer>6</answer>\", \"answer\": \"5\"}\n");
  auto scored = r1("rewards score --reward accuracy,format --input " + (dir / "in.jsonl").string());
  CHECK(scored.exit_code == 0);
  const auto first_line = scored.output.substr(0, scored.output.find('\n'));
  CHECK(first_line.find("\"reward\":2.0") != std::string::npos);
  CHECK(scored.output.find("\"reward\":0.0") != std::string::npos);
  auto listed = r1("rewards list");
  CHECK(listed.output.find("accuracy") != std::string::npos);
  CHECK(listed.output.find("format") != std::string::npos);

  write_text(dir / "broken.jsonl", "{\"prompt\": \"x\", \"response\": \"y\", \"answer\": \"1\"}\n{oops\n");
  auto broken = r1("rewards score --reward accuracy --input " + (dir / "broken.jsonl").string());
  CHECK(broken.exit_code == 2);
  CHECK(broken.output.find("broken.jsonl:2") != std::string::npos);
  auto unknown = r1("rewards score --reward acc --input " + (dir / "in.jsonl").string());
  CHECK(unknown.exit_code == 2);

  write_text(dir / "text.jsonl", "{\"text\": \"hi<think>\"}\n");
  auto tok = r1("tokenize --tokenizer byte --input " + (dir / "text.jsonl").string());
  CHECK(tok.exit_code == 0);
  CHECK(tok.output == "{\"ids\":[104,105,258]}\n");
  write_text(dir / "ids.jsonl", "{\"ids\": [104, 105, 258]}\n");
  auto back = r1("tokenize --decode --tokenizer byte --input " + (dir / "ids.jsonl").string());
  CHECK(back.exit_code == 0);
  CHECK(back.output == "{\"text\":\"hi<think>\"}\n");
  write_text(dir / "bad_ids.jsonl", "{\"ids\": [104, 99999]}\n");
  auto bad_ids = r1("tokenize --decode --tokenizer byte --input " + (dir / "bad_ids.jsonl").string());
  CHECK(bad_ids.exit_code == 2);
  CHECK(bad_ids.output.find("bad_ids.jsonl:1") != std::string::npos);
}

TEST_CASE("tokenize and bench tokenizer read a Hugging Face tokenizer.json, as a file or a directory") {
  auto dir = fresh_dir("cli_bpe");
  // Byte-level BPE over a three-letter alphabet is enough: "a", "b", " " and one merge "a b".
  write_text(dir / "tokenizer.json", R"({"added_tokens": [{"id": 4, "content": "<|im_end|>", "special": true}],
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "Ġ": 2, "ab": 3}, "merges": [["a", "b"]]}})");
  write_text(dir / "text.jsonl", "{\"text\": \"ab a<|im_end|>\"}\n");
  for (const std::string path : {dir.string(), (dir / "tokenizer.json").string()}) {
    auto tok = r1("tokenize --tokenizer " + path + " --input " + (dir / "text.jsonl").string());
    CHECK(tok.exit_code == 0);
    CHECK(tok.output == "{\"ids\":[3,2,0,4]}\n");
  }
  write_text(dir / "bad.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
  auto bad = r1("tokenize --tokenizer " + (dir / "bad.json").string() + " --input " + (dir / "text.jsonl").string());
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("bad.json: model type 'WordPiece'") != std::string::npos);
  auto bench = r1("bench tokenizer --tokenizer byte --mb 0.2 --repeats 1");
  CHECK(bench.exit_code == 0);
  CHECK(bench.output.find("\"round_trip_exact\":true") != std::string::npos);
}
