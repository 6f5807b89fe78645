// compose_from_json: compositions as a YAML config writes them; errors name the entry.
#include <doctest/doctest.h>

#include <string>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

std::string error_of(const nlohmann::json& spec) {
  try {
    compose_from_json(spec);
  } catch (const r1::UserError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("compose_from_json: weights, maps with options, and one reward under two names") {
  std::unique_ptr<Composite> composite = compose_from_json(nlohmann::json::parse(R"({
      "accuracy": 1.0,
      "format": {"weight": 0.5, "think_opened_by_prompt": true},
      "short": {"reward": "overlong", "weight": 2, "max_length": 10, "buffer": 5},
      "long": {"reward": "overlong", "max_length": 1000}
  })"));
  CHECK(composite->name() == "accuracy+format+long+short");
  REQUIRE(composite->parts().size() == 4);
  CHECK(composite->parts()[1].weight == 0.5);
  CHECK(composite->parts()[2].weight == 1.0);  // weight defaults to 1
  CHECK(composite->parts()[3].weight == 2.0);

  RewardInput input;
  input.reference = "42";
  input.completion = "reasoning</think><answer>42</answer>";  // 36 code points
  RewardResult result = composite->score(input);
  CHECK(result.components.at("accuracy") == 1.0);
  CHECK(result.components.at("format") == 1.0);  // the prompt opened <think>
  CHECK(result.components.at("long") == 0.0);
  CHECK(result.components.at("short") == -1.0);   // over max_length 10
  CHECK(result.score == doctest::Approx(1.0 + 0.5 - 2.0));
  CHECK(result.reason == "short: 36 code points > 5 and over max_length 10");
}

TEST_CASE("compose_from_json: every error names the entry") {
  CHECK(error_of({{"acc", 1.0}}).rfind("reward entry 'acc': unknown reward 'acc'; known: ", 0) == 0);
  CHECK(error_of({{"judge", {{"reward", "htp"}}}}).rfind("reward entry 'judge': unknown reward 'htp'", 0) == 0);
  CHECK(error_of({{"format", "high"}}) ==
        "reward entry 'format': expected a weight or a map {weight, reward, options...}, got \"high\"");
  CHECK(error_of({{"format", nullptr}}) ==
        "reward entry 'format': expected a weight or a map {weight, reward, options...}, got null");
  CHECK(error_of({{"format", {{"weight", "1"}}}}) ==
        "reward entry 'format': weight must be a number, got \"1\"");
  CHECK(error_of({{"fmt", {{"reward", "format"}, {"strict", true}}}}) ==
        "reward entry 'fmt': reward 'format' has no option 'strict'; its options: think_opened_by_prompt");
  CHECK(error_of({{"judge", {{"reward", "http"}, {"weight", 0.5}}}}) ==
        "reward entry 'judge': http reward needs option url, e.g. url: http://127.0.0.1:8000/score");
  CHECK(error_of({{"judge", {{"reward", 3}}}}) ==
        "reward entry 'judge': reward must be the name of a registered reward, got 3");
  CHECK(error_of(nlohmann::json::object()) == "no rewards to compose: give at least one reward");
  CHECK(error_of(nlohmann::json::array({"accuracy"})).rfind("rewards must be a map", 0) == 0);
}

TEST_CASE("compose(map) still works beside it") {
  CHECK(compose({{"accuracy", 1.0}, {"format", 0.5}})->name() == "accuracy+format");
}
