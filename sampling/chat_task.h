// Synthetic non-reasoning prompts, the analogue of the writing and chit-chat data R1 mixed into its
// SFT set and scored with a preference model in its final RL stage: short social requests ("Say
// hello to Mia.") answered without a chain of thought ("<answer>Hello, how are you?</answer>").
//
// The synthetic world's users prefer exactly one reply per kind of request: in English, fitting
// the request, said once. `judge_chat_reply` is their labeller: it decides which sampled replies are
// kept for SFT and which pairs teach the reward model; the reward model itself only ever sees the
// pairs. Like arithmetic_task, this produces text only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sampling/arithmetic_task.h"

namespace r1::sampling {

// Shares of corpus replies that carry each flaw (drawn independently; the first drawn one applies).
struct ChatFlawsConfig {
  double language_drift = 0.3;  // the reply in German ("Hallo, wie geht es dir?")
  double off_topic = 0.15;      // the reply to another kind of request ("Goodbye" for a greeting)
  double repetition = 0.15;     // the reply said twice

  template <class V>
  void visit(V& v) {
    v("language_drift", language_drift);
    v("off_topic", off_topic);
    v("repetition", repetition);
    v.check(language_drift >= 0 && language_drift <= 1, "language_drift", "must be in [0, 1]");
    v.check(off_topic >= 0 && off_topic <= 1, "off_topic", "must be in [0, 1]");
    v.check(repetition >= 0 && repetition <= 1, "repetition", "must be in [0, 1]");
  }
};

// Requests with metadata {"task": "chat", "kind": "greet"|"thank"|"farewell", "name", "item"};
// `answer` holds the preferred reply's text ("Hello, how are you?"). Deterministic for a seed.
std::vector<Problem> generate_chat_prompts(std::size_t count, uint64_t seed);

bool is_chat(const Problem& problem);  // metadata.task == "chat"

// The completion the users prefer: "<answer>" + reply + "</answer>".
std::string preferred_chat_completion(const Problem& problem);

struct ChatDocument {
  Problem problem;
  std::string completion;
  std::string flaw;  // "" for the preferred reply, else the judge's reason for it
};
std::vector<ChatDocument> generate_chat_corpus(const ChatFlawsConfig& flaws, std::size_t count, uint64_t seed);

// nullopt when `completion` is the preferred reply; else why not, one of kChatRejectionReasons.
std::optional<std::string> judge_chat_reply(const Problem& problem, const std::string& completion);
inline constexpr const char* kChatRejectionReasons[] = {"bad_format", "mixed_language", "off_topic", "repetition",
                                                        "not_preferred"};

}  // namespace r1::sampling
