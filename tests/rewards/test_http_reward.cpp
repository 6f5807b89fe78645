// The `http` plug-in against real servers on 127.0.0.1: batching, keep-alive, bounded connections,
// time limits, retries, and answers that break the protocol.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <string>
#include <vector>

#include "common/error.h"
#include "http_test_server.h"
#include "rewards/line_process.h"
#include "rewards/registry.h"

using namespace r1::rewards;
using r1::test::TestAnswer;
using r1::test::TestHttpServer;

namespace {

std::vector<RewardInput> numbered_inputs(int count) {
  std::vector<RewardInput> inputs(count);
  for (int i = 0; i < count; ++i) {
    inputs[i].prompt = "p" + std::to_string(i);
    inputs[i].completion = std::string(i, 'x');  // the test service scores its length
    inputs[i].reference = std::to_string(i);
    inputs[i].metadata = {{"index", i}};
  }
  return inputs;
}

// The service the tests expect: checks every protocol field, scores each item by its response's
// length, and echoes the metadata index as a component.
TestAnswer length_service(const std::string& body) {
  const nlohmann::json items = nlohmann::json::parse(body);
  nlohmann::json answers = nlohmann::json::array();
  for (const nlohmann::json& item : items) {
    REQUIRE(item.at("prompt").is_string());
    REQUIRE(item.at("answer").is_string());
    REQUIRE(item.at("metadata").is_object());
    answers.push_back({{"reward", item.at("response").get<std::string>().size()},
                       {"components", {{"index", item["metadata"]["index"]}}},
                       {"outcome", "pass"}});
  }
  return {200, answers.dump()};
}

std::shared_ptr<const Reward> http_reward(const std::string& url, nlohmann::json options = {}) {
  options["url"] = url;
  return Registry::global().create("http", options);
}

ScoringOptions scoring(int threads, std::size_t batch_size) {
  ScoringOptions options;
  options.threads = threads;
  options.batch_size = batch_size;
  return options;
}

// A port on 127.0.0.1 where nothing listens: bound, never listened on, then closed.
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("http: batches go out as one request each, answers come back in order") {
  TestHttpServer server([](const std::string& body, std::size_t) { return length_service(body); });
  auto reward = http_reward(server.url(), {{"max_batch_size", 8}});
  ScoredBatch batch = score_batch(reward, numbered_inputs(20), scoring(1, 10));
  REQUIRE(batch.results.size() == 20);
  for (int i = 0; i < 20; ++i) {
    CAPTURE(i);
    CHECK(batch.results[i].outcome == Outcome::pass);
    CHECK(batch.results[i].failure == Failure::none);
    CHECK(batch.results[i].score == i);
    CHECK(batch.results[i].components.at("index") == i);
  }
  // Chunks of 10 from score_batch, each split by max_batch_size 8: 8+2, 8+2.
  CHECK(server.requests() == 4);
  CHECK(server.connections() == 1);  // one thread, one kept-alive connection for every request
  CHECK(batch.summary.by_reward.at("http").passed == 20);

  // A single score() is a request of one.
  RewardInput one = numbered_inputs(4)[3];
  CHECK(reward->score(one).score == 3);
  CHECK(server.requests() == 5);
}

TEST_CASE("http: at most `connections` requests at once, connections kept alive") {
  TestHttpServer server([](const std::string& body, std::size_t) {
    TestAnswer answer = length_service(body);
    answer.delay = std::chrono::milliseconds(5);  // so that requests overlap
    return answer;
  });
  auto reward = http_reward(server.url(), {{"connections", 2}});
  ScoredBatch batch = score_batch(reward, numbered_inputs(40), scoring(6, 1));
  for (int i = 0; i < 40; ++i) CHECK(batch.results[i].score == i);
  CHECK(server.requests() == 40);
  CHECK(server.max_in_flight() <= 2);
  CHECK(server.connections() <= 2);
}

TEST_CASE("http: a slow service is a recorded timeout after the attempts, not a hang") {
  TestHttpServer server([](const std::string& body, std::size_t) {
    TestAnswer answer = length_service(body);
    answer.delay = std::chrono::milliseconds(2000);
    return answer;
  });
  auto reward =
      http_reward(server.url(), {{"timeout_ms", 100}, {"attempts", 2}, {"backoff_ms", 10}});
  ScoredBatch batch = score_batch(reward, numbered_inputs(3), scoring(1, 3));
  for (const RewardResult& result : batch.results) {
    CHECK(result.outcome == Outcome::error);
    CHECK(result.failure == Failure::timeout);
    CHECK(result.score == 0.0);
    CHECK(result.reason == server.url() + ": no answer within 100 ms (2 attempts)");
  }
  CHECK(batch.summary.by_reward.at("http").timeouts == 3);
  CHECK(server.requests() == 2);  // one request for the three items, tried twice
}

TEST_CASE("http: 5xx is retried, then a failure naming the status and body") {
  TestHttpServer server([](const std::string&, std::size_t) {
    return TestAnswer{500, "model server overloaded"};
  });
  auto reward = http_reward(server.url(), {{"attempts", 3}, {"backoff_ms", 1}});
  ScoredBatch batch = score_batch(reward, numbered_inputs(2), scoring(1, 2));
  for (const RewardResult& result : batch.results) {
    CHECK(result.failure == Failure::crash);
    CHECK(result.outcome == Outcome::error);
    CHECK(result.reason == server.url() +
                               ": HTTP 500 Internal Server Error: \"model server overloaded\" (3 attempts)");
  }
  CHECK(server.requests() == 3);
  CHECK(batch.summary.by_reward.at("http").crashes == 2);
}

TEST_CASE("http: a failure that passes succeeds on the retry") {
  TestHttpServer server([](const std::string& body, std::size_t number) {
    if (number == 0) return TestAnswer{503, "warming up"};
    return length_service(body);
  });
  auto reward = http_reward(server.url(), {{"attempts", 3}, {"backoff_ms", 1}});
  ScoredBatch batch = score_batch(reward, numbered_inputs(5), scoring(1, 5));
  for (int i = 0; i < 5; ++i) {
    CHECK(batch.results[i].outcome == Outcome::pass);
    CHECK(batch.results[i].score == i);
  }
  CHECK(server.requests() == 2);
  CHECK(batch.summary.failures() == 0);
}

TEST_CASE("http: a 4xx is not retried: the request itself is wrong") {
  TestHttpServer server([](const std::string&, std::size_t) {
    return TestAnswer{400, R"({"error": "bad field"})"};
  });
  auto reward = http_reward(server.url(), {{"attempts", 3}, {"backoff_ms", 1}});
  const RewardResult result = reward->score(numbered_inputs(1)[0]);
  CHECK(result.failure == Failure::crash);
  CHECK(contains(result.reason, "HTTP 400 Bad Request"));
  CHECK(contains(result.reason, "bad field"));
  CHECK(contains(result.reason, "(1 attempt)"));
  CHECK(server.requests() == 1);
}

TEST_CASE("http: answers that break the protocol fail with a clear reason") {
  std::atomic<int> mode{0};
  TestHttpServer server([&](const std::string& body, std::size_t) {
    switch (mode.load()) {
      case 0: return TestAnswer{200, "<html>Gateway says hi</html>"};
      case 1: return TestAnswer{200, R"([{"reward": 1}])"};  // one answer for three items
      default: {
        // The middle answer has no reward; the others are fine.
        return TestAnswer{200, R"([{"reward": 1}, {"score": 2}, {"reward": 3, "outcome": "fail"}])"};
      }
    }
  });
  auto reward = http_reward(server.url(), {{"attempts", 2}, {"backoff_ms", 1}});
  const std::vector<RewardInput> three = numbered_inputs(3);

  ScoredBatch garbage = score_batch(reward, three, scoring(1, 3));
  for (const RewardResult& result : garbage.results) {
    CHECK(result.failure == Failure::crash);
    CHECK(result.reason == server.url() +
                               " answered with something that is not JSON: \"<html>Gateway says hi</html>\"");
  }
  CHECK(server.requests() == 1);  // a garbled answer is not retried

  mode = 1;
  ScoredBatch short_answer = score_batch(reward, three, scoring(1, 3));
  for (const RewardResult& result : short_answer.results) {
    CHECK(result.failure == Failure::crash);
    CHECK(contains(result.reason, "must answer with a JSON array of 3 items"));
  }

  mode = 2;
  ScoredBatch one_bad = score_batch(reward, three, scoring(1, 3));
  CHECK(one_bad.results[0].outcome == Outcome::pass);
  CHECK(one_bad.results[0].score == 1.0);
  CHECK(one_bad.results[1].failure == Failure::crash);
  CHECK(one_bad.results[1].reason ==
        server.url() + ": answer 1: the answer has no \"reward\": \"{\\\"score\\\":2}\"");
  CHECK(one_bad.results[2].outcome == Outcome::fail);
  CHECK(one_bad.results[2].score == 3.0);
}

TEST_CASE("http: a server that does not speak HTTP is a clear failure, not retried") {
  // A raw TCP listener that answers like an SSH server to whatever it is sent.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::thread server([listener] {
    const int connection = ::accept(listener, nullptr, nullptr);
    if (connection < 0) return;
    char request[4096];
    (void)::recv(connection, request, sizeof request, 0);
    const char banner[] = "SSH-2.0-OpenSSH_9.2\r\n";
    (void)::send(connection, banner, sizeof banner - 1, MSG_NOSIGNAL);
    ::close(connection);
  });
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/score";
  auto reward = http_reward(url, {{"attempts", 3}, {"backoff_ms", 1}, {"timeout_ms", 2000}});
  const RewardResult result = reward->score(numbered_inputs(1)[0]);
  server.join();
  ::close(listener);
  CHECK(result.failure == Failure::crash);
  CHECK(contains(result.reason, url + ": cannot read the answer: "));
  CHECK(contains(result.reason, "(1 attempt)"));
}

