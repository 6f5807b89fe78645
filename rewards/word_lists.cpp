// Language names and the Debian word lists behind language_consistency (see word_lists.h).
#include "rewards/word_lists.h"

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "common/error.h"
#include "rewards/unicode_text.h"

namespace r1::rewards {

namespace {

struct WordListFile {
  Language language;
  const char* file;     // under the directory, e.g. /usr/share/dict
  const char* package;  // the Debian package that installs it
};

constexpr WordListFile kWordLists[] = {
    {Language::en, "american-english", "wamerican"},
    {Language::de, "ngerman", "wngerman"},
    {Language::fr, "french", "wfrench"},
    {Language::es, "spanish", "wspanish"},
};

std::string read_file(const std::string& path, const char* package) {
  std::ifstream in(path, std::ios::binary);
  R1_CHECK(in.good(), "language_consistency needs the word list ", path,
           "; install the Debian package ", package, " (scripts/setup installs it)");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

std::optional<Language> language_named(std::string_view name) {
  std::string lower = lowercase(name);
  if (lower == "english") return Language::en;
  if (lower == "german" || lower == "deutsch") return Language::de;
  if (lower == "french" || lower == "français") return Language::fr;
  if (lower == "spanish" || lower == "español") return Language::es;
  if (lower == "chinese") return Language::zh;
  if (lower == "russian") return Language::ru;
  // "en", "zh-CN", "de_DE": the primary subtag decides.
  if (lower.size() > 2 && (lower[2] == '-' || lower[2] == '_')) lower.resize(2);
  if (lower == "en") return Language::en;
  if (lower == "de") return Language::de;
  if (lower == "fr") return Language::fr;
  if (lower == "es") return Language::es;
  if (lower == "zh") return Language::zh;
  if (lower == "ru") return Language::ru;
  return std::nullopt;
}

const char* language_code(Language language) {
  switch (language) {
    case Language::en: return "en";
    case Language::de: return "de";
    case Language::fr: return "fr";
    case Language::es: return "es";
    case Language::zh: return "zh";
    case Language::ru: return "ru";
  }
  return "?";
}

const char* supported_languages() { return "en, de, fr, es, zh, ru"; }

bool uses_latin_script(Language language) {
  return language == Language::en || language == Language::de || language == Language::fr ||
         language == Language::es;
}

std::string lowercase(std::string_view word) {
  std::string lower;
  lower.reserve(word.size());
  for (std::size_t pos = 0; pos < word.size();) {
    const unicode::Decoded decoded = unicode::decode(word, pos);
    if (decoded.code_point < 0x80) {
      lower.push_back(static_cast<char>(unicode::to_lower(decoded.code_point)));
    } else if (decoded.code_point == unicode::kReplacement && decoded.length == 1) {
      lower.push_back(word[pos]);  // keep a stray byte as it is
    } else {
      unicode::append_utf8(lower, unicode::to_lower(decoded.code_point));
    }
    pos += decoded.length;
  }
  return lower;
}

std::shared_ptr<const Lexicon> Lexicon::load(const std::string& directory) {
  // One lexicon per directory for the whole process: it is large (about 900k words) and
  // read-only once built, so every reward instance and thread shares it.
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Lexicon>> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = loaded.find(directory);
  if (found != loaded.end()) return found->second;

  std::shared_ptr<Lexicon> lexicon(new Lexicon());
  lexicon->contents_.reserve(std::size(kWordLists));
  for (const WordListFile& list : kWordLists) {
    lexicon->contents_.push_back(lowercase(read_file(directory + "/" + list.file, list.package)));
  }
  std::size_t lines = 0;
  for (const std::string& content : lexicon->contents_) {
    for (char c : content) lines += c == '\n';
  }
  lexicon->masks_.reserve(lines);
  for (std::size_t i = 0; i < std::size(kWordLists); ++i) {
    const std::string_view content = lexicon->contents_[i];
    const std::uint8_t bit = language_bit(kWordLists[i].language);
    std::size_t begin = 0;
    while (begin < content.size()) {
      std::size_t end = content.find('\n', begin);
      if (end == std::string_view::npos) end = content.size();
      std::string_view word = content.substr(begin, end - begin);
      if (!word.empty() && word.back() == '\r') word.remove_suffix(1);
      if (!word.empty()) lexicon->masks_[word] |= bit;
      begin = end + 1;
    }
  }
  loaded.emplace(directory, lexicon);
  return lexicon;
}

std::uint8_t Lexicon::languages_of(std::string_view lowercase_word) const {
  auto found = masks_.find(lowercase_word);
  return found == masks_.end() ? 0 : found->second;
}

}  // namespace r1::rewards
