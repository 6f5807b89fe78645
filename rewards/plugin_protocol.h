// Internal to rewards/: the JSON that the out-of-process plug-ins (`http`, `command`) exchange with
// r1, one object per completion. Knows nothing of transports.
//   r1 sends     {"prompt": str, "response": str, "answer": str, "metadata": object}
//   it answers   {"reward": number, "components": {name: number}?, "outcome": "pass"|"fail"|"error"?,
//                 "reason": str?}
// "outcome" defaults to pass; with "outcome": "error" (the service could not judge) "reward" may be
// left out and is then 0. Anything else in the answer is ignored.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "rewards/reward.h"

namespace r1::rewards {

// An answer that does not follow the protocol; what() says what is wrong.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The item's metadata as the plug-ins receive it: always an object ({} where the item has none).
nlohmann::json metadata_object(const RewardInput& input);

nlohmann::json protocol_request(const RewardInput& input);

// ProtocolError for an answer that is not an object as above (non-finite numbers included).
RewardResult protocol_result(const nlohmann::json& answer);

// `text` for an error message: JSON-quoted (so control bytes and invalid UTF-8 are visible, not
// printed raw) and cut to about `max_chars`.
std::string quoted_snippet(std::string_view text, std::size_t max_chars = 200);

}  // namespace r1::rewards
