// The GPT-2 byte-level alphabet: each of the 256 byte values stands as one printable Unicode
// character, so that BPE vocabularies over bytes can be written as text. Knows nothing of vocabularies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace r1::policy::byte_level {

// Appends the alphabet form of `bytes` (each byte becomes the UTF-8 of its character) to `out`.
void encode(std::string_view bytes, std::string& out);

// Appends the bytes that alphabet text `text` stands for; false (and `out` unchanged) when some
// character of `text` is not in the alphabet.
bool decode(std::string_view text, std::string& out);

}  // namespace r1::policy::byte_level
