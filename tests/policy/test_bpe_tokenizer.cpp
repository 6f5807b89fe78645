// The BPE tokenizer on small tokenizer.json files the tests write: merges by rank (both merge
// formats), added tokens and their flags, normalizers and pre-tokenizers, byte fallback, exact
// byte-level round trips, and errors that name the file and the type. The real Qwen3 and
// DeepSeek-V3 files are compared with a JS reference in tests/policy/tokenizer_reference.mjs.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "policy/bpe_tokenizer.h"
#include "policy/byte_level.h"
#include "policy/tokenizer.h"

using namespace r1::policy;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("r1_test_bpe_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_json(const fs::path& path, const json& value) { std::ofstream(path) << value.dump(1) << "\n"; }

std::string alphabet(const std::string& bytes) {
  std::string out;
  byte_level::encode(bytes, out);
  return out;
}

// A byte-level file: ids 0..255 are the bytes (in byte order), then `tokens` (written as raw
// text, stored in the byte alphabet) from 256 on; `merges` as raw text pairs.
json byte_level_spec(const std::vector<std::string>& tokens, const std::vector<std::pair<std::string, std::string>>& merges,
                     bool pair_format) {
  json vocab = json::object();
  for (int byte = 0; byte < 256; ++byte) vocab[alphabet(std::string(1, char(byte)))] = byte;
  for (std::size_t i = 0; i < tokens.size(); ++i) vocab[alphabet(tokens[i])] = 256 + int(i);
  json merge_list = json::array();
  for (const auto& [left, right] : merges) {
    if (pair_format) {
      merge_list.push_back(json::array({alphabet(left), alphabet(right)}));
    } else {
      merge_list.push_back(alphabet(left) + " " + alphabet(right));
    }
  }
  return {
      {"version", "1.0"},
      {"added_tokens", json::array()},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"},
                       {"pattern", {{"Regex", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
                       {"behavior", "Isolated"},
                       {"invert", false}},
                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}})}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"byte_fallback", false}, {"vocab", vocab}, {"merges", merge_list}}}};
}

