// BPE as HF tokenizers (Rust) does it: a word starts as its characters' ids, then the adjacent
// pair of lowest merge rank is merged, leftmost first on ties, until no pair has a merge. A heap
// keyed by (rank, position) finds that pair; stale heap entries are skipped when popped.
#include "policy/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <queue>

#include "common/error.h"
#include "policy/utf8.h"

namespace r1::policy {

namespace {

std::string optional_string(const nlohmann::json& spec, const char* key) {
  if (!spec.contains(key) || spec[key].is_null()) return "";
  return spec[key].get<std::string>();
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& spec, const std::string& file) {
  R1_CHECK(spec.is_object(), file, ": \"model\" must be an object");
  const std::string type = spec.value("type", "BPE");
  R1_CHECK(type == "BPE", file, ": model type '", type, "' is not supported (r1 reads BPE)");
  R1_CHECK(!spec.contains("dropout") || spec["dropout"].is_null() || spec["dropout"].get<double>() == 0.0, file,
           ": model.dropout is set; r1 tokenizes deterministically (BPE dropout is for training tokenizers)");
  R1_CHECK(spec.contains("vocab") && spec["vocab"].is_object(), file, ": model.vocab must be an object {token: id}");
  R1_CHECK(spec.contains("merges") && spec["merges"].is_array(), file, ": model.merges must be an array");

  vocab_.reserve(spec["vocab"].size());
  int32_t max_id = -1;
  for (const auto& [token, id] : spec["vocab"].items()) {
    R1_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (int64_t(1) << 31), file,
             ": model.vocab[\"", token, "\"] must be a non-negative integer id");
    vocab_.emplace(token, id.get<int32_t>());
    max_id = std::max(max_id, id.get<int32_t>());
  }
  id_to_token_.resize(std::size_t(max_id + 1));
  for (const auto& [token, id] : vocab_) id_to_token_[id] = token;

  const auto lookup = [&](const std::string& token, std::size_t rank) {
    auto it = vocab_.find(token);
    R1_CHECK(it != vocab_.end(), file, ": model.merges[", rank, "] uses '", token, "', which is not in model.vocab");
    return it->second;
  };
  const auto& merges = spec["merges"];
  const std::string prefix = optional_string(spec, "continuing_subword_prefix");
  merges_.reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& merge = merges[rank];
    std::string left, right;
    if (merge.is_string()) {  // "a b": tokenizers < 0.20
      const std::string line = merge.get<std::string>();
      const auto space = line.find(' ');
      R1_CHECK(space != std::string::npos && line.find(' ', space + 1) == std::string::npos, file, ": model.merges[",
               rank, "] = \"", line, "\" is not two tokens separated by one space");
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else {  // ["a", "b"]: tokenizers >= 0.20, which allows spaces inside tokens
      R1_CHECK(merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string(), file,
               ": model.merges[", rank, "] must be \"a b\" or [\"a\", \"b\"]");
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    }
    const int32_t left_id = lookup(left, rank), right_id = lookup(right, rank);
    // The merged token drops the continuing_subword_prefix its right part carries (as HF, by length).
    const std::string merged = left + right.substr(std::min(prefix.size(), right.size()));
    const int32_t merged_id = lookup(merged, rank);
    // A pair listed twice keeps its first (lowest) rank.
    merges_.emplace(pair_key(left_id, right_id), Merge{int32_t(rank), merged_id});
  }

  const std::string unk = optional_string(spec, "unk_token");
  if (!unk.empty()) {
    auto it = vocab_.find(unk);
    R1_CHECK(it != vocab_.end(), file, ": model.unk_token '", unk, "' is not in model.vocab");
    unk_id_ = it->second;
  }
  fuse_unk_ = spec.value("fuse_unk", false);
  byte_fallback_ = spec.value("byte_fallback", false);
  ignore_merges_ = spec.value("ignore_merges", false);
  continuing_subword_prefix_ = optional_string(spec, "continuing_subword_prefix");
  end_of_word_suffix_ = optional_string(spec, "end_of_word_suffix");
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", byte);
    auto it = vocab_.find(std::string_view(name));
    byte_fallback_ids_[byte] = it == vocab_.end() ? -1 : it->second;
  }
  for (int code_point = 0; code_point < 0x180; ++code_point) {
    std::string character;
    if (code_point < 0x80) {
      character += char(code_point);
    } else {
      character += char(0xC0 | (code_point >> 6));
      character += char(0x80 | (code_point & 0x3F));
    }
    auto it = vocab_.find(character);
    small_char_ids_[code_point] = it == vocab_.end() ? -1 : it->second;
  }
  cache_.reserve(kCacheWords);
}

