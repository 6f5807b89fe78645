// Decoders from tokenizer.json, after HF tokenizers' decoders/*.rs.
#include "policy/bpe_decoder.h"

#include "common/error.h"
#include "policy/byte_level.h"
#include "policy/regex.h"
#include "policy/utf8.h"

namespace r1::policy {

namespace {

// Token strings in the byte alphabet back to bytes; a token with a character outside the alphabet
// (an added token) is kept as it is.
class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string text;
    for (const auto& token : tokens)
      if (!byte_level::decode(token, text)) text += token;
    tokens.assign(1, std::move(text));
  }
};

// <0xXX> tokens (SentencePiece byte fallback) become their bytes.
class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& token : tokens) {
      if (token.size() == 6 && token.compare(0, 3, "<0x") == 0 && token[5] == '>') {
        const auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
        const int high = hex(token[3]), low = hex(token[4]);
        if (high >= 0 && low >= 0) token.assign(1, char(high * 16 + low));
      }
    }
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string text;
    for (const auto& token : tokens) text += token;
    tokens.assign(1, std::move(text));
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from each token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, int start, int stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& token : tokens) {
      std::size_t begin = 0, end = token.size();
      for (int i = 0; i < start_ && token.compare(begin, content_.size(), content_) == 0 && begin < end; ++i)
        begin += content_.size();
      for (int i = 0; i < stop_ && end >= begin + content_.size() &&
                      token.compare(end - content_.size(), content_.size(), content_) == 0;
           ++i)
        end -= content_.size();
      token = token.substr(begin, end - begin);
    }
  }

 private:
  std::string content_;
  int start_, stop_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const nlohmann::json& spec, const std::string& file) {
    const std::string where = file + ": decoder Replace";
    R1_CHECK(spec.contains("pattern") && spec["pattern"].is_object() && spec.contains("content"), where,
             ": expected {\"pattern\": {\"String\"|\"Regex\": ...}, \"content\": str}");
    content_ = spec["content"].get<std::string>();
    if (spec["pattern"].contains("String")) {
      literal_ = spec["pattern"]["String"].get<std::string>();
      R1_CHECK(!literal_.empty(), where, ": empty pattern");
    } else {
      R1_CHECK(spec["pattern"].contains("Regex"), where, ": pattern needs String or Regex");
      regex_ = std::make_unique<Regex>(spec["pattern"]["Regex"].get<std::string>(), where);
    }
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& token : tokens) {
      std::string out;
      std::size_t copied = 0;
      const auto replace = [&](std::size_t begin, std::size_t end) {
        out.append(token, copied, begin - copied);
        out += content_;
        copied = end;
      };
      if (regex_) {
        // Regex needs valid UTF-8; a token that is not (a lone byte) has nothing to replace.
        if (utf8::valid_prefix_end(token, 0) == token.size()) regex_->for_each_match(token, replace);
      } else {
        for (auto at = token.find(literal_); at != std::string::npos; at = token.find(literal_, at + literal_.size()))
          replace(at, at + literal_.size());
      }
      out.append(token, copied);
      token = std::move(out);
    }
  }

 private:
  std::string literal_, content_;
  std::unique_ptr<Regex> regex_;
};

// Metaspace: the replacement character back to spaces, less the one put before the text.
class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first) : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& token = tokens[i];
      std::size_t at = 0;
      if (i == 0 && strip_first_ && token.compare(0, replacement_.size(), replacement_) == 0) at = replacement_.size();
      for (; at < token.size();) {
        if (token.compare(at, replacement_.size(), replacement_) == 0) {
          out += ' ';
          at += replacement_.size();
        } else {
          out += token[at++];
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& spec, const std::string& file) {
  if (spec.is_null()) return nullptr;
  R1_CHECK(spec.is_object() && spec.contains("type") && spec["type"].is_string(), file,
           ": \"decoder\" must be null or an object with a \"type\"");
  const std::string type = spec["type"].get<std::string>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip")
    return std::make_unique<StripDecoder>(spec.value("content", std::string(" ")), spec.value("start", 0), spec.value("stop", 0));
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(spec, file);
  if (type == "Metaspace") {
    std::string scheme = spec.value("prepend_scheme", std::string());
    if (scheme.empty()) scheme = spec.value("add_prefix_space", true) ? "always" : "never";
    return std::make_unique<MetaspaceDecoder>(spec.value("replacement", std::string("\xE2\x96\x81")), scheme != "never");
  }
  if (type == "Sequence") {
    R1_CHECK(spec.contains("decoders") && spec["decoders"].is_array(), file, ": decoder Sequence needs a \"decoders\" array");
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& step : spec["decoders"])
      if (auto made = make_decoder(step, file)) steps.push_back(std::move(made));
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  R1_FAIL(file, ": decoder type '", type,
          "' is not supported (r1 reads ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence)");
}

}  // namespace r1::policy
