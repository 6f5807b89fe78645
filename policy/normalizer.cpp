// Normalizers from tokenizer.json. ICU does the Unicode work; ASCII text skips it (no normal form
// or lower-casing of ASCII changes anything but letters, which Lowercase handles itself).
#include "policy/normalizer.h"

#include <vector>

#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/normalizer2.h>

#include "common/error.h"
#include "policy/regex.h"

namespace r1::policy {

namespace {

bool is_ascii(const std::string& text) {
  for (unsigned char c : text)
    if (c >= 0x80) return false;
  return true;
}

class UnicodeForm : public Normalizer {
 public:
  UnicodeForm(const std::string& type, const std::string& file) {
    UErrorCode status = U_ZERO_ERROR;
    if (type == "NFC") form_ = icu::Normalizer2::getNFCInstance(status);
    if (type == "NFD") form_ = icu::Normalizer2::getNFDInstance(status);
    if (type == "NFKC") form_ = icu::Normalizer2::getNFKCInstance(status);
    if (type == "NFKD") form_ = icu::Normalizer2::getNFKDInstance(status);
    R1_CHECK(U_SUCCESS(status) && form_ != nullptr, file, ": normalizer ", type, ": ICU has no such form (",
             u_errorName(status), ")");
  }
  void normalize(std::string& text) const override {
    if (is_ascii(text)) return;
    UErrorCode status = U_ZERO_ERROR;
    if (form_->isNormalizedUTF8(text, status) && U_SUCCESS(status)) return;
    std::string out;
    icu::StringByteSink<std::string> sink(&out, int32_t(text.size()));
    status = U_ZERO_ERROR;
    form_->normalizeUTF8(0, text, sink, nullptr, status);
    R1_ASSERT(U_SUCCESS(status), "ICU normalization failed: ", u_errorName(status));
    text = std::move(out);
  }

 private:
  const icu::Normalizer2* form_ = nullptr;
};

class Lowercase : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    if (is_ascii(text)) {
      for (char& c : text)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
      return;
    }
    std::string out;
    icu::StringByteSink<std::string> sink(&out, int32_t(text.size()));
    UErrorCode status = U_ZERO_ERROR;
    icu::CaseMap::utf8ToLower("", 0, text, sink, nullptr, status);
    R1_ASSERT(U_SUCCESS(status), "ICU lower-casing failed: ", u_errorName(status));
    text = std::move(out);
  }
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class Replace : public Normalizer {
 public:
  Replace(const nlohmann::json& spec, const std::string& file) {
    const std::string where = file + ": normalizer Replace";
    R1_CHECK(spec.contains("pattern") && spec["pattern"].is_object() && spec.contains("content") &&
                 spec["content"].is_string(),
             where, ": expected {\"pattern\": {\"String\"|\"Regex\": ...}, \"content\": str}");
    content_ = spec["content"].get<std::string>();
    const auto& pattern = spec["pattern"];
    if (pattern.contains("String")) {
      literal_ = pattern["String"].get<std::string>();
      R1_CHECK(!literal_.empty(), where, ": empty pattern");
    } else {
      R1_CHECK(pattern.contains("Regex") && pattern["Regex"].is_string(), where, ": pattern needs String or Regex");
      regex_ = std::make_unique<Regex>(pattern["Regex"].get<std::string>(), where);
    }
  }
  void normalize(std::string& text) const override {
    std::string out;
    std::size_t copied = 0;
    const auto replace = [&](std::size_t begin, std::size_t end) {
      out.append(text, copied, begin - copied);
      out += content_;
      copied = end;
    };
    if (regex_) {
      regex_->for_each_match(text, replace);
    } else {
      for (std::size_t at = text.find(literal_); at != std::string::npos; at = text.find(literal_, at + literal_.size()))
        replace(at, at + literal_.size());
    }
    if (copied == 0 && out.empty()) return;  // nothing matched
    out.append(text, copied);
    text = std::move(out);
  }

 private:
  std::string literal_, content_;
  std::unique_ptr<Regex> regex_;
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec, const std::string& file) {
  if (spec.is_null()) return nullptr;
  R1_CHECK(spec.is_object() && spec.contains("type") && spec["type"].is_string(), file,
           ": \"normalizer\" must be null or an object with a \"type\"");
  const std::string type = spec["type"].get<std::string>();
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") return std::make_unique<UnicodeForm>(type, file);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Prepend") {
    R1_CHECK(spec.contains("prepend") && spec["prepend"].is_string(), file, ": normalizer Prepend needs \"prepend\"");
    return std::make_unique<Prepend>(spec["prepend"].get<std::string>());
  }
  if (type == "Replace") return std::make_unique<Replace>(spec, file);
  if (type == "Sequence") {
    R1_CHECK(spec.contains("normalizers") && spec["normalizers"].is_array(), file,
             ": normalizer Sequence needs a \"normalizers\" array");
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& step : spec["normalizers"])
      if (auto made = make_normalizer(step, file)) steps.push_back(std::move(made));
    return std::make_unique<Sequence>(std::move(steps));
  }
  R1_FAIL(file, ": normalizer type '", type,
          "' is not supported (r1 reads NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Sequence)");
}

}  // namespace r1::policy