std::optional<int64_t> BpeModel::token_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string& BpeModel::token(int64_t id) const {
  static const std::string none;
  if (id < 0 || id >= size()) return none;
  return id_to_token_[std::size_t(id)];
}

void BpeModel::encode_word(std::string_view word, std::vector<int64_t>& out) const {
  if (word.empty()) return;
  const bool cacheable = word.size() <= kMaxCachedBytes;
  if (cacheable) {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  merge_word(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() >= kCacheWords) cache_.clear();
    cache_.emplace(std::string(word), std::move(ids));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& ids) const {
  if (ignore_merges_) {
    auto it = vocab_.find(word);
    if (it != vocab_.end()) {
      ids.push_back(it->second);
      return;
    }
  }

  // The characters' ids (with prefix/suffix, byte fallback, unk as HF's merge_word does).
  std::vector<int32_t> symbols;
  int32_t pending_unk = -1;  // an unk not yet pushed (fuse_unk may extend it), -1: none
  std::string piece;
  for (std::size_t pos = 0; pos < word.size();) {
    const std::size_t length = utf8::char_length(word, pos);
    const bool first = pos == 0, last = pos + length == word.size();
    std::string_view character = word.substr(pos, length);
    pos += length;
    if ((!first && !continuing_subword_prefix_.empty()) || (last && !end_of_word_suffix_.empty())) {
      piece.assign(first ? "" : continuing_subword_prefix_);
      piece.append(character);
      if (last) piece += end_of_word_suffix_;
      character = piece;
    }
    int32_t id = -1;
    const auto lead = static_cast<unsigned char>(character[0]);
    if (character.size() == 1 && lead < 0x80) {
      id = small_char_ids_[lead];
    } else if (character.size() == 2 && lead >= 0xC2 && lead <= 0xC5) {
      id = small_char_ids_[((lead & 0x1F) << 6) | (static_cast<unsigned char>(character[1]) & 0x3F)];
    } else if (auto it = vocab_.find(character); it != vocab_.end()) {
      id = it->second;
    }
    if (id >= 0) {
      if (pending_unk >= 0) symbols.push_back(pending_unk), pending_unk = -1;
      symbols.push_back(id);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char byte : character) all = all && byte_fallback_ids_[byte] >= 0;
      if (all) {
        if (pending_unk >= 0) symbols.push_back(pending_unk), pending_unk = -1;
        for (unsigned char byte : character) symbols.push_back(byte_fallback_ids_[byte]);
        continue;
      }
    }
    if (unk_id_) {
      // fuse_unk: a run of unknown characters is one unk.
      if (pending_unk >= 0 && !fuse_unk_) symbols.push_back(pending_unk);
      pending_unk = *unk_id_;
    }
    // No unk token: HF drops the character; so does r1.
  }
  if (pending_unk >= 0) symbols.push_back(pending_unk);

  const int32_t n = int32_t(symbols.size());
  if (n <= 1) {
    ids = std::move(symbols);
    return;
  }
  // Doubly linked list over the symbols; a merged-away symbol gets id -1.
  std::vector<int32_t> prev(n), next(n);
  for (int32_t i = 0; i < n; ++i) prev[i] = i - 1, next[i] = i + 1 < n ? i + 1 : -1;
  struct Candidate {
    int32_t rank, pos, merged_id;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : pos > other.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto consider = [&](int32_t left) {
    const int32_t right = next[left];
    if (right < 0) return;
    auto it = merges_.find(pair_key(symbols[left], symbols[right]));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.merged_id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    const int32_t left = top.pos;
    if (symbols[left] < 0 || next[left] < 0) continue;
    const int32_t right = next[left];
    // Stale: one side changed since this candidate was pushed.
    auto it = merges_.find(pair_key(symbols[left], symbols[right]));
    if (it == merges_.end() || it->second.merged_id != top.merged_id) continue;
    symbols[left] = top.merged_id;
    symbols[right] = -1;
    next[left] = next[right];
    if (next[left] >= 0) prev[next[left]] = left;
    if (prev[left] >= 0) consider(prev[left]);
    consider(left);
  }
  ids.clear();
  for (int32_t i = 0; i >= 0; i = next[i]) ids.push_back(symbols[i]);
}

}  // namespace r1::policy
