// RewardInfo.parameters: every registered reward documents every option its factory accepts.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "common/error.h"
#include "rewards/registry.h"

using namespace r1::rewards;

namespace {

// The option names a factory lists when given one it does not know ("its options: a, b").
std::set<std::string> accepted_options(const std::string& reward) {
  try {
    Registry::global().create(reward, {{"no_such_option", 1}});
  } catch (const r1::UserError& e) {
    const std::string message = e.what();
    const std::string marker = "its options: ";
    const std::size_t at = message.find(marker);
    REQUIRE(at != std::string::npos);
    std::set<std::string> names;
    std::string rest = message.substr(at + marker.size());
    if (rest == "(none)") return names;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = rest.find(", ", start);
      names.insert(rest.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 2;
    }
    return names;
  }
  FAIL("reward '" << reward << "' accepted an unknown option");
  return {};
}

}  // namespace

TEST_CASE("parameters: each reward lists exactly the options it accepts, each documented") {
  for (const RewardInfo& info : Registry::global().list()) {
    CAPTURE(info.name);
    std::set<std::string> listed;
    bool required = false;
    for (const RewardParameter& parameter : info.parameters) {
      CAPTURE(parameter.name);
      CHECK(listed.insert(parameter.name).second);
      CHECK_FALSE(parameter.default_value.empty());
      CHECK_FALSE(parameter.doc.empty());
      CHECK(parameter.doc.find('\n') == std::string::npos);
      required = required || parameter.default_value == "(required)";
    }
    CHECK(listed == accepted_options(info.name));
    // With no options, a reward without required ones is built with its defaults.
    if (!required) CHECK(Registry::global().create(info.name)->name() == info.name);
  }
}

TEST_CASE("parameters: the built-ins and plug-ins carry what `r1 rewards list` shows") {
  std::map<std::string, RewardInfo> by_name;
  for (const RewardInfo& info : Registry::global().list()) by_name[info.name] = info;
  REQUIRE(by_name.count("accuracy"));
  CHECK(by_name["accuracy"].parameters.at(0).name == "max_answer_chars");
  CHECK(by_name["accuracy"].parameters.at(0).default_value == "64");
  CHECK(by_name["overlong"].parameters.at(0).default_value == "20480");
  CHECK(by_name["http"].parameters.at(0).name == "url");
  CHECK(by_name["http"].parameters.at(0).default_value == "(required)");
  CHECK(by_name["command"].parameters.at(0).name == "command");
  CHECK(by_name["language_consistency"].parameters.at(1).default_value == "/usr/share/dict");
}
