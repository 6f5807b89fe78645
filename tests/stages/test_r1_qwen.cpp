// configs/r1-qwen.yaml, the real-model flow, run end to end on the small random-weight Hugging Face
// fixtures (tests/fixtures/hf-parity): Qwen3-MoE as the base, dense Qwen3 as the distillation
// student, a byte-level BPE tokenizer.json of exactly their 256 ids, and GSM8K-format JSONL files,
// every stage shrunk to a couple of steps. Random weights learn nothing; what is under test is the
// wiring: every stage starts from the checkpoint the config names, writes a model the next one
// loads, and the traces and the closing table appear.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"
#include "tests/stages/hf_checkpoint.h"

namespace {

namespace fs = std::filesystem;

const std::string kQwenConfig = std::string(R1_SOURCE_DIR) + "/configs/r1-qwen.yaml";

std::string gsm8k_rows(int count, int offset) {
  std::string rows;
  for (int i = 0; i < count; ++i) {
    const int a = i + offset, b = 2 * i + 1;
    rows += nlohmann::json({{"question", "Tom has " + std::to_string(a) + " apples and buys " + std::to_string(b) +
                                             " more. How many apples does he have?"},
                            {"answer", "He has " + std::to_string(a) + " + " + std::to_string(b) + " = " +
                                           std::to_string(a + b) + " apples.\n#### " + std::to_string(a + b)}})
                .dump() +
            "\n";
  }
  return rows;
}

// Every stage a couple of steps long, short completions, loose verdicts (random weights write
// nothing correct), and pairs for the reward model from a file.
std::string shrunk(const fs::path& dir) {
  // A short system line: the R1-Zero instruction alone nearly fills the fixtures' 512 positions.
  std::string args = " --set template.system=Answer. --set run.threads=2 --set eval.num_prompts=2 --set eval.samples_per_prompt=2"
                     " --set eval.sampling.max_tokens=12";
  for (const char* stage : {"zero", "reasoning_rl", "final_rl"})
    args += std::string(" --set ") + stage + ".steps=2 --set " + stage + ".prompts_per_step=2 --set " + stage +
            ".grpo.group_size=2 --set " + stage + ".sampling.max_tokens=12";
  for (const char* stage : {"cold_start", "rejection_sampling"})
    args += std::string(" --set ") + stage + ".num_prompts=3 --set " + stage + ".samples_per_prompt=2 --set " + stage +
            ".sampling.max_tokens=12 --set " + stage + ".verdict.require_correct=false --set " + stage +
            ".verdict.require_format=false --set " + stage + ".verdict.min_language_share=0 --set " + stage +
            ".verdict.reject_duplicates=false";
  for (const char* section : {"cold_start.training", "sft.training", "reward_model.training", "distill.training"})
    args += std::string(" --set ") + section + ".steps=2 --set " + section + ".batch_size=2 --set " + section +
            ".log_every=1 --set " + section + ".checkpoint_every=0";
  args += " --set reward_model.held_out_share=0 --set reward_model.pairs_file=" + (dir / "pairs.jsonl").string();
  return args;
}

nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(std::ifstream(path)); }

}  // namespace

TEST_CASE("r1-qwen.yaml runs every stage on Hugging Face checkpoints and GSM8K-format data") {
  if (!fs::exists(kHfFixtures / "qwen3_moe" / "config.json")) {
    MESSAGE("skipped: no HF fixtures at " << kHfFixtures.string());
    return;
  }
  const auto dir = fresh_dir("r1_qwen");
  const auto base = make_checkpoint(dir / "base", "qwen3_moe");
  const auto student = make_checkpoint(dir / "student", "qwen3");
  write_text(dir / "train.jsonl", gsm8k_rows(12, 1));
  write_text(dir / "test.jsonl", gsm8k_rows(4, 40));
  write_text(dir / "pairs.jsonl",
             nlohmann::json({{"prompt", "Tom has 1 apple and buys 2 more. How many apples does he have?"},
                             {"chosen", "<think>1 + 2 = 3</think> <answer>3</answer>"},
                             {"rejected", "<think>1 + 2 = 4</think> <answer>4</answer>"}})
                     .dump() +
                 "\n");
  const std::string given = " --set base=" + base.string() + " --set data.train=" + (dir / "train.jsonl").string() +
                            " --set data.test=" + (dir / "test.jsonl").string() +
                            " --set distill.student_from=" + student.string();
  const auto run = dir / "run";
  auto result = r1("run " + kQwenConfig + given + shrunk(dir) + " --run-dir " + run.string());
  INFO(result.output);
  REQUIRE(result.exit_code == 0);

  for (const char* stage : {"zero", "cold_start", "reasoning_rl", "rejection_sampling", "sft", "reward_model",
                            "final_rl", "distill"}) {
    CAPTURE(stage);
    CHECK(fs::exists(run / stage / "done.json"));
  }
  // The policies stay Qwen3-MoE checkpoints (HF names and config), the student a Qwen3 one.
  for (const char* stage : {"zero", "cold_start", "reasoning_rl", "sft", "final_rl"}) {
    CAPTURE(stage);
    CHECK(read_json(run / stage / "model" / "config.json")["model_type"] == "qwen3_moe");
  }
  CHECK(read_json(run / "distill" / "model" / "config.json")["model_type"] == "qwen3");
  // Prompts came from the files: the stored prompts are the GSM8K rows.
  auto listed = r1("traces list --json --limit -1 --stage rejection_sampling --db " + (run / "traces.db").string());
  REQUIRE(listed.exit_code == 0);
  CHECK(std::count(listed.output.begin(), listed.output.end(), '\n') == 3 * 2);
  CHECK(listed.output.find("apples does he have?") != std::string::npos);
  // final_rl scores with the reward model beside the rule rewards.
  auto final_rl = r1("traces list --json --limit 1 --stage final_rl --db " + (run / "traces.db").string());
  CHECK(final_rl.output.find("\"preference\"") != std::string::npos);
  CHECK(fs::exists(run / "results.md"));

  // What the command line must give is named when it is missing.
  auto no_base = r1("run " + kQwenConfig + " --set data.train=" + (dir / "train.jsonl").string() +
                    " --set data.test=" + (dir / "test.jsonl").string() + " --run-dir " + (dir / "no_base").string());
  CHECK(no_base.exit_code == 2);
  CHECK(no_base.output.find("base") != std::string::npos);
  auto no_data = r1("run " + kQwenConfig + " --set base=" + base.string() + " --run-dir " + (dir / "no_data").string());
  CHECK(no_data.exit_code == 2);
  CHECK(no_data.output.find("data.train") != std::string::npos);
}
