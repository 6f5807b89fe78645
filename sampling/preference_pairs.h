// Preference pairs for the reward model: (prompt, chosen, rejected), from a JSONL file or built
// from a judged stage in the trace store (an accepted and a rejected sample of the same prompt).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sampling/trace_store.h"

namespace r1::sampling {

struct PreferencePair {
  std::string prompt;    // the question, without the chat template
  std::string chosen;    // the preferred completion
  std::string rejected;  // the other
};

// One {"prompt": str, "chosen": str, "rejected": str} object per line (blank lines skipped).
// UserError naming the file and line for bad JSON, a missing or non-string key, or chosen == rejected.
std::vector<PreferencePair> load_preference_pairs_jsonl(const std::string& path);

// For every prompt of `stage` in run `run_id` with both verdicts: up to `max_per_prompt` pairs of a
// distinct accepted and a distinct rejected completion (a rejected completion that was also
// accepted, a "duplicate", is never used), cycling through both lists in trace order. Deterministic; prompts in order of first trace.
std::vector<PreferencePair> preference_pairs_from_store(const TraceStore& store, int64_t run_id,
                                                        const std::string& stage, int64_t max_per_prompt);

}  // namespace r1::sampling
