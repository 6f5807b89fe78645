// A Hugging Face checkpoint directory for CLI tests: a parity fixture's config.json and weights
// (tests/fixtures/hf-parity) plus a byte-level BPE tokenizer.json of exactly 256 ids.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/stages/cli_runner.h"

inline const std::filesystem::path kHfFixtures = std::filesystem::path(R1_SOURCE_DIR) / "tests" / "fixtures" / "hf-parity";

// GPT-2's byte-to-character map: printable bytes stand for themselves, the rest for U+0100 on.
inline std::string byte_char(int byte) {
  const bool printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255);
  int code = byte;
  if (!printable) {
    int shifted = 0;
    for (int b = 0; b < byte; ++b)
      if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) ++shifted;
    code = 256 + shifted;
  }
  std::string out;
  if (code < 0x80) {
    out += char(code);
  } else {
    out += char(0xC0 | (code >> 6));
    out += char(0x80 | (code & 0x3F));
  }
  return out;
}

// A checkpoint directory: the fixture's config.json and weights, and a byte-level tokenizer whose
// 256 ids are the 256 bytes (no merges), byte 0 doubling as EOS.
inline std::filesystem::path make_checkpoint(const std::filesystem::path& dir, const std::string& family) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  for (const char* file : {"config.json", "model.safetensors"}) fs::copy_file(kHfFixtures / family / file, dir / file);
  nlohmann::json vocab = nlohmann::json::object();
  for (int byte = 0; byte < 256; ++byte) vocab[byte_char(byte)] = byte;
  const nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                                     {"use_regex", true}};
  const nlohmann::json tokenizer = {
      {"version", "1.0"},          {"added_tokens", nlohmann::json::array()}, {"normalizer", nullptr},
      {"pre_tokenizer", byte_level}, {"post_processor", nullptr},             {"decoder", byte_level},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"byte_fallback", false},
        {"vocab", vocab}, {"merges", nlohmann::json::array()}}}};
  write_text(dir / "tokenizer.json", tokenizer.dump());
  write_text(dir / "tokenizer_config.json", nlohmann::json({{"eos_token", byte_char(0)}}).dump());
  return dir;
}

