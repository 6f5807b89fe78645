// A compiled PCRE2 regular expression over UTF-8 with Unicode classes (UTF + UCP), JIT-compiled:
// the pattern language of Hugging Face tokenizer.json files (\p{L}, \p{N}, lookahead, (?i:...)).
// Knows nothing of tokenizers.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace r1::policy {

class Regex {
 public:
  // `where` names the file and key for the error a bad pattern raises.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Calls on_match(begin, end) for each non-overlapping, non-empty match in `subject`, left to
  // right. `subject` must be valid UTF-8 (the caller checks; PCRE2 is told not to check again).
  // Lookarounds see only `subject`: its ends are the ends of the string.
  void for_each_match(std::string_view subject, const std::function<void(std::size_t, std::size_t)>& on_match) const;

  // Whether `subject` (valid UTF-8) contains a match.
  bool search(std::string_view subject) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace r1::policy
