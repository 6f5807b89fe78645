// A small trace database for the viewer's tests, written through the real store: three stages over
// several steps with per-step metrics, and a few traces whose text is hostile to a web page (markup,
// quotes, SQL, invalid UTF-8). Deterministic: the same file every time.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "sampling/trace_store.h"

namespace r1::viewer::testing {

struct FixtureStage {
  const char* name;
  int64_t steps;
  int64_t prompts_per_step;
  int64_t samples_per_prompt;
  bool judged;  // rejection sampling: each sample accepted or rejected
};

inline const std::vector<FixtureStage>& fixture_stages() {
  static const std::vector<FixtureStage> kStages = {
      {"zero", 8, 4, 4, false}, {"reasoning_rl", 6, 4, 4, false}, {"rejection_sampling", 1, 12, 4, true}};
  return kStages;
}

// Texts the tests look for.
inline constexpr const char* kScriptCompletion =
    "<think>try <script>alert(1)</script> and ' OR 1=1 -- then \"quotes\" & </think> <answer><b>42</b></answer>";
inline constexpr const char* kScriptPrompt = "What is <img src=x onerror=alert(2)>? Say '; DROP TABLE samples; --";
inline constexpr const char* kInvalidUtf8Completion = "<think>bad \xFF\xFE bytes \xC3</think> <answer>7</answer>";
inline constexpr const char* kRareWord = "zebra";  // in a few completions, for search

inline int64_t fixture_trace_count() {
  int64_t total = 0;
  for (const auto& stage : fixture_stages()) total += stage.steps * stage.prompts_per_step * stage.samples_per_prompt;
  return total;
}

inline std::vector<sampling::TraceRecord> fixture_records(const FixtureStage& stage, int64_t step, std::mt19937_64& rng) {
  static const char* const kWords[] = {"first", "we", "add", "the", "numbers", "then", "subtract", "carry",
                                       "so", "the", "total", "is", "check", "again", "wait", "verify"};
  static const char* const kGerman[] = {"zuerst", "addieren", "wir", "die", "zahlen", "dann", "also"};
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<sampling::TraceRecord> records;
  for (int64_t prompt = 0; prompt < stage.prompts_per_step; ++prompt) {
    const int a = int(rng() % 50), b = int(rng() % 50);
    std::vector<sampling::TraceRecord> group;
    double group_reward = 0;
    for (int64_t sample = 0; sample < stage.samples_per_prompt; ++sample) {
      sampling::TraceRecord r;
      r.stage = stage.name;
      r.step = step;
      r.prompt_index = step * stage.prompts_per_step + prompt;
      r.sample_index = sample;
      r.prompt = "Tom has " + std::to_string(a) + " apples and buys " + std::to_string(b) + " more. How many now?";
      r.reference = std::to_string(a + b);
      // Learning shows in the charts: accuracy and language consistency rise with the step.
      const bool correct = uniform(rng) < 0.3 + 0.08 * double(step);
      const bool drifts = std::string(stage.name) == "reasoning_rl" && uniform(rng) > 0.4 + 0.1 * double(step);
      std::string think;
      const int words = 8 + int(rng() % 20);
      int german = 0;
      for (int w = 0; w < words; ++w) {
        const bool in_german = drifts && w > words / 2;
        german += in_german;
        think += std::string(in_german ? kGerman[rng() % std::size(kGerman)] : kWords[rng() % std::size(kWords)]) + " ";
      }
      if (rng() % 17 == 0) think += std::string(kRareWord) + " ";
      const int answer = correct ? a + b : a + b + 1 + int(rng() % 5);
      r.completion = "<think>" + think + std::to_string(a) + " + " + std::to_string(b) + " = " + std::to_string(answer) +
                     "</think> <answer>" + std::to_string(answer) + "</answer>";
      r.prompt_tokens = 20;
      r.completion_tokens = int64_t(r.completion.size() / 4);
      r.finish_reason = rng() % 20 == 0 ? "length" : "stop";
      r.components["accuracy"] = correct ? 1.0 : 0.0;
      r.components["format"] = r.finish_reason == "stop" ? 1.0 : 0.0;
      r.language_share = 1.0 - double(german) / double(words);
      if (std::string(stage.name) == "reasoning_rl") r.components["language_consistency"] = r.language_share;
      r.reward = 0;
      for (const auto& [name, value] : r.components) r.reward += value;
      r.outcome = correct ? "pass" : "fail";
      if (!correct) r.reason = "expected " + r.reference;
      r.logprob_mean = -0.2 - uniform(rng);
      r.logprob_min = r.logprob_mean - 2.0 - uniform(rng);
      r.seed = uint64_t(1000 + r.prompt_index * 100 + sample);
      if (stage.judged) {
        r.accepted = correct && r.language_share > 0.9;
        if (!*r.accepted) r.rejection_reason = correct ? "mixed_language" : "incorrect";
      }
      group_reward += r.reward;
      group.push_back(std::move(r));
    }
    for (auto& r : group) r.advantage = r.reward - group_reward / double(group.size());
    records.insert(records.end(), group.begin(), group.end());
  }
  // The hostile ones, at fixed places.
  if (std::string(stage.name) == "zero" && step == 3) {
    records[0].completion = kScriptCompletion;
    records[0].prompt = kScriptPrompt;  // stored once per prompt: the group's first sample carries it
    for (auto& r : records)
      if (r.prompt_index == records[0].prompt_index) r.prompt = kScriptPrompt;
    records[1].completion = kInvalidUtf8Completion;
  }
  return records;
}

// Writes the fixture into `path` (a new file): run "viewer-test", every stage, and step metrics
// (loss, kl) for the stages that have more than one step.
inline void write_fixture_db(const std::string& path) {
  sampling::TraceStore store(path);
  const int64_t run = store.begin_run("viewer-test", "seed: 1\n");
  std::mt19937_64 rng(7);
  for (const auto& stage : fixture_stages()) {
    for (int64_t step = 0; step < stage.steps; ++step) {
      store.add_samples(run, fixture_records(stage, step, rng));
      if (stage.steps > 1)
        store.add_step_metrics(run, stage.name, step,
                               {{"loss", 1.0 / double(step + 1)}, {"kl", 0.01 * double(step)}});
    }
  }
  store.index_pending();  // searchable by the read-only server, as a finished run's store is
}

}  // namespace r1::viewer::testing