TEST_CASE("http: nothing listening is a failure after the attempts") {
  const std::string url = "http://127.0.0.1:" + std::to_string(unused_port()) + "/score";
  auto reward = http_reward(url, {{"attempts", 2}, {"backoff_ms", 1}});
  const RewardResult result = reward->score(numbered_inputs(1)[0]);
  CHECK(result.failure == Failure::crash);
  CHECK(contains(result.reason, url + ": cannot connect: "));
  CHECK(contains(result.reason, "(2 attempts)"));
}

TEST_CASE("http: a failing judge under on_failure stop stops the run, naming the entry") {
  TestHttpServer server([](const std::string&, std::size_t) { return TestAnswer{500, "down"}; });
  std::shared_ptr<const Reward> reward = compose_from_json(
      {{"format", 1.0}, {"judge", {{"reward", "http"}, {"url", server.url()}, {"attempts", 1}}}});
  ScoringOptions options = scoring(2, 4);
  options.on_failure = FailurePolicy::stop;
  try {
    score_batch(reward, numbered_inputs(6), options);
    FAIL("score_batch did not stop");
  } catch (const RewardFailure& failure) {
    CHECK(failure.reward() == "judge");
    CHECK(failure.item() == 0);
    CHECK(failure.failure() == Failure::crash);
    CHECK(contains(failure.what(), "reward 'judge' failed on item 0"));
    CHECK(contains(failure.what(), "HTTP 500"));
  }
}

