// compose_from_json: a weighted composition as a config writes it, each entry a weight or a map of
// weight, registered reward name and that reward's options.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "rewards/registry.h"

namespace r1::rewards {

namespace {

// Builds one part from `name: ...`; UserError messages start with the entry's name.
WeightedReward part_from_entry(const std::string& name, const nlohmann::json& entry,
                               const Registry& registry) {
  const std::string where = "reward entry '" + name + "'";
  WeightedReward part;
  part.name = name;
  std::string registered = name;
  nlohmann::json options = nlohmann::json::object();
  if (entry.is_number()) {
    part.weight = entry.get<double>();
  } else if (entry.is_object()) {
    for (const auto& [key, value] : entry.items()) {
      if (key == "weight") {
        R1_CHECK(value.is_number(), where, ": weight must be a number, got ", value.dump());
        part.weight = value.get<double>();
      } else if (key == "reward") {
        R1_CHECK(value.is_string() && !value.get<std::string>().empty(), where,
                 ": reward must be the name of a registered reward, got ", value.dump());
        registered = value.get<std::string>();
      } else {
        options[key] = value;  // the factory checks its own options
      }
    }
  } else {
    R1_FAIL(where, ": expected a weight or a map {weight, reward, options...}, got ", entry.dump());
  }
  R1_CHECK(std::isfinite(part.weight), where, ": weight must be a finite number");
  try {
    part.reward = registry.create(registered, options.empty() ? nlohmann::json() : options);
  } catch (const UserError& e) {
    R1_FAIL(where, ": ", e.what());
  }
  return part;
}

}  // namespace

std::unique_ptr<Composite> compose_from_json(const nlohmann::json& spec, const Registry& registry) {
  R1_CHECK(spec.is_object(), "rewards must be a map of name: weight or name: {weight, reward, ...}, got ",
           spec.dump());
  R1_CHECK(!spec.empty(), "no rewards to compose: give at least one reward");
  std::vector<WeightedReward> parts;
  parts.reserve(spec.size());
  for (const auto& [name, entry] : spec.items()) {
    R1_CHECK(!name.empty(), "a reward entry needs a name");
    parts.push_back(part_from_entry(name, entry, registry));
  }
  return std::make_unique<Composite>(std::move(parts));
}

}  // namespace r1::rewards
