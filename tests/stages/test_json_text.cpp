// JSON output of model text: bytes that are not UTF-8 are replaced, never thrown on.
#include <doctest/doctest.h>

#include "stages/cli.h"

TEST_CASE("to_json_text replaces invalid UTF-8 with U+FFFD and keeps valid text as is") {
  const std::string broken = std::string("ab") + char(0xAA) + "c";
  CHECK(r1::cli::to_json_text({{"text", broken}}) == "{\"text\":\"ab\xEF\xBF\xBD" "c\"}");
  CHECK(r1::cli::to_json_text({{"text", "Stra\xC3\x9F" "e"}}) == "{\"text\":\"Stra\xC3\x9F" "e\"}");
}
