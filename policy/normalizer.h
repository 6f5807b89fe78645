// The normalizers of a Hugging Face tokenizer.json ("normalizer" key): Unicode normal forms (NFC,
// NFD, NFKC, NFKD, through ICU), Lowercase, Prepend, Replace, and a Sequence of them. They rewrite
// valid UTF-8 text before pre-tokenization. Knows nothing of vocabularies.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace r1::policy {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

// The normalizer `spec` declares; nullptr for JSON null (no normalizer). An unknown type raises a
// UserError naming `file` and the type.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec, const std::string& file);

}  // namespace r1::policy
