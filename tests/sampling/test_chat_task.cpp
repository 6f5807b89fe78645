// The non-reasoning chat task: deterministic prompts, a corpus whose flaws the labeller names
// exactly, and the labeller's verdicts on hand-written replies.
#include <doctest/doctest.h>

#include <map>

#include "sampling/chat_task.h"

using namespace r1::sampling;

TEST_CASE("chat prompts are deterministic, tagged chat, and their preferred reply passes the labeller") {
  const auto a = generate_chat_prompts(50, 7), b = generate_chat_prompts(50, 7);
  REQUIRE(a.size() == 50);
  std::map<std::string, int> kinds;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].question == b[i].question);
    CHECK(is_chat(a[i]));
    ++kinds[a[i].metadata["kind"].get<std::string>()];
    CHECK(judge_chat_reply(a[i], preferred_chat_completion(a[i])) == std::nullopt);
    CHECK(judge_chat_reply(a[i], " " + preferred_chat_completion(a[i]) + "\n") == std::nullopt);
  }
  CHECK(kinds.size() == 3);
  const auto other = generate_chat_prompts(50, 8);
  int differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i) differing += other[i].question != a[i].question;
  CHECK(differing > 25);
  CHECK_FALSE(is_chat(generate_problems({}, 1, 1)[0]));
}

TEST_CASE("the labeller names each flaw") {
  Problem p{"Thank Mia for the apples.", "Thank you so much!",
            {{"task", "chat"}, {"kind", "thank"}, {"name", "Mia"}, {"item", "apples"}}};
  CHECK(judge_chat_reply(p, "<answer>Thank you so much!</answer>") == std::nullopt);
  CHECK(judge_chat_reply(p, "<answer>Vielen Dank!</answer>") == "mixed_language");
  CHECK(judge_chat_reply(p, "<answer>Hallo, wie geht es dir?</answer>") == "mixed_language");
  CHECK(judge_chat_reply(p, "<answer>Goodbye, see you soon!</answer>") == "off_topic");
  CHECK(judge_chat_reply(p, "<answer>Thank you so much! Thank you so much!</answer>") == "repetition");
  CHECK(judge_chat_reply(p, "<answer>Thanks.</answer>") == "not_preferred");
  CHECK(judge_chat_reply(p, "Thank you so much!") == "bad_format");
  CHECK(judge_chat_reply(p, "<answer>Thank you so much!") == "bad_format");
  CHECK(judge_chat_reply(p, "<think>x</think><answer>Thank you so much!</answer>") == "bad_format");
  CHECK(judge_chat_reply(p, "<answer>a</answer><answer>Thank you so much!</answer>") == "bad_format");
  CHECK(judge_chat_reply(p, "") == "bad_format");
}

TEST_CASE("the chat corpus carries its flaws at their shares, each named as the labeller names it") {
  ChatFlawsConfig flaws;  // 0.3 drift, then 0.15 off topic, 0.15 repetition of the rest
  const auto corpus = generate_chat_corpus(flaws, 4000, 11);
  std::map<std::string, double> share;
  for (const auto& doc : corpus) {
    const auto verdict = judge_chat_reply(doc.problem, doc.completion);
    CHECK(verdict.value_or("") == doc.flaw);
    share[doc.flaw] += 1.0 / double(corpus.size());
  }
  CHECK(share["mixed_language"] == doctest::Approx(0.30).epsilon(0.1));
  CHECK(share["off_topic"] == doctest::Approx(0.7 * 0.15).epsilon(0.15));
  CHECK(share["repetition"] == doctest::Approx(0.7 * 0.85 * 0.15).epsilon(0.15));
  CHECK(share[""] == doctest::Approx(0.7 * 0.85 * 0.85).epsilon(0.05));
}
