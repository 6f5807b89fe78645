// JSON Lines reading (jsonl.h).
#include "common/jsonl.h"

#include <fstream>
#include <iostream>

#include "common/error.h"

namespace r1 {

void for_each_jsonl(const std::string& path, const std::function<void(const nlohmann::json&, int64_t)>& fn,
                    const std::string& what) {
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    R1_CHECK(file.is_open(), path, ": cannot open ", what);
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
      R1_FAIL(name, ":", line, ": not valid JSON (", e.what(), ")");
    }
    R1_CHECK(value.is_object(), name, ":", line, ": expected a JSON object, got ", value.type_name());
    fn(value, line);
  }
}

}  // namespace r1
