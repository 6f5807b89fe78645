// Reading done.json summaries into the closing table.
#include "stages/results_table.h"

#include <cstdio>
#include <fstream>

#include "common/error.h"

namespace r1::stages {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_summary(const fs::path& done) {
  std::ifstream in(done);
  try {
    return nlohmann::json::parse(in).value("summary", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    R1_FAIL(done.string(), ": ", e.what());
  }
}

// A row from keys `<prefix>accuracy`, `<prefix>format`, `<prefix>language`, `<prefix>tokens`.
nlohmann::json row(const std::string& stage, const nlohmann::json& summary, const std::string& prefix,
                   const std::string& note) {
  auto value = [&](const char* key) { return summary.value(prefix + key, nlohmann::json()); };
  return {{"stage", stage},           {"accuracy", value("accuracy")}, {"format", value("format")},
          {"language", value("language")}, {"tokens", value("tokens")},     {"note", note}};
}

std::string cell(const nlohmann::json& value, const char* format) {
  if (!value.is_number()) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, value.get<double>());
  return text;
}

std::string data_note(const nlohmann::json& data) {
  if (!data.is_object()) return "";
  char text[160];
  std::snprintf(text, sizeof text, "%lld of %lld samples accepted (%.0f%%)", (long long)data.value("accepted", 0),
                (long long)data.value("samples", 0), 100.0 * data.value("accepted_share", 0.0));
  std::string note = text;
  if (data.contains("rejections") && data["rejections"].is_object() && !data["rejections"].empty()) {
    note += "; rejected:";
    for (const auto& [reason, count] : data["rejections"].items()) note += " " + reason + " " + count.dump();
  }
  return note;
}

}  // namespace

ResultsTable results_table(const fs::path& run_dir, const std::vector<std::string>& stages) {
  ResultsTable table;
  for (const auto& stage : stages) {
    const auto done = run_dir / stage / "done.json";
    if (!fs::exists(done)) continue;
    const auto summary = read_summary(done);
    if (stage == "rejection_sampling") {
      table.rows.push_back(row(stage, summary, "sample_", "its samples (not a held-out eval): " + data_note(summary)));
    } else if (stage == "distill") {
      if (summary.contains("baseline"))
        table.rows.push_back(row("distill (student, corpus only)", summary["baseline"], "eval_", "the baseline"));
      table.rows.push_back(row("distill (student + traces)", summary, "eval_",
                               std::to_string(summary.value("sft_examples", 0)) + " traces"));
    } else {
      std::string note;
      if (summary.contains("data")) note = data_note(summary["data"]);
      else if (summary.contains("sft_examples")) note = std::to_string(summary.value("sft_examples", 0)) + " traces";
      table.rows.push_back(row(stage, summary, "eval_", note));
    }
  }
  return table;
}

std::string ResultsTable::markdown() const {
  std::string out = "| stage | accuracy | format | language | length (tokens) | note |\n|---|---|---|---|---|---|\n";
  for (const auto& r : rows)
    out += "| " + r["stage"].get<std::string>() + " | " + cell(r["accuracy"], "%.3f") + " | " +
           cell(r["format"], "%.3f") + " | " + cell(r["language"], "%.3f") + " | " + cell(r["tokens"], "%.1f") + " | " +
           r["note"].get<std::string>() + " |\n";
  return out;
}

}  // namespace r1::stages
