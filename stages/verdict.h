// The verdict on a sampled chain of thought, for cold start and rejection sampling: keep it only
// if it is correct, well-formed and readable (one language, no wall-of-text paragraphs, no code
// fences) and not a copy of a completion already kept for the same prompt. The first failed rule is
// the rejection reason stored with the trace. Reads reward components; runs no model.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace r1::stages {

struct VerdictConfig {
  bool require_correct = true;      // "incorrect": the accuracy component below 1
  bool require_format = true;       // "bad_format": the format component below 1
  double min_language_share = 0.99; // "mixed_language": share of target-language words in the reasoning
  int64_t max_paragraph_chars = 600;  // "long_paragraphs": a paragraph (blank-line separated) longer; 0: off
  bool reject_code_blocks = true;   // "code_blocks": a ``` fence in the completion
  bool reject_duplicates = true;    // "duplicate": the same completion already kept for this prompt

  template <class V>
  void visit(V& v) {
    v("require_correct", require_correct);
    v("require_format", require_format);
    v("min_language_share", min_language_share);
    v("max_paragraph_chars", max_paragraph_chars);
    v("reject_code_blocks", reject_code_blocks);
    v("reject_duplicates", reject_duplicates);
    v.check(min_language_share >= 0 && min_language_share <= 1, "min_language_share", "must be in [0, 1]");
    v.check(max_paragraph_chars >= 0, "max_paragraph_chars", "must be >= 0 (0: no limit)");
  }
};

// Every rejection reason, in the order the rules are applied.
inline constexpr const char* kRejectionReasons[] = {"incorrect",       "bad_format", "mixed_language",
                                                    "long_paragraphs", "code_blocks", "duplicate"};

// Judges completions of one stage; remembers what it kept per prompt, for the duplicate rule.
class VerdictJudge {
 public:
  explicit VerdictJudge(VerdictConfig config) : config_(std::move(config)) {}
  // nullopt: accepted (and remembered); else the reason. `components` needs "accuracy", "format"
  // and "language_consistency" where the matching rule is on; a missing one rejects with its reason.
  std::optional<std::string> judge(int64_t prompt_index, const std::string& completion,
                                   const std::map<std::string, double>& components);
  // A non-reasoning (chat) reply has no chain of thought to read: the chat labeller's reason where it
  // gave one (sampling/chat_task.h), else the duplicate rule.
  std::optional<std::string> judge_chat(int64_t prompt_index, const std::string& completion,
                                        const std::optional<std::string>& labeller_reason);

 private:
  VerdictConfig config_;
  std::set<std::pair<int64_t, std::string>> kept_;  // (prompt, completion) accepted: the duplicate rule's memory
};

// The longest paragraph of the chain of thought, in bytes (paragraphs split at blank lines).
int64_t longest_paragraph(const std::string& completion);

// The readable output format: the reasoning, then a one-line summary paragraph (its last sentence)
// closing the thinking, then the answer. A completion without </think> is returned unchanged.
std::string rewrite_readable(const std::string& completion);

}  // namespace r1::stages
