// The plug-in protocol's JSON: a completion to send, an answer to check and read.
#include "rewards/plugin_protocol.h"

#include <cmath>

namespace r1::rewards {

nlohmann::json metadata_object(const RewardInput& input) {
  return input.metadata.is_null() ? nlohmann::json::object() : input.metadata;
}

nlohmann::json protocol_request(const RewardInput& input) {
  return {{"prompt", input.prompt},
          {"response", input.completion},
          {"answer", input.reference},
          {"metadata", metadata_object(input)}};
}

RewardResult protocol_result(const nlohmann::json& answer) {
  if (!answer.is_object()) {
    throw ProtocolError("expected an object {\"reward\": number, ...}, got " +
                        quoted_snippet(answer.dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace)));
  }
  RewardResult result;
  if (answer.contains("outcome")) {
    const nlohmann::json& outcome = answer["outcome"];
    const std::string name = outcome.is_string() ? outcome.get<std::string>() : "";
    if (name == "pass") {
      result.outcome = Outcome::pass;
    } else if (name == "fail") {
      result.outcome = Outcome::fail;
    } else if (name == "error") {
      result.outcome = Outcome::error;
    } else {
      throw ProtocolError("\"outcome\" must be \"pass\", \"fail\" or \"error\", got " +
                          outcome.dump());
    }
  }
  if (answer.contains("reward")) {
    const nlohmann::json& reward = answer["reward"];
    if (!reward.is_number() || !std::isfinite(reward.get<double>())) {
      throw ProtocolError("\"reward\" must be a finite number, got " + reward.dump());
    }
    result.score = reward.get<double>();
  } else if (result.outcome != Outcome::error) {
    throw ProtocolError("the answer has no \"reward\": " +
                        quoted_snippet(answer.dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace)));
  }
  if (answer.contains("components")) {
    const nlohmann::json& components = answer["components"];
    if (!components.is_object()) {
      throw ProtocolError("\"components\" must be a map of name: number, got " + components.dump());
    }
    for (const auto& [name, value] : components.items()) {
      if (!value.is_number() || !std::isfinite(value.get<double>())) {
        throw ProtocolError("component \"" + name + "\" must be a finite number, got " +
                            value.dump());
      }
      result.components[name] = value.get<double>();
    }
  }
  if (answer.contains("reason")) {
    const nlohmann::json& reason = answer["reason"];
    if (!reason.is_string()) throw ProtocolError("\"reason\" must be a string, got " + reason.dump());
    result.reason = reason.get<std::string>();
  }
  return result;
}

std::string quoted_snippet(std::string_view text, std::size_t max_chars) {
  const bool cut = text.size() > max_chars;
  const std::string kept(text.substr(0, max_chars));
  // dump() escapes control characters; replace turns invalid UTF-8 (maybe from the cut) into U+FFFD.
  std::string quoted =
      nlohmann::json(kept).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (cut) quoted += "...";
  return quoted;
}

}  // namespace r1::rewards
