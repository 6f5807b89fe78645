// Requests, their preferred and flawed replies, and the labeller that tells them apart.
#include "sampling/chat_task.h"

#include <random>
#include <unordered_set>

#include "common/completion_text.h"
#include "common/error.h"
#include "sampling/portable_random.h"

namespace r1::sampling {
namespace {

constexpr const char* kKinds[] = {"greet", "thank", "farewell"};

std::string meta_string(const Problem& problem, const char* key) {
  R1_CHECK(problem.metadata.is_object() && problem.metadata.contains(key) && problem.metadata[key].is_string(),
           "chat task: problem without metadata \"", key, "\": ", problem.metadata.dump());
  return problem.metadata[key].get<std::string>();
}

std::string question_of(const std::string& kind, const std::string& name, const std::string& item) {
  if (kind == "greet") return "Say hello to " + name + ".";
  if (kind == "thank") return "Thank " + name + " for the " + item + ".";
  return "Say goodbye to " + name + ".";
}

// The reply in English (the preferred language) or in German (the drift the corpus carries). It
// names no one: copying a name from the prompt is beyond a 1M-parameter model in a few minutes, and
// the preference under study is language, fit to the request and brevity, not copying.
std::string reply_of(const std::string& kind, bool german) {
  if (kind == "greet") return german ? "Hallo, wie geht es dir?" : "Hello, how are you?";
  if (kind == "thank") return german ? "Vielen Dank!" : "Thank you so much!";
  return german ? "Tschüss, bis bald!" : "Goodbye, see you soon!";
}

std::string answer_tags(const std::string& reply) { return "<answer>" + reply + "</answer>"; }

}  // namespace

bool is_chat(const Problem& problem) {
  return problem.metadata.is_object() && problem.metadata.value("task", "") == "chat";
}

std::vector<Problem> generate_chat_prompts(std::size_t count, uint64_t seed) {
  const auto& names = person_names();
  const auto& items = item_names();
  std::mt19937_64 rng(seed);
  std::vector<Problem> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string kind = kKinds[uniform_int(rng, 0, std::size(kKinds) - 1)];
    const std::string name = names[uniform_int(rng, 0, names.size() - 1)];
    const std::string item = items[uniform_int(rng, 0, items.size() - 1)];
    out.push_back(Problem{question_of(kind, name, item), reply_of(kind, false),
                          nlohmann::json{{"task", "chat"}, {"kind", kind}, {"name", name}, {"item", item}}});
  }
  return out;
}

std::string preferred_chat_completion(const Problem& problem) { return answer_tags(problem.answer); }

std::vector<ChatDocument> generate_chat_corpus(const ChatFlawsConfig& flaws, std::size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5DEECE66DULL);  // flaws: a stream apart from the prompts'
  std::vector<ChatDocument> corpus;
  corpus.reserve(count);
  for (auto& problem : generate_chat_prompts(count, seed)) {
    const bool drift = uniform_unit(rng) < flaws.language_drift;
    const bool off_topic = uniform_unit(rng) < flaws.off_topic;
    const bool repeat = uniform_unit(rng) < flaws.repetition;
    const std::string kind = meta_string(problem, "kind");
    std::string other = kKinds[uniform_int(rng, 0, std::size(kKinds) - 2)];
    if (other == kind) other = kKinds[std::size(kKinds) - 1];  // a uniform pick among the other kinds
    ChatDocument doc;
    if (drift) {
      doc.completion = answer_tags(reply_of(kind, true));
      doc.flaw = "mixed_language";
    } else if (off_topic) {
      doc.completion = answer_tags(reply_of(other, false));
      doc.flaw = "off_topic";
    } else if (repeat) {
      doc.completion = answer_tags(problem.answer + " " + problem.answer);
      doc.flaw = "repetition";
    } else {
      doc.completion = preferred_chat_completion(problem);
    }
    doc.problem = std::move(problem);
    corpus.push_back(std::move(doc));
  }
  return corpus;
}

std::optional<std::string> judge_chat_reply(const Problem& problem, const std::string& completion) {
  const std::string kind = meta_string(problem, "kind");
  // Exactly one <answer>...</answer> and nothing around it but whitespace.
  constexpr std::string_view kOpen = "<answer>", kClose = "</answer>";
  const std::string_view text = completion;
  const auto first = text.find_first_not_of(" \n");
  const auto last = text.find_last_not_of(" \n");
  const std::string_view body = first == std::string_view::npos ? "" : text.substr(first, last - first + 1);
  const auto answer = completion::last_answer_tag(body);
  if (!answer || !body.starts_with(kOpen) || answer->size() + kOpen.size() + kClose.size() != body.size())
    return "bad_format";
  const std::string reply(*answer);
  if (reply == problem.answer) return std::nullopt;
  for (const char* each : kKinds) {
    if (reply == reply_of(each, true)) return "mixed_language";
    if (reply == reply_of(each, false)) return "off_topic";  // the preferred reply to another request
  }
  if (reply.find(problem.answer) != std::string::npos) return "repetition";
  return "not_preferred";
}

}  // namespace r1::sampling
