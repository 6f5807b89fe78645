// JSON text for the CLI's output.
#include "stages/cli.h"

namespace r1::cli {

std::string to_json_text(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace r1::cli
