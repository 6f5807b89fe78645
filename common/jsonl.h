// Reading JSON Lines input: one object a line, blank lines skipped, errors naming file and line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace r1 {

// Calls `fn(row, line_number)` for each non-blank line of `path` ("-": stdin). UserError naming
// the file and line for an unopenable file (as `what`: "problems file"), invalid JSON or a line
// that is not an object; `fn` names the line in its own errors with the number it is given.
void for_each_jsonl(const std::string& path, const std::function<void(const nlohmann::json&, int64_t line)>& fn,
                    const std::string& what = "file");

}  // namespace r1
