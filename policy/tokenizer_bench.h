// `r1 bench tokenizer`: how fast a tokenizer encodes mixed text on one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/tokenizer.h"

namespace r1::policy {

// Deterministic mixed text, split into documents of a few KB: English prose, German with umlauts,
// Russian, Chinese, Japanese, Korean, numbers and decimals, code with indentation and tabs,
// whitespace runs, emoji and chat-template special tokens. Words are drawn from per-script pools
// with a Zipf-like law, so that repeats (and the BPE word cache) behave roughly as in real text.
std::vector<std::string> bench_documents(std::size_t total_bytes, uint64_t seed);

// Encodes every document (first pass: a cold word cache; then `repeats` timed passes, the best
// kept), decodes them once, and returns {"bytes", "documents", "tokens", "bytes_per_token",
// "first_pass_mb_per_s", "mb_per_s", "decode_mb_per_s", "round_trip_exact"} (MB = 10^6 bytes).
nlohmann::json bench_tokenizer(const Tokenizer& tokenizer, std::size_t total_bytes, int64_t repeats, uint64_t seed);

}  // namespace r1::policy
