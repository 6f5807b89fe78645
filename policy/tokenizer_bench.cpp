// The tokenizer benchmark's text generator and timing loop.
#include "policy/tokenizer_bench.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "common/error.h"

namespace r1::policy {

namespace {

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xC0 | (c >> 6));
    out += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += char(0xE0 | (c >> 12));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  } else {
    out += char(0xF0 | (c >> 18));
    out += char(0x80 | ((c >> 12) & 0x3F));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  }
}

// A pool of words of one script and a Zipf-like draw from it (rank r with weight 1/(r+1)).
struct WordPool {
  std::vector<std::string> words;
  std::discrete_distribution<std::size_t> draw;

  template <class MakeWord>
  WordPool(std::size_t size, std::mt19937_64& rng, MakeWord&& make_word) {
    std::vector<double> weights;
    for (std::size_t rank = 0; rank < size; ++rank) {
      words.push_back(make_word(rng));
      weights.push_back(1.0 / double(rank + 1));
    }
    draw = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
  }
  const std::string& pick(std::mt19937_64& rng) { return words[draw(rng)]; }
};

// A word of `min..max` characters drawn uniformly from `alphabet` (code points).
auto letters(std::vector<char32_t> alphabet, int min, int max) {
  return [alphabet = std::move(alphabet), min, max](std::mt19937_64& rng) {
    std::uniform_int_distribution<int> length(min, max);
    std::uniform_int_distribution<std::size_t> letter(0, alphabet.size() - 1);
    std::string word;
    for (int i = length(rng); i > 0; --i) append_utf8(word, alphabet[letter(rng)]);
    return word;
  };
}

std::vector<char32_t> range(char32_t first, char32_t last) {
  std::vector<char32_t> out;
  for (char32_t c = first; c <= last; ++c) out.push_back(c);
  return out;
}

std::vector<char32_t> ascii(const std::string& text) { return std::vector<char32_t>(text.begin(), text.end()); }

// A word of 1..max syllables from a list: closer to real English or German than random letters,
// so BPE finds the merges it would in prose.
auto syllables(std::vector<std::string> parts, int max) {
  return [parts = std::move(parts), max](std::mt19937_64& rng) {
    std::uniform_int_distribution<int> count(1, max);
    std::uniform_int_distribution<std::size_t> part(0, parts.size() - 1);
    std::string word;
    for (int i = count(rng); i > 0; --i) word += parts[part(rng)];
    return word;
  };
}

}  // namespace

