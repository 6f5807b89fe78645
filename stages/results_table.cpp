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

// A row from keys `<prefix>accuracy`, `<prefix>format`, `<prefix>language`, `<prefix>tokens`,
// `<prefix>chat_preferred` and `<prefix>preference` (the reward model's score; final_rl only).
nlohmann::json row(const std::string& stage, const nlohmann::json& summary, const std::string& prefix,
                   const std::string& note) {
  auto value = [&](const char* key) { return summary.value(prefix + key, nlohmann::json()); };
  return {{"stage", stage},
          {"accuracy", value("accuracy")},
          {"format", value("format")},
          {"language", value("language")},
          {"tokens", value("tokens")},
          {"chat_preferred", value("chat_preferred")},
          {"preference", value("preference")},
          {"note", note}};
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
  if (data.value("chat_samples", 0) > 0)
    note += "; chat " + data["chat_accepted"].dump() + " of " + data["chat_samples"].dump();
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
    } else if (stage == "reward_model") {
      std::string note = std::to_string(summary.value("train_pairs", 0)) + " training pairs";
      if (summary.contains("held_out_pair_accuracy"))
        note += "; held-out pairs ranked right: " + cell(summary["held_out_pair_accuracy"], "%.3f") + " of " +
                std::to_string(summary.value("held_out_pairs", 0));
      table.rows.push_back(row(stage, nlohmann::json::object(), "", "a preference model, no policy: " + note));
    } else if (stage == "distill") {
      if (summary.contains("baseline"))
        table.rows.push_back(row("distill (student, corpus only)", summary["baseline"], "eval_", "the baseline"));
      table.rows.push_back(row("distill (student + traces)", summary, "eval_",
                               std::to_string(summary.value("sft_examples", 0)) + " traces"));
    } else {
      std::string note;
      if (summary.contains("data")) note = data_note(summary["data"]);
      else if (summary.contains("sft_examples")) note = std::to_string(summary.value("sft_examples", 0)) + " traces";
      if (summary.contains("eval_preference_before"))
        note += "RM score before " + cell(summary["eval_preference_before"], "%.3f") + ", chat preferred before " +
                cell(summary.value("eval_chat_preferred_before", nlohmann::json()), "%.3f");
      table.rows.push_back(row(stage, summary, "eval_", note));
    }
  }
  return table;
}

std::string ResultsTable::markdown() const {
  std::string out =
      "| stage | accuracy | format | language | length (tokens) | chat preferred | RM score | note |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows)
    out += "| " + r["stage"].get<std::string>() + " | " + cell(r["accuracy"], "%.3f") + " | " +
           cell(r["format"], "%.3f") + " | " + cell(r["language"], "%.3f") + " | " + cell(r["tokens"], "%.1f") + " | " +
           cell(r.value("chat_preferred", nlohmann::json()), "%.3f") + " | " +
           cell(r.value("preference", nlohmann::json()), "%.3f") + " | " + r["note"].get<std::string>() + " |\n";
  return out;
}

}  // namespace r1::stages
