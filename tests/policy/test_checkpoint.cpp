// safetensors I/O (including corrupt files), checkpoints, the byte tokenizer and chat templates.
#include "tests/doctest_torch.h"

#include "common/error.h"

#include <filesystem>
#include <fstream>

#include "policy/chat_template.h"
#include "policy/checkpoint.h"
#include "policy/safetensors.h"

using namespace r1::policy;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("r1_test_policy_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}
std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_all(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}
// A file with the given JSON header and `data_bytes` zero bytes of data.
void write_raw(const fs::path& path, const std::string& header, std::size_t data_bytes) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  write_all(path, bytes + header + std::string(data_bytes, '\0'));
}
}  // namespace

TEST_CASE("safetensors round-trips names, shapes, dtypes and values") {
  auto dir = temp_dir("roundtrip");
  auto path = (dir / "t.safetensors").string();
  torch::manual_seed(0);
  NamedTensors tensors = {{"a.weight", torch::randn({3, 4})},
                          {"b", torch::randn({5}).to(torch::kBFloat16)},
                          {"c", torch::randn({2, 2}).to(torch::kFloat16)},
                          {"d", torch::arange(7, torch::kLong)}};
  save_safetensors(path, tensors, {{"format", "pt"}});
  auto loaded = load_safetensors(path);
  REQUIRE(loaded.size() == 4);
  for (const auto& [name, tensor] : tensors) {
    CHECK((loaded[name].scalar_type() == tensor.scalar_type()));
    CHECK((loaded[name].sizes() == tensor.sizes()));
    CHECK(torch::equal(loaded[name], tensor));
  }
  // The header is plain JSON after an 8-byte little-endian length, as other readers expect.
  auto raw = read_all(path);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t(uint8_t(raw[i])) << (8 * i);
  auto header = nlohmann::json::parse(raw.substr(8, header_len));
  CHECK(header["a.weight"]["dtype"] == "F32");
  CHECK(header["b"]["dtype"] == "BF16");
  CHECK(header["__metadata__"]["format"] == "pt");
}

TEST_CASE("corrupt safetensors files are clear errors naming the file and tensor") {
  auto dir = temp_dir("corrupt");
  auto good = (dir / "good.safetensors").string();
  save_safetensors(good, {{"w", torch::ones({4, 4})}});
  const auto bytes = read_all(good);

  auto bad = dir / "bad.safetensors";
  write_all(bad, bytes.substr(0, bytes.size() - 10));  // truncated data
  CHECK_THROWS_WITH_AS(load_safetensors(bad.string()), doctest::Contains("bad.safetensors"), r1::UserError);
  CHECK_THROWS_WITH_AS(load_safetensors(bad.string()), doctest::Contains("'w'"), r1::UserError);

  write_all(bad, bytes.substr(0, 5));
  CHECK_THROWS_WITH_AS(load_safetensors(bad.string()), doctest::Contains("not a safetensors file"), r1::UserError);

  std::string huge_len = bytes;
  huge_len[7] = char(0x7f);
  write_all(bad, huge_len);
  CHECK_THROWS_WITH_AS(load_safetensors(bad.string()), doctest::Contains("runs past the end"), r1::UserError);

  write_raw(bad, R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12);
  CHECK_THROWS_WITH_AS(load_safetensors(bad.string()), doctest::Contains("overlap"), r1::UserError);

  write_raw(bad, R"({"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8);
  CHECK_THROWS_WITH_AS(load_safetensors(bad.string()), doctest::Contains("unknown dtype"), r1::UserError);

  write_raw(bad, R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
  CHECK_THROWS_WITH_AS(load_safetensors(bad.string()), doctest::Contains("need 12"), r1::UserError);

  write_raw(bad, R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}})", 8);
  CHECK_THROWS_WITH_AS(load_safetensors(bad.string()), doctest::Contains("outside the data section"), r1::UserError);

  write_raw(bad, R"({"x": nope})", 8);
  CHECK_THROWS_WITH_AS(load_safetensors(bad.string()), doctest::Contains("not valid JSON"), r1::UserError);
}

TEST_CASE("checkpoints round-trip the model exactly; missing or extra tensors are errors") {
  auto dir = temp_dir("ckpt");
  auto config = preset_config("tiny");
  config.vocab_size = ByteTokenizer().vocab_size();
  torch::manual_seed(1);
  CausalLM model(config);
  save_pretrained(dir.string(), model, ByteTokenizer(), TemplateConfig{"r1_zero", "Think.\n"});
  CHECK(fs::exists(dir / "config.json"));
  CHECK(fs::exists(dir / "tokenizer_config.json"));
  auto loaded = load_pretrained(dir.string());
  auto ids = torch::randint(0, 256, {1, 9}, torch::kLong);
  torch::NoGradGuard no_grad;
  CHECK(torch::equal(model->logits(model->forward(ids).hidden), loaded.model->logits(loaded.model->forward(ids).hidden)));
  CHECK(loaded.tokenizer->kind() == "byte");
  REQUIRE(loaded.chat_template.has_value());
  CHECK(loaded.chat_template->system == "Think.\n");

  auto tensors = load_safetensors((dir / "model.safetensors").string());
  NamedTensors fewer(tensors.begin(), tensors.end());
  fewer.erase(std::remove_if(fewer.begin(), fewer.end(), [](auto& t) { return t.first == "model.norm.weight"; }), fewer.end());
  save_safetensors((dir / "model.safetensors").string(), fewer);
  CHECK_THROWS_WITH_AS(load_pretrained(dir.string()), doctest::Contains("missing tensor 'model.norm.weight'"), r1::UserError);
  fewer.emplace_back("model.norm.weight", torch::ones({config.hidden_size}));
  fewer.emplace_back("extra.weight", torch::ones({2}));
  save_safetensors((dir / "model.safetensors").string(), fewer);
  CHECK_THROWS_WITH_AS(load_pretrained(dir.string()), doctest::Contains("unexpected tensor 'extra.weight'"), r1::UserError);
}

TEST_CASE("byte tokenizer: exact round trip, special tokens as single ids") {
  ByteTokenizer tok;
  const std::string text = "Mia hat 7 Äpfel — 苹果 <think>7 + 5 = 12</think> <answer>12</answer><|endoftext|>";
  auto ids = tok.encode(text);
  CHECK(tok.decode(ids) == text);
  CHECK(std::count(ids.begin(), ids.end(), *tok.special_id("<think>")) == 1);
  CHECK(std::count(ids.begin(), ids.end(), *tok.special_id("</answer>")) == 1);
  CHECK(ids.back() == tok.eos_id());
  CHECK(tok.encode("<thinking>")[0] == '<');  // a prefix of a special token is plain bytes
  CHECK(tok.vocab_size() == 266);
}

TEST_CASE("chat templates render the R1 formats; unknown names list the known ones") {
  TemplateConfig zero;
  CHECK(ChatTemplate(zero).render("What is 2+2?").find("A conversation between User and Assistant") == 0);
  CHECK(ChatTemplate(zero).render("What is 2+2?").ends_with("User: What is 2+2?\nAssistant: "));
  TemplateConfig r1{"deepseek_r1", "default"};
  CHECK(ChatTemplate(r1).render("Hi") == "<｜User｜>Hi<｜Assistant｜><think>\n");
  TemplateConfig chatml{"chatml", "Be brief."};
  CHECK(ChatTemplate(chatml).render("Hi") ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  TemplateConfig bad{"llama9", "default"};
  CHECK_THROWS_WITH_AS(ChatTemplate{bad}, doctest::Contains("known: r1_zero, deepseek_r1, chatml"), r1::UserError);
}
