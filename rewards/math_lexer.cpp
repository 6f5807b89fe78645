// The math answer lexer: one left-to-right pass over the bytes, then two passes over the tokens
// (unwrap an answer that is only \text{...}; drop trailing units).
//
// Decisions, each a trade between accepting a right answer written differently and being fooled:
// - Percent signs are dropped: "50\%" reads as 50, so it equals "50" but NOT "0.5". Datasets state
//   percent answers in percent units ("what percent ..." -> 50); accepting 0.5 as well would make
//   equality non-transitive (50 = 50% = 0.5 != 50) and let a hedging answer pass either way.
// - Thousands separators: "1,234" (groups of exactly three digits, no space after the comma, first
//   group 1-3 digits not starting with 0), "1{,}234" and "1\,234" read as 1234; "1, 234" and "1,23"
//   are lists. "100,200" could be either; read_tokens reads it as asked (see Commas).
// - Units: \text{...}, \mathrm{...} and bare words of two or more letters at the END of an answer,
//   after a number or closing bracket, are units and dropped ("10\text{ cm}^2", "18 dollars") —
//   at most two of them, and never words that change the claim ("or", "and", "not", "more",
//   "million", ...) or text holding digits. Single letters are variables, never units.
// - Degrees (^\circ, ^{\circ}, \degree, °) and currency ($, \$) are dropped.
#include "rewards/math_lexer.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>

#include "rewards/text.h"
#include "rewards/unicode_text.h"