json added(const std::string& content, int id, bool special, json flags = json::object()) {
  json token = {{"id", id},       {"content", content}, {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", false}, {"special", special}};
  for (const auto& [key, value] : flags.items()) token[key] = value;
  return token;
}

std::unique_ptr<Tokenizer> load_spec(const std::string& name, const json& spec, const json& config = nullptr) {
  const auto dir = fresh_dir(name);
  write_json(dir / "tokenizer.json", spec);
  if (!config.is_null()) write_json(dir / "tokenizer_config.json", config);
  return load_tokenizer(dir.string());
}

std::vector<int64_t> ids(std::initializer_list<int64_t> list) { return list; }
int64_t byte_id(char c) { return static_cast<unsigned char>(c); }

}  // namespace

TEST_CASE("merges apply by rank, lowest first, leftmost on ties; both merge formats agree") {
  // Tokens from 256: "ab", "bc", "abc", "cd".
  const std::vector<std::string> tokens = {"ab", "bc", "abc", "cd"};
  for (bool pair_format : {false, true}) {
    CAPTURE(pair_format);
    // "b c" outranks "a b": abc -> a + bc; no "a bc" merge, so it stays two tokens.
    auto bc_first = load_spec("rank1", byte_level_spec(tokens, {{"b", "c"}, {"a", "b"}}, pair_format));
    CHECK(bc_first->encode("abc") == ids({byte_id('a'), 257}));
    // "a b" first: ab + c, then "ab c" -> abc.
    auto ab_first = load_spec("rank2", byte_level_spec(tokens, {{"a", "b"}, {"ab", "c"}, {"b", "c"}}, pair_format));
    CHECK(ab_first->encode("abc") == ids({258}));
    CHECK(ab_first->encode("abcabc") == ids({258, 258}));
    // Ties go leftmost: "bcbc" with only "b c": both pairs merge, left one first.
    CHECK(ab_first->encode("bcbc") == ids({257, 257}));
    // abcd: "a b" (rank 0) first, then "ab c" (rank 1) beats "c d" (rank 2), leaving d alone...
    auto four = load_spec("rank3", byte_level_spec(tokens, {{"a", "b"}, {"ab", "c"}, {"c", "d"}}, pair_format));
    CHECK(four->encode("abcd") == ids({258, byte_id('d')}));
    // ...but with "c d" ranked first, cd forms and "ab c" never can.
    auto four_cd = load_spec("rank4", byte_level_spec(tokens, {{"c", "d"}, {"a", "b"}, {"ab", "c"}}, pair_format));
    CHECK(four_cd->encode("abcd") == ids({256, 259}));
  }
}

TEST_CASE("the Split regex and ByteLevel make words: spaces, digits and punctuation, in the byte alphabet") {
  auto tok = load_spec("split", byte_level_spec({" a", "aa"}, {{" ", "a"}, {"a", "a"}}, true));
  // " a" is one word (space + letters), digits are one each, " !" punctuation keeps its space.
  CHECK(tok->encode("a aa 12 !") ==
        ids({byte_id('a'), 256, byte_id('a'), byte_id(' '), byte_id('1'), byte_id('2'), byte_id(' '), byte_id('!')}));
  CHECK(tok->encode("aaaa") == ids({257, 257}));
  // Non-ASCII: each byte of the UTF-8 is its own id without merges.
  CHECK(tok->encode("é") == ids({0xC3, 0xA9}));
}

TEST_CASE("Split behaviours decide where word boundaries fall (merges never cross them)") {
  // Merges that would join across a boundary: a- (256), -b (257), -- (258).
  const auto split_spec = [](const std::string& behavior, bool invert) {
    auto spec = byte_level_spec({"a-", "-b", "--"}, {{"a", "-"}, {"-", "b"}, {"-", "-"}}, true);
    spec["pre_tokenizer"] = {{"type", "Sequence"},
                             {"pretokenizers", json::array({{{"type", "Split"}, {"pattern", {{"String", "-"}}},
                                                             {"behavior", behavior}, {"invert", invert}},
                                                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
    return spec;
  };
  const int64_t a = byte_id('a'), b = byte_id('b'), dash = byte_id('-');
  CHECK(load_spec("isolated", split_spec("Isolated", false))->encode("a-b") == ids({a, dash, b}));
  CHECK(load_spec("removed", split_spec("Removed", false))->encode("a-b") == ids({a, b}));
  CHECK(load_spec("previous", split_spec("MergedWithPrevious", false))->encode("a-b") == ids({256, b}));
  CHECK(load_spec("next", split_spec("MergedWithNext", false))->encode("a-b") == ids({a, 257}));
  CHECK(load_spec("isolated2", split_spec("Isolated", false))->encode("a--b") == ids({a, dash, dash, b}));
  CHECK(load_spec("contiguous", split_spec("Contiguous", false))->encode("a--b") == ids({a, 258, b}));
  // invert: the pattern marks what to keep, so Removed drops everything else.
  CHECK(load_spec("inverted", split_spec("Removed", true))->encode("a-b") == ids({dash}));
}

TEST_CASE("added tokens are matched in the text before pre-tokenization, longest first") {
  auto spec = byte_level_spec({"ab"}, {{"a", "b"}}, true);
  spec["added_tokens"] = json::array({added("<|x|>", 300, true), added("<|x|>y", 301, true), added("<think>", 302, false)});
  auto tok = load_spec("added", spec, json{{"eos_token", "<|x|>"}});
  CHECK(tok->encode("ab<|x|>ab") == ids({256, 300, 256}));
  CHECK(tok->encode("<|x|>y") == ids({301}));  // the longer token wins
  CHECK(tok->encode("<think>ab</think>") ==
        ids({302, 256, byte_id('<'), byte_id('/'), byte_id('t'), byte_id('h'), byte_id('i'), byte_id('n'), byte_id('k'), byte_id('>')}));
  CHECK(tok->encode("<|x|") == ids({byte_id('<'), byte_id('|'), byte_id('x'), byte_id('|')}));
  CHECK(*tok->special_id("<think>") == 302);
  CHECK_FALSE(tok->special_id("<nope>").has_value());
  CHECK(tok->vocab_size() == 303);
  CHECK(tok->eos_id() == 300);
  CHECK(tok->pad_id() == 300);
  CHECK(tok->decode({300, 256, 302}) == "<|x|>ab<think>");
  CHECK(tok->token_text(302) == "<think>");
}

TEST_CASE("added-token flags: lstrip and rstrip take the whitespace beside, single_word needs word boundaries") {
  auto spec = byte_level_spec({}, {}, true);
  spec["added_tokens"] = json::array({added("<mask>", 300, true, {{"lstrip", true}}), added("<end>", 301, true, {{"rstrip", true}}),
                                      added("hi", 302, false, {{"single_word", true}})});
  auto tok = load_spec("flags", spec);
  CHECK(tok->encode("a  <mask>b") == ids({byte_id('a'), 300, byte_id('b')}));
  CHECK(tok->encode("<end> \n b") == ids({301, byte_id('b')}));
  CHECK(tok->encode("hi") == ids({302}));
  CHECK(tok->encode("say hi!") == ids({byte_id('s'), byte_id('a'), byte_id('y'), byte_id(' '), 302, byte_id('!')}));
  CHECK(tok->encode("this") == ids({byte_id('t'), byte_id('h'), byte_id('i'), byte_id('s')}));
}

TEST_CASE("normalizers run on the text between added tokens; normalized added tokens match after them") {
  auto spec = byte_level_spec({}, {}, true);
  spec["normalizer"] = {{"type", "NFC"}};
  spec["added_tokens"] = json::array({added("<é>", 300, false, {{"normalized", true}})});
  auto tok = load_spec("nfc", spec);
  // e + combining acute becomes é (C3 A9) before BPE.
  CHECK(tok->encode("e\u0301") == ids({0xC3, 0xA9}));
  CHECK(tok->encode("<e\u0301>") == ids({300}));  // matched after normalization, as HF does

  auto lower = byte_level_spec({}, {}, true);
  lower["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "Lowercase"}}, {{"type", "NFKC"}}})}};
  CHECK(load_spec("lower", lower)->encode("AＢ") == ids({byte_id('a'), byte_id('b')}));
}

TEST_CASE("Digits and ByteLevel with its own regex and prefix space") {
  auto spec = byte_level_spec({" 12", "12"}, {{"1", "2"}, {" ", "12"}}, true);
  spec["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", false}},
                                                          {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}})}};
  auto tok = load_spec("digits", spec);
  // Digits cuts "x12" into "x" and "12"; ByteLevel puts a space before each word: " x", " 12".
  CHECK(tok->encode("x12") == ids({byte_id(' '), byte_id('x'), 256}));
}

TEST_CASE("decode(encode(s)) == s for byte-level files, whatever the bytes") {
  auto spec = byte_level_spec({"ab", " a"}, {{"a", "b"}, {" ", "a"}}, false);
  spec["added_tokens"] = json::array({added("<|im_start|>", 300, true)});
  auto tok = load_spec("roundtrip", spec);
  for (const std::string text :
       {std::string("ab ab\tab\n\n  ab  "), std::string("你好，世界 👨‍👩‍👧‍👦 🇩🇪"), std::string("<|im_start|>x<|im_start|"),
        std::string("bad \xff\xfe bytes \xe4\xbd and a cut char \xf0\x9f\x98"), std::string(""), std::string(300, 'a'),
        std::string("\0 nul", 5)}) {
    CAPTURE(text);
    CHECK(tok->decode(tok->encode(text)) == text);
    CHECK(tok->encode(text) == tok->encode(text));  // the word cache changes nothing
  }
  // A token ending inside a character decodes to the bytes so far.
  CHECK(tok->decode({0xE4}) == "\xE4");
  // Ids without a token decode to nothing.
  CHECK(tok->decode({100000}).empty());
}

TEST_CASE("SentencePiece-style files: Prepend/Replace normalizer, byte_fallback, and the decoder chain") {
  const std::string space = "\xE2\x96\x81";  // ▁
  json vocab = {{"<unk>", 0}, {space, 1}, {"h", 2}, {"i", 3}, {space + "h", 4}, {space + "hi", 5}};
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", byte);
    vocab[name] = 6 + byte;
  }
  json spec = {
      {"added_tokens", json::array({added("<unk>", 0, true)})},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", space}},
                                     {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}})}}},
      {"pre_tokenizer", nullptr},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                                  {{"type", "ByteFallback"}},
                                  {{"type", "Fuse"}},
                                  {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}},
      {"model", {{"type", "BPE"}, {"unk_token", "<unk>"}, {"byte_fallback", true}, {"fuse_unk", true}, {"vocab", vocab},
                 {"merges", json::array({json::array({space, "h"}), json::array({space + "h", "i"})})}}}};
  auto tok = load_spec("spm", spec);
  // "hi 你" -> ▁hi ▁ then 你 as its three UTF-8 bytes.
  const auto encoded = tok->encode("hi 你");
  CHECK(encoded == ids({5, 1, 6 + 0xE4, 6 + 0xBD, 6 + 0xA0}));
  CHECK(tok->decode(encoded) == "hi 你");
}

