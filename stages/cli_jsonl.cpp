// Reading JSONL input for the CLI.
#include <fstream>
#include <iostream>

#include "common/error.h"
#include "stages/cli.h"

namespace r1::cli {

void for_each_jsonl(const std::string& path, const std::function<void(const nlohmann::json&, int64_t)>& fn) {
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    R1_CHECK(file.good(), "cannot open ", path);
  }
  std::istream& in = path == "-" ? std::cin : file;
  const std::string name = path == "-" ? "<stdin>" : path;
  std::string text;
  int64_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      R1_FAIL(name, ":", line, ": not valid JSON: ", e.what());
    }
    R1_CHECK(value.is_object(), name, ":", line, ": expected a JSON object");
    fn(value, line);
  }
}

std::string to_json_text(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace r1::cli