TEST_CASE("http: options are checked when the reward is built") {
  CHECK_THROWS_WITH_AS(Registry::global().create("http"),
                       "http reward needs option url, e.g. url: http://127.0.0.1:8000/score",
                       r1::UserError);
  CHECK_THROWS_AS(http_reward("https://example.com/score"), r1::UserError);
  CHECK_THROWS_AS(http_reward("http://127.0.0.1:99999/score"), r1::UserError);
  CHECK_THROWS_AS(http_reward("http://:8000/score"), r1::UserError);
  CHECK_THROWS_AS(http_reward("http://127.0.0.1:8000", {{"timeout_ms", 0}}), r1::UserError);
  CHECK_THROWS_AS(http_reward("http://127.0.0.1:8000", {{"headers", {{"X-Key", 1}}}}), r1::UserError);
  CHECK_THROWS_AS(http_reward("http://127.0.0.1:8000", {{"retries", 2}}), r1::UserError);
  CHECK(http_reward("http://[::1]:8000/score")->name() == "http");
  CHECK(http_reward("http://localhost/score")->name() == "http");
}

#ifdef R1_EXAMPLE_HTTP_REWARD
TEST_CASE("http: the example service in examples/http_reward") {
  LineProcess service({R1_EXAMPLE_HTTP_REWARD, "0"});
  std::string ready;
  REQUIRE(service.read_line(ready, LineProcess::Clock::now() + std::chrono::seconds(10), 1000) ==
          LineProcess::Status::ok);
  REQUIRE(ready.rfind("listening on ", 0) == 0);
  const std::string url = ready.substr(std::string("listening on ").size());

  auto reward = http_reward(url);
  std::vector<RewardInput> inputs(3);
  inputs[0].completion = "<think>is it 41?</think> It is 42.";
  inputs[0].reference = "42";
  inputs[1].completion = "<think>42 maybe</think> It is 41.";
  inputs[1].reference = "42";
  inputs[2].completion = "no thinking, just 7";
  inputs[2].reference = "7";
  ScoredBatch batch = score_batch(reward, inputs, scoring(2, 2));
  CHECK(batch.results[0].score == 1.0);
  CHECK(batch.results[0].outcome == Outcome::pass);
  CHECK(batch.results[1].score == 0.0);
  CHECK(batch.results[1].outcome == Outcome::fail);
  CHECK(batch.results[2].components.at("contains_answer") == 1.0);
  service.end(std::chrono::milliseconds(0));  // a server does not exit on its own
}
#endif