std::vector<std::string> bench_documents(std::size_t total_bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  WordPool english(4000, rng,
                   syllables({"the", "in", "er", "an", "re", "on", "at", "en", "nd", "ti", "es", "or", "te", "of", "ed",
                              "is", "it", "al", "ar", "st", "to", "nt", "ing", "se", "ha", "as", "ou", "io", "le", "ve",
                              "co", "me", "de", "hi", "ri", "ro", "ic", "ne", "ea", "ra", "ce", "tion", "ly", "a", "b",
                              "pro", "con", "ment", "ter", "un", "der", "per", "x", "ght", "ow", "ch"},
                             4));
  WordPool german(2000, rng,
                  syllables({"ein", "der", "die", "und", "sch", "ung", "ver", "ge", "ber", "ich", "en", "äu", "ö", "ü",
                             "ß", "heit", "keit", "lich", "st", "zu", "an", "auf", "ten", "gen", "mä", "fü", "hö", "k"},
                            4));
  WordPool russian(2000, rng, letters(range(U'а', U'я'), 2, 10));
  WordPool chinese(3000, rng, letters(range(0x4E00, 0x9FA5), 1, 4));
  WordPool japanese(1500, rng, letters(range(0x3041, 0x3093), 1, 5));
  WordPool korean(1500, rng, letters(range(0xAC00, 0xD7A3), 1, 4));
  WordPool identifiers(800, rng, letters(ascii("abcdefghijklmnopqrstuvwxyz_"), 1, 12));
  const std::vector<std::string> emoji = {"😀", "👍🏽", "👨‍👩‍👧‍👦", "🇩🇪", "🏳️‍🌈", "❤️", "🧑🏿‍💻", "1️⃣"};
  const std::vector<std::string> specials = {"<|im_start|>", "<|im_end|>", "<think>", "</think>", "<｜begin▁of▁sentence｜>"};
  const std::vector<std::string> code_lines = {"def {}({}, {}):", "    return {} + {}", "\tfor (int {} = 0; {} < n; ++{}) {",
                                               "\t\t{}[{}] = {} * 2;", "if {} is None:", "        {} = {}.get('{}', 0)",
                                               "}", "    # {} {}", "const {} = await {}(`/api/${{}}`);"};
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<int> digits(1, 12);

  const auto number = [&] {
    std::string out = std::to_string(rng() % 1000000000000ULL).substr(0, std::size_t(digits(rng)));
    if (unit(rng) < 0.3) {
      out += '.';
      out += std::to_string(rng() % 100000);
    }
    return out;
  };
  // One paragraph in one script: words with the script's spacing and punctuation.
  const auto paragraph = [&](std::string& doc) {
    const double kind = unit(rng);
    const int words = 20 + int(rng() % 60);
    if (kind < 0.12) {  // code
      for (int line = 0; line < words / 6; ++line) {
        const std::string& pattern = code_lines[rng() % code_lines.size()];
        for (std::size_t at = 0; at < pattern.size(); ++at) {
          if (pattern.compare(at, 2, "{}") == 0) {
            doc += identifiers.pick(rng);
            ++at;
          } else {
            doc += pattern[at];
          }
        }
        doc += unit(rng) < 0.1 ? "   \n" : "\n";
      }
      return;
    }
    WordPool* pool = &english;
    const char* space = " ";
    const char* stop = ". ";
    if (kind < 0.20) pool = &german;
    else if (kind < 0.28) pool = &russian;
    else if (kind < 0.38) pool = &chinese, space = "", stop = "。";
    else if (kind < 0.44) pool = &japanese, space = "", stop = "、";
    else if (kind < 0.50) pool = &korean;
    for (int w = 0; w < words; ++w) {
      const double r = unit(rng);
      if (r < 0.06) {
        doc += number();
      } else if (r < 0.07) {
        doc += emoji[rng() % emoji.size()];
      } else if (r < 0.075) {
        doc += specials[rng() % specials.size()];
      } else {
        std::string word = pool->pick(rng);
        if (pool == &english && (w == 0 || unit(rng) < 0.05) && !word.empty()) word[0] = char(word[0] - 'a' + 'A');
        doc += word;
      }
      doc += (w + 1) % 12 == 0 ? stop : unit(rng) < 0.05 ? ", " : space;
    }
    doc += unit(rng) < 0.2 ? "  \n\n\n" : "\n\n";
  };

  std::vector<std::string> documents;
  std::size_t bytes = 0;
  while (bytes < total_bytes) {
    std::string doc;
    const std::size_t target = 1000 + rng() % 6000;
    while (doc.size() < target) paragraph(doc);
    bytes += doc.size();
    documents.push_back(std::move(doc));
  }
  return documents;
}

nlohmann::json bench_tokenizer(const Tokenizer& tokenizer, std::size_t total_bytes, int64_t repeats, uint64_t seed) {
  R1_CHECK(total_bytes >= 1 && repeats >= 1, "bench tokenizer: --mb and --repeats must be positive");
  const auto documents = bench_documents(total_bytes, seed);
  std::size_t bytes = 0;
  for (const auto& doc : documents) bytes += doc.size();

  using clock = std::chrono::steady_clock;
  const auto seconds_since = [](clock::time_point start) {
    return std::chrono::duration<double>(clock::now() - start).count();
  };
  std::vector<std::vector<int64_t>> encoded(documents.size());
  auto start = clock::now();
  for (std::size_t d = 0; d < documents.size(); ++d) encoded[d] = tokenizer.encode(documents[d]);
  const double first_pass = seconds_since(start);
  double best = first_pass;
  for (int64_t r = 0; r < repeats; ++r) {
    start = clock::now();
    for (std::size_t d = 0; d < documents.size(); ++d) encoded[d] = tokenizer.encode(documents[d]);
    best = std::min(best, seconds_since(start));
  }
  std::size_t tokens = 0;
  for (const auto& ids : encoded) tokens += ids.size();

  bool exact = true;
  start = clock::now();
  for (std::size_t d = 0; d < documents.size(); ++d) exact = tokenizer.decode(encoded[d]) == documents[d] && exact;
  const double decode_seconds = seconds_since(start);

  return {{"bytes", bytes},
          {"documents", documents.size()},
          {"tokens", tokens},
          {"bytes_per_token", double(bytes) / double(std::max<std::size_t>(tokens, 1))},
          {"threads", 1},
          {"first_pass_mb_per_s", double(bytes) / first_pass / 1e6},
          {"mb_per_s", double(bytes) / best / 1e6},
          {"decode_mb_per_s", double(bytes) / decode_seconds / 1e6},
          {"round_trip_exact", exact}};
}

}  // namespace r1::policy