namespace r1::rewards::math {

namespace {

constexpr int kMaxTextDepth = 2;  // "\text{\text{5}}" unwraps twice, then stops

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool starts_with(std::string_view s, std::size_t pos, std::string_view prefix) {
  return s.substr(pos, prefix.size()) == prefix;
}

// Functions written as plain words ("sqrt(2)", "sin x") or LaTeX commands ("\sqrt", "\sin").
bool is_function_name(std::string_view name) {
  static constexpr std::array<std::string_view, 19> kNames = {
      "sqrt", "sin",    "cos",    "tan",    "cot",  "sec",  "csc", "arcsin", "arccos", "arctan",
      "sinh", "cosh",   "tanh",   "ln",     "log",  "exp",  "frac", "binom", "abs"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

// Greek letters are variables, named as their LaTeX command ("\alpha" and "α" are one variable).
bool is_greek_name(std::string_view name) {
  static constexpr std::array<std::string_view, 40> kNames = {
      "alpha", "beta",   "gamma",  "delta", "epsilon", "varepsilon", "zeta",   "eta",
      "theta", "vartheta", "iota", "kappa", "lambda",  "mu",         "nu",     "xi",
      "omicron", "rho",  "varrho", "sigma", "varsigma", "tau",       "upsilon", "phi",
      "varphi", "chi",   "psi",    "omega", "Gamma",   "Delta",      "Theta",  "Lambda",
      "Xi",    "Pi",     "Sigma",  "Upsilon", "Phi",   "Psi",        "Omega",  "ell"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

// LaTeX commands whose argument is text, not math.
bool is_text_command(std::string_view name) {
  static constexpr std::array<std::string_view, 17> kNames = {
      "text",    "textbf",  "textit",  "textrm",  "textsf",  "texttt",       "textnormal",
      "mbox",    "hbox",    "mathrm",  "mathbf",  "mathit",  "mathsf",       "mathtt",
      "operatorname", "mathbb", "textup"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

// Commands that only change how an answer looks.
bool is_decoration_command(std::string_view name) {
  static constexpr std::array<std::string_view, 28> kNames = {
      "left",  "right", "big",   "Big",    "bigg",   "Bigg",     "bigl",        "bigr",
      "Bigl",  "Bigr",  "biggl", "biggr",  "Biggl",  "Biggr",    "displaystyle", "textstyle",
      "scriptstyle", "quad", "qquad", "boxed", "fbox", "circ",   "degree",      "limits",
      "nolimits", "mathstrut", "strut", "middle"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

// Words after a value that change what is claimed, so they are never dropped as units.
bool changes_the_claim(std::string_view lowercase_word) {
  static constexpr std::array<std::string_view, 36> kWords = {
      "or",     "and",     "to",      "not",      "no",       "nor",       "more",
      "less",   "than",    "at",      "least",    "most",     "between",   "either",
      "neither", "plus",   "minus",   "times",    "about",    "approximately", "approx",
      "roughly", "maybe",  "possibly", "wrong",   "incorrect", "false",     "except",
      "thousand", "thousands", "million", "millions", "billion", "trillion", "hundred", "dozen"};
  return std::find(kWords.begin(), kWords.end(), lowercase_word) != kWords.end();
}

std::string lowercase_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string_view source, Commas commas) : s_(source), commas_(commas) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) step();
    return std::move(tokens_);
  }

  bool joined_thousands() const { return joined_thousands_; }

 private:
  void emit(TokenKind kind, std::string text) {
    tokens_.push_back(Token{kind, std::move(text), space_});
    space_ = false;
  }
  void invalid(std::string text) { emit(TokenKind::invalid, std::move(text)); }
  char at(std::size_t i) const { return i < s_.size() ? s_[i] : '\0'; }

  void step() {
    const char c = s_[pos_];
    if (text::is_space(c) || c == '~') {
      space_ = true;
      ++pos_;
    } else if (text::is_digit(c) || (c == '.' && text::is_digit(at(pos_ + 1)))) {
      lex_number();
    } else if (is_letter(c)) {
      lex_letters();
    } else if (c == '\\') {
      lex_command();
    } else if (c == '$' || c == '%') {
      ++pos_;  // math delimiters, currency and percent signs: see the file comment
    } else if (c == '^') {
      lex_caret();
    } else if (c == '*') {
      const bool double_star = at(pos_ + 1) == '*';  // "2**3" is a power in plain text
      pos_ += double_star ? 2 : 1;
      emit(TokenKind::op, double_star ? "^" : "*");
    } else if ((c == '<' || c == '>' || c == '!') && at(pos_ + 1) == '=') {
      emit(TokenKind::op, std::string{c, '='});
      pos_ += 2;
    } else if (c == '.') {
      // A period that ends the answer ("The answer is 5.") is punctuation; any other is not math.
      std::size_t rest = pos_;
      while (rest < s_.size() && (s_[rest] == '.' || text::is_space(s_[rest]))) ++rest;
      if (rest < s_.size()) invalid(".");
      pos_ = rest;
    } else if (std::string_view("+-/()[]{},|!=<>&_").find(c) != std::string_view::npos) {
      emit(TokenKind::op, std::string(1, c));
      ++pos_;
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      lex_non_ascii();
    } else {
      invalid(std::string(1, c));
      ++pos_;
    }
  }

  // Digits, thousands groups, a decimal part. A separator counts only before exactly three digits
  // that are not followed by a fourth, after a first group of one to three digits.
  void lex_number() {
    std::string digits;
    while (text::is_digit(at(pos_))) digits.push_back(s_[pos_++]);
    if (!digits.empty() && digits.size() <= 3 && digits[0] != '0') {
      while (true) {
        std::size_t separator = 0;
        for (std::string_view candidate : {",", "{,}", "\\,"}) {
          if (starts_with(s_, pos_, candidate)) separator = candidate.size();
        }
        // A plain comma may separate list elements instead; "{,}" and "\," are never list commas.
        if (commas_ == Commas::separators && separator == 1) break;
        const std::size_t group = pos_ + separator;
        if (separator == 0 || !text::is_digit(at(group)) || !text::is_digit(at(group + 1)) ||
            !text::is_digit(at(group + 2)) || text::is_digit(at(group + 3))) {
          break;
        }
        digits.append(s_.substr(group, 3));
        pos_ = group + 3;
        joined_thousands_ = joined_thousands_ || separator == 1;
      }
    }
    if (at(pos_) == '.' && text::is_digit(at(pos_ + 1))) {
      digits.push_back(s_[pos_++]);
      while (text::is_digit(at(pos_))) digits.push_back(s_[pos_++]);
    }
    emit(TokenKind::number, std::move(digits));
  }

  // "_1", "_{12}", "_n": the subscript of a variable, as written without braces or spaces.
  std::string lex_subscript() {
    if (at(pos_) != '_') return "";
    std::size_t cursor = pos_ + 1;
    std::string sub;
    if (at(cursor) == '{') {
      // Subscripts are short ("x_{12}"); look no further than that, so scans stay linear.
      const std::size_t close = s_.substr(0, cursor + 18).find('}', cursor);
      if (close == std::string_view::npos) return "";
      for (std::size_t i = cursor + 1; i < close; ++i) {
        if (!text::is_space(s_[i])) sub.push_back(s_[i]);
      }
      cursor = close + 1;
    } else if (is_letter(at(cursor)) || text::is_digit(at(cursor))) {
      sub.push_back(s_[cursor++]);
    }
    if (sub.empty()) return "";
    pos_ = cursor;
    return "_" + sub;
  }

  void lex_letters() {
    const std::size_t begin = pos_;
    while (is_letter(at(pos_))) ++pos_;
    std::string run(s_.substr(begin, pos_ - begin));
    if (run == "pi") return emit(TokenKind::constant, "pi");
    if (run == "inf" || run == "infty" || run == "infinity") {
      return emit(TokenKind::constant, "infinity");
    }
    if (is_function_name(run) && run != "frac" && run != "binom") {
      return emit(TokenKind::function, run);
    }
    // "sinx", "lnx", "sqrtx": a function glued to a short argument.
    for (std::string_view name : {"sqrt", "sin", "cos", "tan", "ln", "log", "exp"}) {
      if (run.size() > name.size() && run.size() <= name.size() + 2 && run.rfind(name, 0) == 0) {
        emit(TokenKind::function, std::string(name));
        run.erase(0, name.size());
        break;
      }
    }
    const std::string subscript = lex_subscript();
    if (!subscript.empty()) {
      // The subscript belongs to the last letter: "ab_1" is a times b_1.
      if (run.size() > 1) emit(TokenKind::word, run.substr(0, run.size() - 1));
      return emit(TokenKind::symbol, run.substr(run.size() - 1) + subscript);
    }
    emit(run.size() == 1 ? TokenKind::symbol : TokenKind::word, run);
  }

  // A balanced {...} group starting at pos_ (which holds '{'); its content, or nullopt when the
  // group is never closed. Escaped braces do not count.
  std::optional<std::string_view> braced_group() {
    if (at(pos_) != '{') return std::nullopt;
    int depth = 0;
    for (std::size_t i = pos_; i < s_.size(); ++i) {
      if (s_[i] == '\\') {
        ++i;
      } else if (s_[i] == '{') {
        ++depth;
      } else if (s_[i] == '}' && --depth == 0) {
        std::string_view content = s_.substr(pos_ + 1, i - pos_ - 1);
        pos_ = i + 1;
        return content;
      }
    }
    return std::nullopt;
  }

  void skip_spaces() {
    while (text::is_space(at(pos_))) ++pos_;
  }

  void lex_command() {
    ++pos_;  // the backslash
    if (!is_letter(at(pos_))) {
      const char c = at(pos_);
      pos_ = std::min(pos_ + 1, s_.size());
      switch (c) {
        case '{': return emit(TokenKind::op, "\\{");
        case '}': return emit(TokenKind::op, "\\}");
        case '\\': return emit(TokenKind::op, "\\\\");
        case '%': case '$': return;
        case ',': case '!': case ';': case ':': case ' ': case '>': space_ = true; return;
        case '(': case ')': case '[': case ']': return;  // \( \) \[ \] delimit math
        default: return invalid(std::string("\\") + c);
      }
    }
    const std::size_t begin = pos_;
    while (is_letter(at(pos_))) ++pos_;
    const std::string name(s_.substr(begin, pos_ - begin));
    if (is_decoration_command(name)) {
      space_ = true;
      return;
    }
    if (name == "pi") return emit(TokenKind::constant, "pi");
    if (name == "infty") return emit(TokenKind::constant, "infinity");
    if (name == "emptyset" || name == "varnothing") return emit(TokenKind::constant, "emptyset");
    if (name == "dfrac" || name == "tfrac" || name == "cfrac") {
      return emit(TokenKind::function, "frac");
    }
    if (name == "dbinom" || name == "tbinom") return emit(TokenKind::function, "binom");
    if (is_function_name(name)) return emit(TokenKind::function, name);
    if (is_greek_name(name)) return emit(TokenKind::symbol, name + lex_subscript());
    if (name == "cdot" || name == "times" || name == "ast") return emit(TokenKind::op, "*");
    if (name == "div") return emit(TokenKind::op, "/");
    if (name == "le" || name == "leq" || name == "leqslant") return emit(TokenKind::op, "<=");
    if (name == "ge" || name == "geq" || name == "geqslant") return emit(TokenKind::op, ">=");
    if (name == "ne" || name == "neq") return emit(TokenKind::op, "!=");
    if (name == "lt") return emit(TokenKind::op, "<");
    if (name == "gt") return emit(TokenKind::op, ">");
    if (name == "cup") return emit(TokenKind::op, "cup");
    if (name == "lvert" || name == "rvert" || name == "vert") return emit(TokenKind::op, "|");
    if (is_text_command(name)) {
      skip_spaces();
      std::optional<std::string_view> content = braced_group();
      if (!content) return invalid("\\" + name);
      return emit(TokenKind::text, std::string(*content));
    }
    if (name == "begin" || name == "end") {
      skip_spaces();
      std::optional<std::string_view> environment = braced_group();
      if (!environment) return invalid("\\" + name);
      if (name == "begin" && *environment == "array") {
        skip_spaces();
        braced_group();  // the column layout, e.g. {cc}
      }
      return emit(name == "begin" ? TokenKind::begin : TokenKind::end, std::string(*environment));
    }
    invalid("\\" + name);  // \pm, \approx, \in, ...: nothing a single exact answer holds
  }

  // "^\circ" and "^{\circ}" are degree signs (dropped); any other caret is a power.
  void lex_caret() {
    std::size_t cursor = pos_ + 1;
    while (text::is_space(at(cursor))) ++cursor;
    const bool braced = at(cursor) == '{';
    if (braced) ++cursor;
    while (text::is_space(at(cursor))) ++cursor;
    if (starts_with(s_, cursor, "\\circ") && !is_letter(at(cursor + 5))) {
      cursor += 5;
      while (text::is_space(at(cursor))) ++cursor;
      if (!braced || at(cursor) == '}') {
        pos_ = braced ? cursor + 1 : cursor;
        return;
      }
    }
    emit(TokenKind::op, "^");
    ++pos_;
  }

  void lex_non_ascii() {
    const unicode::Decoded decoded = unicode::decode(s_, pos_);
    const std::string bytes(s_.substr(pos_, decoded.length));
    pos_ += decoded.length;
    switch (decoded.code_point) {
      case 0xA0: case 0x2009: case 0x202F: case 0x2005: space_ = true; return;  // no-break and thin spaces
      case 0xB0: return;  // degree sign
      case 0x3C0: return emit(TokenKind::constant, "pi");
      case 0x221E: return emit(TokenKind::constant, "infinity");
      case 0x2205: return emit(TokenKind::constant, "emptyset");
      case 0x221A: return emit(TokenKind::function, "sqrt");
      case 0xD7: case 0xB7: case 0x22C5: case 0x2219: return emit(TokenKind::op, "*");
      case 0xF7: case 0x2215: return emit(TokenKind::op, "/");
      case 0x2212: case 0x2013: return emit(TokenKind::op, "-");
      case 0x2264: return emit(TokenKind::op, "<=");
      case 0x2265: return emit(TokenKind::op, ">=");
      case 0x2260: return emit(TokenKind::op, "!=");
      case 0x222A: return emit(TokenKind::op, "cup");
      case 0xB2: case 0xB3: case 0xB9: {  // superscript digits: x² is x^2
        emit(TokenKind::op, "^");
        return emit(TokenKind::number, decoded.code_point == 0xB2   ? "2"
                                       : decoded.code_point == 0xB3 ? "3"
                                                                    : "1");
      }
      case 0x3B1: return emit(TokenKind::symbol, "alpha");
      case 0x3B2: return emit(TokenKind::symbol, "beta");
      case 0x3B3: return emit(TokenKind::symbol, "gamma");
      case 0x3B4: return emit(TokenKind::symbol, "delta");
      case 0x3B8: return emit(TokenKind::symbol, "theta");
      case 0x3BB: return emit(TokenKind::symbol, "lambda");
      case 0x3BC: return emit(TokenKind::symbol, "mu");
      case 0x3C3: return emit(TokenKind::symbol, "sigma");
      case 0x3C6: return emit(TokenKind::symbol, "phi");
      case 0x3C9: return emit(TokenKind::symbol, "omega");
      default: return invalid(bytes);
    }
  }

  std::string_view s_;
  Commas commas_;
  bool joined_thousands_ = false;
  std::size_t pos_ = 0;
  bool space_ = false;
  std::vector<Token> tokens_;
};

std::vector<Token> lex(std::string_view source, Commas commas, int text_depth, bool* joined);

bool has_digit(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return text::is_digit(c); });
}

// A unit written as text: letters (and spaces, periods, slashes) only, no claim-changing word.
bool is_unit_text(std::string_view content) {
  if (has_digit(content) || text::is_blank(content)) return false;
  std::string word;
  auto word_ok = [&] { return word.empty() || !changes_the_claim(lowercase_ascii(word)); };
  for (char c : content) {
    if (is_letter(c)) {
      word.push_back(c);
    } else if (text::is_space(c) || c == '.' || c == '/' || c == '^' ||
               static_cast<unsigned char>(c) >= 0x80) {
      if (!word_ok()) return false;
      word.clear();
    } else {
      return false;
    }
  }
  return word_ok();
}

bool is_unit_word(const Token& token) {
  return token.kind == TokenKind::word && !changes_the_claim(lowercase_ascii(token.text));
}

// A token a unit can follow: a value that is complete.
bool ends_a_value(const Token& token) {
  if (token.kind == TokenKind::number || token.kind == TokenKind::constant) return true;
  return token.kind == TokenKind::op &&
         (token.text == ")" || token.text == "]" || token.text == "}" || token.text == "\\}" ||
          token.text == "!" || token.text == "|");
}

// Drops up to two trailing units ("cm", "\text{ m/s}", "\mathrm{cm}^2") after a value.
void drop_trailing_units(std::vector<Token>& tokens) {
  for (int dropped = 0; dropped < 2; ++dropped) {
    std::size_t end = tokens.size();
    // A unit's power: "cm^2", "\text{m}^{3}".
    if (end >= 3 && tokens[end - 1].kind == TokenKind::number && tokens[end - 2].text == "^") {
      end -= 2;
    } else if (end >= 5 && tokens[end - 1].text == "}" && tokens[end - 2].kind == TokenKind::number &&
               tokens[end - 3].text == "{" && tokens[end - 4].text == "^") {
      end -= 4;
    }
    if (end < 2) return;
    const Token& unit = tokens[end - 1];
    const bool unit_like = unit.kind == TokenKind::text ? is_unit_text(unit.text) : is_unit_word(unit);
    if (!unit_like) return;
    // The token before the unit (or before the first unit, when two are dropped) ends a value.
    const Token& before = tokens[end - 2];
    const bool before_ok = ends_a_value(before) ||
                           (dropped == 0 && (before.kind == TokenKind::word ||
                                             before.kind == TokenKind::text) &&
                            end >= 3 && ends_a_value(tokens[end - 3]));
    if (!before_ok) return;
    tokens.resize(end - 1);
  }
}

std::vector<Token> lex(std::string_view source, Commas commas, int text_depth, bool* joined) {
  Lexer lexer(source, commas);
  std::vector<Token> tokens = lexer.run();
  // An answer that is only \text{...} is its content: "\text{(B)}", "\text{Monday}".
  if (tokens.size() == 1 && tokens[0].kind == TokenKind::text && text_depth < kMaxTextDepth) {
    return lex(tokens[0].text, commas, text_depth + 1, joined);
  }
  if (joined) *joined = lexer.joined_thousands();
  drop_trailing_units(tokens);
  return tokens;
}

}  // namespace

std::vector<Token> read_tokens(std::string_view answer, Commas commas, bool* joined_thousands) {
  return lex(answer, commas, 0, joined_thousands);
}

std::string joined_text(const std::vector<Token>& tokens) {
  std::string joined;
  for (const Token& token : tokens) {
    for (char c : token.text) {
      if (!text::is_space(c)) joined.push_back(c);
    }
  }
  return joined;
}

std::string word_answer(const std::vector<Token>& tokens) {
  std::string words;
  bool any_word = false;
  for (const Token& token : tokens) {
    if (token.kind != TokenKind::word && token.kind != TokenKind::symbol) return "";
    any_word = any_word || token.kind == TokenKind::word;
    if (!words.empty()) words.push_back(' ');
    words += lowercase_ascii(token.text);
  }
  return any_word ? words : "";
}

}  // namespace r1::rewards::math
