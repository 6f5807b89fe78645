// The `language_consistency` reward of the DeepSeek-R1 paper: the share of the words in the chain
// of thought that are in the target language. The chain of thought is the text inside
// <think>...</think> (see text::think_text; the whole completion when there are no tags).
//
// What is a word (word_scanner.h): letter runs of one script; each Han character counts as one
// word, because Chinese has no spaces and segmenting it needs a dictionary model we do not have
// (a Chinese word is 1-2 characters, so Chinese weighs a little more than it would per word).
// Numbers, punctuation, math symbols and LaTeX command names are not words. Single Latin letters
// are variables ("let x be"), except the one-letter words of the target language ("a" and "I" in
// English; "y" is Spanish for "and" but in an English text far more likely a variable, so it is
// not counted as foreign); single Greek letters are math too.
//
// How a word is judged, for a target language T:
// - Han: T if T is zh, else foreign. Cyrillic: T if T is ru, else foreign. Kana, Hangul, Greek
//   words, other scripts: foreign.
// - Latin, when T is zh or ru: foreign.
// - Latin, when T is en/de/fr/es: T if T's word list holds it; else foreign if another known
//   language's list holds it; else (names, rare words, typos) T if its letters all belong to T's
//   alphabet ("Qwerty" in English), foreign if not ("größer" is no English word, "niño" no German).
// A text with no words at all (empty, or only math) scores `empty_score` (default 1: nothing in it
// is in another language). The outcome is always pass: this is a graded share, not a verdict;
// the reason gives the counts when the share is below 1.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "rewards/builtins.h"
#include "rewards/text.h"
#include "rewards/word_lists.h"
#include "rewards/word_scanner.h"

namespace r1::rewards {

namespace {

constexpr const char* kDefaultWordListDir = "/usr/share/dict";

enum class Judgement { target, foreign, not_a_word };

// Bits of the languages in which a single (lowercase) letter is a word.
std::uint8_t one_letter_word_languages(std::string_view letter) {
  std::uint8_t bits = 0;
  if (letter == "a") {
    bits |= language_bit(Language::en) | language_bit(Language::fr) | language_bit(Language::es);
  }
  if (letter == "i") bits |= language_bit(Language::en);
  if (letter == "y") bits |= language_bit(Language::fr) | language_bit(Language::es);
  if (letter == "o" || letter == "e" || letter == "u") bits |= language_bit(Language::es);
  if (letter == "\xC3\xA0") bits |= language_bit(Language::fr);  // à
  return bits;
}

// Whether every letter of the (lowercase) word is in the alphabet of `language`.
bool in_alphabet(std::string_view lowercase_word, Language language) {
  std::u32string_view extra;
  switch (language) {
    case Language::de: extra = U"äöüß"; break;
    case Language::fr: extra = U"àâæçéèêëîïôœùûüÿ"; break;
    case Language::es: extra = U"áéíñóúü"; break;
    default: break;
  }
  for (std::size_t pos = 0; pos < lowercase_word.size();) {
    const unicode::Decoded decoded = unicode::decode(lowercase_word, pos);
    pos += decoded.length;
    const char32_t c = decoded.code_point;
    if ((c >= 'a' && c <= 'z') || c == '\'' || c == 0x2019) continue;
    if (extra.find(c) == std::u32string_view::npos) return false;
  }
  return true;
}

class LanguageConsistencyReward : public Reward {
 public:
  LanguageConsistencyReward(Language language, std::shared_ptr<const Lexicon> lexicon,
                            double empty_score)
      : language_(language), lexicon_(std::move(lexicon)), empty_score_(empty_score) {}

  std::string name() const override { return "language_consistency"; }

  RewardResult score(const RewardInput& input) const override {
    Language target = language_;
    if (input.metadata.is_object() && input.metadata.contains("language")) {
      const nlohmann::json& named = input.metadata["language"];
      std::optional<Language> language =
          named.is_string() ? language_named(named.get<std::string>()) : std::nullopt;
      if (!language) {
        RewardResult result;
        result.components["language_consistency"] = 0.0;
        result.outcome = Outcome::error;
        result.reason = "metadata language " + named.dump() + " is not one of " +
                        supported_languages();
        return result;
      }
      target = *language;
    }

    std::size_t in_target = 0;
    std::size_t foreign = 0;
    WordScanner scanner(text::think_text(input.completion), /*with_numbers=*/false);
    ScannedWord word;
    while (scanner.next(word)) {
      switch (judge(word, target)) {
        case Judgement::target: ++in_target; break;
        case Judgement::foreign: ++foreign; break;
        case Judgement::not_a_word: break;
      }
    }

    RewardResult result;
    const std::size_t total = in_target + foreign;
    result.score = total == 0 ? empty_score_ : static_cast<double>(in_target) / total;
    result.components["language_consistency"] = result.score;
    result.outcome = Outcome::pass;
    if (total == 0) {
      result.reason = "no words in the chain of thought";
    } else if (foreign > 0) {
      result.reason = std::to_string(in_target) + " of " + std::to_string(total) + " words in " +
                      language_code(target);
    }
    return result;
  }

