// The decoders of a tokenizer.json ("decoder" key): ByteLevel, Metaspace, Replace, ByteFallback,
// Fuse, Strip, and a Sequence of them. They turn token strings back into text. r1 keeps bytes where
// HF would put U+FFFD (a token that ends inside a character decodes to that character's first
// bytes), so that decoding a prefix of ids gives a prefix of the text. Knows nothing of ids.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::policy {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the token strings; the text is their concatenation afterwards.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// The decoder `spec` declares; nullptr for JSON null. An unknown type raises a UserError naming
// `file` and the type.
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& spec, const std::string& file);

}  // namespace r1::policy
