// The `http` plug-in: completions scored by an HTTP service. Each score_many call is POSTed as JSON
// arrays of at most max_batch_size items (rewards/plugin_protocol.h gives the item fields), the
// service answers with an array of as many answers in the same order. Transport is HttpClient:
// keep-alive connection pool, time limit per attempt, retries with backoff.
//
// Failures are per request and never thrown: a request that fails after its retries fails its items
// (Failure::timeout when the last attempt ran over its limit, else Failure::crash), so the other
// requests of the same call keep their scores. An answer that breaks the protocol as a whole (not
// JSON, not an array of the right length) fails its request; a malformed item fails that item.
#include <algorithm>
#include <memory>
#include <string>

#include "common/error.h"
#include "rewards/builtins.h"
#include "rewards/guard.h"
#include "rewards/http_client.h"
#include "rewards/plugin_protocol.h"

namespace r1::rewards {

namespace {

constexpr long long kDefaultTimeoutMs = 30'000;
constexpr long long kDefaultAttempts = 3;
constexpr long long kDefaultBackoffMs = 200;
constexpr long long kDefaultConnections = 4;
constexpr long long kDefaultMaxBatchSize = 64;

class HttpReward : public Reward {
 public:
  HttpReward(HttpEndpoint endpoint, HttpClientOptions options, std::size_t max_batch_size)
      : client_(std::move(endpoint), std::move(options)), max_batch_size_(max_batch_size) {}

  std::string name() const override { return "http"; }

  RewardResult score(const RewardInput& input) const override {
    return score_many(std::span<const RewardInput>(&input, 1)).front();
  }

  std::vector<RewardResult> score_many(std::span<const RewardInput> inputs) const override {
    std::vector<RewardResult> results;
    results.reserve(inputs.size());
    for (std::size_t begin = 0; begin < inputs.size(); begin += max_batch_size_) {
      const std::size_t count = std::min(max_batch_size_, inputs.size() - begin);
      std::vector<RewardResult> request_results = score_request(inputs.subspan(begin, count));
      for (RewardResult& result : request_results) results.push_back(std::move(result));
    }
    return results;
  }

 private:
  std::vector<RewardResult> score_request(std::span<const RewardInput> inputs) const {
    nlohmann::json request = nlohmann::json::array();
    for (const RewardInput& input : inputs) request.push_back(protocol_request(input));
    const std::string& url = client_.endpoint().url;
    auto all_failed = [&](Failure failure, const std::string& reason) {
      return std::vector<RewardResult>(inputs.size(), failure_result(failure, reason));
    };

    std::string body;
    try {
      // replace: a completion cut mid-character is still sent, with U+FFFD for the broken bytes.
      body = client_.post_json(request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } catch (const HttpFailure& failure) {
      return all_failed(failure.timed_out() ? Failure::timeout : Failure::crash, failure.what());
    }

    nlohmann::json answer = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (answer.is_discarded()) {
      return all_failed(Failure::crash, url + " answered with something that is not JSON: " +
                                            quoted_snippet(body));
    }
    if (!answer.is_array() || answer.size() != inputs.size()) {
      return all_failed(Failure::crash,
                        url + " must answer with a JSON array of " + std::to_string(inputs.size()) +
                            " items, one per item sent; got " + quoted_snippet(body));
    }
    std::vector<RewardResult> results;
    results.reserve(inputs.size());
    for (std::size_t index = 0; index < inputs.size(); ++index) {
      try {
        results.push_back(protocol_result(answer[index]));
      } catch (const ProtocolError& error) {
        results.push_back(failure_result(
            Failure::crash, url + ": answer " + std::to_string(index) + ": " + error.what()));
      }
    }
    return results;
  }

  mutable HttpClient client_;  // thread-safe; mutable because scoring is const
  std::size_t max_batch_size_;
};

std::unique_ptr<Reward> make_http(const nlohmann::json& options) {
  check_option_keys("http", options, {"url", "timeout_ms", "attempts", "backoff_ms", "connections",
                                      "max_batch_size", "headers"});
  R1_CHECK(options.is_object() && options.contains("url") && options["url"].is_string(),
           "http reward needs option url, e.g. url: http://127.0.0.1:8000/score");
  HttpEndpoint endpoint = parse_http_url(options["url"].get<std::string>());
  HttpClientOptions client;
  client.timeout = std::chrono::milliseconds(
      integer_option("http", options, "timeout_ms", kDefaultTimeoutMs, 1, 86'400'000));
  client.attempts = static_cast<int>(integer_option("http", options, "attempts", kDefaultAttempts, 1, 100));
  client.backoff = std::chrono::milliseconds(
      integer_option("http", options, "backoff_ms", kDefaultBackoffMs, 0, 600'000));
  client.connections = static_cast<int>(
      integer_option("http", options, "connections", kDefaultConnections, 1, 1024));
  const auto max_batch_size = static_cast<std::size_t>(
      integer_option("http", options, "max_batch_size", kDefaultMaxBatchSize, 1, 1'000'000));
  if (options.contains("headers")) {
    const nlohmann::json& headers = options["headers"];
    R1_CHECK(headers.is_object(), "http option headers must be a map of name: value, got ",
             headers.dump());
    for (const auto& [name, value] : headers.items()) {
      R1_CHECK(value.is_string(), "http option headers: the value of ", name,
               " must be a string, got ", value.dump());
      R1_CHECK((name + value.get<std::string>()).find_first_of("\r\n") == std::string::npos,
               "http option headers: ", name, " must not contain line breaks");
      client.headers[name] = value.get<std::string>();
    }
  }
  return std::make_unique<HttpReward>(std::move(endpoint), std::move(client), max_batch_size);
}

}  // namespace

RewardInfo http_reward_info() {
  return {"http",
          "scores by POSTing JSON arrays of {prompt, response, answer, metadata} to a service that "
          "answers an array of {reward, components?, outcome?, reason?}",
          make_http,
          {{"url", "(required)", "http://host:port/path of the service (plain http)"},
           {"timeout_ms", std::to_string(kDefaultTimeoutMs),
            "limit per attempt: connect, send, read the whole answer"},
           {"attempts", std::to_string(kDefaultAttempts),
            "tries per request; connection errors, timeouts, 429 and 5xx are retried"},
           {"backoff_ms", std::to_string(kDefaultBackoffMs),
            "wait before the second try, doubled before each later one (10 s at most)"},
           {"connections", std::to_string(kDefaultConnections),
            "keep-alive connections open at once at most (requests beyond wait)"},
           {"max_batch_size", std::to_string(kDefaultMaxBatchSize),
            "items per request at most (score_batch's batch_size chooses how many it hands over)"},
           {"headers", "{}", "extra request headers, e.g. {Authorization: Bearer ...}"}}};
}

}  // namespace r1::rewards