TEST_CASE("Metaspace: spaces become the replacement, prepend_scheme first marks only the text's start") {
  const std::string space = "\xE2\x96\x81";  // ▁
  json metaspace = {{"type", "Metaspace"}, {"replacement", space}, {"prepend_scheme", "first"}, {"split", true}};
  json spec = {{"added_tokens", json::array({added("<x>", 5, true)})},
               {"normalizer", nullptr},
               {"pre_tokenizer", metaspace},
               {"decoder", metaspace},
               {"model", {{"type", "BPE"},
                          {"vocab", {{space, 0}, {"h", 1}, {"i", 2}, {space + "h", 3}, {space + "hi", 4}}},
                          {"merges", json::array({json::array({space, "h"}), json::array({space + "h", "i"})})}}}};
  auto tok = load_spec("metaspace", spec);
  // "hi hi" starts the text: ▁hi ▁hi; after the added token "hi" gets no ▁.
  const auto encoded = tok->encode("hi hi<x>hi");
  CHECK(encoded == ids({4, 4, 5, 1, 2}));
  CHECK(tok->decode(encoded) == "hi hi<x>hi");
}

TEST_CASE("eos and pad from tokenizer_config.json in either form; a tokenizer.json path works too") {
  auto spec = byte_level_spec({}, {}, true);
  spec["added_tokens"] = json::array({added("<|endoftext|>", 300, true), added("<|pad|>", 301, true)});
  const auto dir = fresh_dir("config");
  write_json(dir / "tokenizer.json", spec);
  auto bare = load_tokenizer((dir / "tokenizer.json").string());
  CHECK(bare->kind() == "bpe");
  CHECK(bare->eos_id() == 300);  // by name, without a config
  CHECK(bare->pad_id() == 300);
  write_json(dir / "tokenizer_config.json",
             {{"eos_token", {{"__type", "AddedToken"}, {"content", "<|endoftext|>"}}}, {"pad_token", "<|pad|>"}});
  auto configured = load_tokenizer(dir.string());
  CHECK(configured->eos_id() == 300);
  CHECK(configured->pad_id() == 301);

  // save_tokenizer copies both files, so the saved directory loads the same tokenizer.
  const auto saved = fresh_dir("saved");
  save_tokenizer(*configured, saved.string());
  auto reloaded = load_tokenizer(saved.string());
  CHECK(reloaded->encode("x<|pad|>") == configured->encode("x<|pad|>"));
  CHECK(reloaded->pad_id() == 301);
  save_tokenizer(*reloaded, saved.string());  // onto itself: nothing to copy, no error
}

