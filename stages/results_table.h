// The closing table of a run: per stage, accuracy on the held-out prompts, format compliance,
// language-consistency share and mean completion length, read from each stage's done.json.
// Written to <run dir>/results.md and results.json and printed at the end of `r1 run`.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::stages {

struct ResultsTable {
  nlohmann::json rows = nlohmann::json::array();  // {stage, accuracy, format, language, tokens, chat_preferred, preference, note}
  std::string markdown() const;
};

// Rows for the finished stages among `stages`, in that order; unfinished ones are left out.
ResultsTable results_table(const std::filesystem::path& run_dir, const std::vector<std::string>& stages);

}  // namespace r1::stages
