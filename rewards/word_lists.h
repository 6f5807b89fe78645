// The languages language_consistency knows, and the word lists that tell apart the ones sharing the
// Latin script (en, de, fr, es). The lists are Debian's spelling dictionaries under /usr/share/dict,
// installed by scripts/setup: wamerican (american-english, ~100k words), wngerman (ngerman, ~360k),
// wfrench (french, ~350k) and wspanish (spanish, ~90k), all with inflected forms. Chosen over
// hand-written lists of frequent words because a chain of thought is full of content words
// ("multiplizieren", "dividiendo") that no short list holds, and the lists come from a package
// instead of being pasted into the repo. Loaded once per process and shared read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace r1::rewards {

enum class Language : std::uint8_t { en, de, fr, es, zh, ru };

// "en", "de", "fr", "es", "zh", "ru" (also "english", "german", ... and "zh-cn"-style tags by their
// first two letters); nullopt for others.
std::optional<Language> language_named(std::string_view name);
const char* language_code(Language language);
// "en, de, fr, es, zh, ru": for messages.
const char* supported_languages();
bool uses_latin_script(Language language);

// A bit per Latin-script language.
constexpr std::uint8_t language_bit(Language language) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(language));
}

class Lexicon {
 public:
  // The lexicon of the four Latin-script lists in `directory`, built on first use and then shared
  // (thread-safe). UserError naming the missing file and its Debian package when one is absent.
  static std::shared_ptr<const Lexicon> load(const std::string& directory);

  // Bits of the languages whose list holds `lowercase_word` (0 when none does).
  std::uint8_t languages_of(std::string_view lowercase_word) const;

  std::size_t size() const { return masks_.size(); }

 private:
  Lexicon() = default;
  std::vector<std::string> contents_;  // the lowercased files; the map's keys point into them
  std::unordered_map<std::string_view, std::uint8_t> masks_;
};

// `word` lowercased (Latin, Greek, Cyrillic; see unicode::to_lower).
std::string lowercase(std::string_view word);

}  // namespace r1::rewards