TEST_CASE("unsupported or broken files fail naming the file and what is wrong") {
  const auto message = [](const json& spec) {
    const auto dir = fresh_dir("bad");
    write_json(dir / "tokenizer.json", spec);
    try {
      load_tokenizer(dir.string());
    } catch (const r1::UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto spec = byte_level_spec({}, {}, true);
  spec["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  auto what = message(spec);
  CHECK(what.find("tokenizer.json") != std::string::npos);
  CHECK(what.find("BertPreTokenizer") != std::string::npos);

  spec = byte_level_spec({}, {}, true);
  spec["normalizer"] = {{"type", "Precompiled"}};
  CHECK(message(spec).find("normalizer type 'Precompiled'") != std::string::npos);

  spec = byte_level_spec({}, {}, true);
  spec["model"]["type"] = "Unigram";
  CHECK(message(spec).find("model type 'Unigram'") != std::string::npos);

  spec = byte_level_spec({}, {}, true);
  spec["model"]["merges"] = json::array({"a b c"});
  CHECK(message(spec).find("model.merges[0]") != std::string::npos);

  spec = byte_level_spec({}, {}, true);
  spec["model"]["merges"] = json::array({json::array({"a", "zz"})});
  CHECK(message(spec).find("'zz', which is not in model.vocab") != std::string::npos);

  spec = byte_level_spec({}, {}, true);
  spec["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  CHECK(message(spec).find("bad regex") != std::string::npos);

  CHECK_THROWS_AS(load_tokenizer((fresh_dir("empty") / "nothing").string()), r1::UserError);
}
