// Reading and building preference pairs.
#include "sampling/preference_pairs.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/jsonl.h"

namespace r1::sampling {

std::vector<PreferencePair> load_preference_pairs_jsonl(const std::string& path) {
  std::vector<PreferencePair> pairs;
  for_each_jsonl(path, [&](const nlohmann::json& row, int64_t line_number) {
    PreferencePair pair;
    for (auto [key, field] : {std::pair{"prompt", &pair.prompt}, {"chosen", &pair.chosen}, {"rejected", &pair.rejected}}) {
      R1_CHECK(row.contains(key), path, ":", line_number, ": missing \"", key, "\"");
      R1_CHECK(row[key].is_string(), path, ":", line_number, ": \"", key, "\" must be a string, got ",
               row[key].type_name());
      *field = row[key].get<std::string>();
    }
    R1_CHECK(pair.chosen != pair.rejected, path, ":", line_number, ": \"chosen\" equals \"rejected\"");
    pairs.push_back(std::move(pair));
  }, "preference pairs file");
  R1_CHECK(!pairs.empty(), path, ": no preference pairs");
  return pairs;
}

std::vector<PreferencePair> preference_pairs_from_store(const TraceStore& store, int64_t run_id,
                                                        const std::string& stage, int64_t max_per_prompt) {
  TraceFilter filter;
  filter.run_id = run_id;
  filter.stage = stage;
  filter.limit = -1;
  struct Judged {
    std::vector<std::string> accepted, rejected;
  };
  std::vector<std::string> prompts;  // in order of first trace
  std::map<std::string, Judged> by_prompt;
  for (const auto& row : store.list(filter)) {
    if (!row.accepted) continue;  // not judged
    auto [it, fresh] = by_prompt.try_emplace(row.prompt);
    if (fresh) prompts.push_back(row.prompt);
    auto& list = *row.accepted ? it->second.accepted : it->second.rejected;
    if (std::find(list.begin(), list.end(), row.completion) == list.end()) list.push_back(row.completion);
  }
  std::vector<PreferencePair> pairs;
  for (const auto& prompt : prompts) {
    auto& judged = by_prompt[prompt];
    // A "duplicate" rejection is the text of an accepted sample: no preference between the two.
    const std::set<std::string> accepted(judged.accepted.begin(), judged.accepted.end());
    std::erase_if(judged.rejected, [&](const std::string& c) { return accepted.count(c) > 0; });
    if (judged.accepted.empty() || judged.rejected.empty()) continue;
    const auto count = std::min<std::size_t>(std::size_t(max_per_prompt),
                                             std::max(judged.accepted.size(), judged.rejected.size()));
    for (std::size_t i = 0; i < count; ++i)
      pairs.push_back({prompt, judged.accepted[i % judged.accepted.size()], judged.rejected[i % judged.rejected.size()]});
  }
  return pairs;
}

}  // namespace r1::sampling
