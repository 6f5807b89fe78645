// Finds the final answers a completion states: the contents of \boxed{...} (nested braces), of
// <answer>...</answer>, and of GSM8K-style "#### N" lines. Linear scans, no regex; knows nothing of
// what the answers mean (math_equivalence.h judges them).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace r1::rewards {

enum class AnswerSource { boxed, answer_tag, gsm8k };

// "boxed", "answer_tag", "gsm8k"; nullopt for another name.
std::optional<AnswerSource> answer_source_named(std::string_view name);
const char* answer_source_name(AnswerSource source);

// Every answer of one kind in `text`, in order of appearance, at most `max_answers` (the scan
// stops there: more is reported as max_answers + 1 entries so the caller can tell).
// - boxed: the content of each closed \boxed{...} or \fbox{...}; "\boxed 5" gives "5". Boxes
//   nested in a box are part of the outer one.
// - answer_tag: the content of each closed <answer>...</answer> that holds no \boxed (a boxed
//   answer inside a tag is found as boxed).
// - gsm8k: the rest of each line after "####" that holds no \boxed.
std::vector<std::string_view> find_answers(std::string_view text, AnswerSource source,
                                           std::size_t max_answers);

// "The final answer is 5" -> "5": a leading "answer:"-like phrase (case-insensitive) is not part
// of the answer. Also trims whitespace.
std::string_view strip_answer_phrase(std::string_view answer);

// The final answer inside a reference that is a worked solution (the last \boxed{...}, else the
// last "#### N" line), else the whole reference, trimmed.
std::string_view reference_answer(std::string_view reference);

}  // namespace r1::rewards