 private:
  Judgement judge(const ScannedWord& word, Language target) const {
    using unicode::Script;
    switch (word.script) {
      case Script::han:
        return target == Language::zh ? Judgement::target : Judgement::foreign;
      case Script::cyrillic:
        return target == Language::ru ? Judgement::target : Judgement::foreign;
      case Script::greek:
        return word.letters == 1 ? Judgement::not_a_word : Judgement::foreign;
      case Script::latin:
        return judge_latin(word, target);
      case Script::none:
        return Judgement::not_a_word;
      default:
        return Judgement::foreign;
    }
  }

  Judgement judge_latin(const ScannedWord& word, Language target) const {
    const std::string lower = lowercase(word.text);
    const std::uint8_t target_bit = uses_latin_script(target) ? language_bit(target) : 0;
    if (word.letters == 1) {
      return (one_letter_word_languages(lower) & target_bit) ? Judgement::target
                                                             : Judgement::not_a_word;
    }
    if (target_bit == 0) return Judgement::foreign;
    std::uint8_t bits = lexicon_->languages_of(lower);
    if (bits == 0) bits = languages_of_elided(lower);
    if (bits & target_bit) return Judgement::target;
    if (bits != 0) return Judgement::foreign;
    return in_alphabet(lower, target) ? Judgement::target : Judgement::foreign;
  }

  // "l'homme", "qu'il", "dell'anno": when the whole is in no list, the longest piece decides.
  std::uint8_t languages_of_elided(std::string_view lower) const {
    std::string_view longest;
    std::size_t begin = 0;
    while (begin <= lower.size()) {
      std::size_t end = lower.find_first_of("'\xE2", begin);  // ' or the lead byte of ’
      if (end == std::string_view::npos) end = lower.size();
      const std::string_view piece = lower.substr(begin, end - begin);
      if (piece.size() > longest.size()) longest = piece;
      if (end == lower.size()) break;
      begin = end + (lower[end] == '\'' ? 1 : 3);
    }
    if (longest.size() == lower.size() || longest.size() < 2) return 0;
    return lexicon_->languages_of(longest);
  }

  Language language_;
  std::shared_ptr<const Lexicon> lexicon_;
  double empty_score_;
};

std::unique_ptr<Reward> make_language_consistency(const nlohmann::json& options) {
  check_option_keys("language_consistency", options, {"language", "word_lists_dir", "empty_score"});
  Language language = Language::en;
  std::string directory = kDefaultWordListDir;
  double empty_score = 1.0;
  if (options.is_object()) {
    if (options.contains("language")) {
      const nlohmann::json& named = options["language"];
      std::optional<Language> parsed =
          named.is_string() ? language_named(named.get<std::string>()) : std::nullopt;
      R1_CHECK(parsed.has_value(), "language_consistency option language must be one of ",
               supported_languages(), "; got ", named.dump());
      language = *parsed;
    }
    if (options.contains("word_lists_dir")) {
      const nlohmann::json& dir = options["word_lists_dir"];
      R1_CHECK(dir.is_string() && !dir.get<std::string>().empty(),
               "language_consistency option word_lists_dir must be a directory path, got ",
               dir.dump());
      directory = dir.get<std::string>();
    }
    if (options.contains("empty_score")) {
      const nlohmann::json& value = options["empty_score"];
      R1_CHECK(value.is_number() && value.get<double>() >= 0.0 && value.get<double>() <= 1.0,
               "language_consistency option empty_score must be a number in [0, 1], got ",
               value.dump());
      empty_score = value.get<double>();
    }
  }
  // Loaded here, not on first score: a missing word list stops the run at configuration time.
  return std::make_unique<LanguageConsistencyReward>(language, Lexicon::load(directory), empty_score);
}

}  // namespace

RewardInfo language_consistency_reward_info() {
  return {"language_consistency",
          "share of the chain of thought's words in the target language (option language, default en)",
          make_language_consistency,
          {{"language", "en", std::string("target language of the chain of thought: ") +
                                  supported_languages()},
           {"word_lists_dir", kDefaultWordListDir, "directory of the word lists (Debian w* packages)"},
           {"empty_score", "1", "score of a chain of thought with no words, in [0, 1]"}}};
}

}  // namespace r1::rewards
