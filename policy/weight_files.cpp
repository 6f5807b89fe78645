// A checkpoint's weights: a single safetensors file or shards with their index, read and written.
#include "policy/weight_files.h"

#include <filesystem>
#include <fstream>
#include <cstdio>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "policy/fp8.h"

namespace r1::policy {

namespace fs = std::filesystem;

namespace {
constexpr const char* kSingle = "model.safetensors";
constexpr const char* kIndex = "model.safetensors.index.json";
}  // namespace

namespace {
int64_t tensor_bytes(const torch::Tensor& t) { return t.numel() * int64_t(t.element_size()); }

std::string shard_name(std::size_t k, std::size_t n) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", k, n);
  return name;
}

// Shards of any earlier save: transformers' names, whatever their count.
bool is_shard_file(const std::string& name) {
  static const std::regex shard(R"(^model-\d{5}-of-\d{5}\.safetensors$)");
  return std::regex_match(name, shard);
}

void remove_stale_weights(const fs::path& dir, const std::set<std::string>& keep) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (keep.count(name)) continue;
    if (name == kSingle || name == kIndex || is_shard_file(name)) fs::remove(entry.path());
  }
}
}  // namespace

void write_json_atomically(const fs::path& path, const nlohmann::json& value) {
  const std::string tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    R1_CHECK(out.good(), "cannot write ", path.string());
    out << value.dump(2) << "\n";
    R1_CHECK(out.good(), "cannot write ", path.string());
  }
  fs::rename(tmp, path);
}

std::vector<std::string> save_checkpoint_weights(const std::string& dir, const NamedTensors& tensors,
                                                 int64_t max_shard_bytes) {
  R1_CHECK(max_shard_bytes > 0, "max_shard_bytes must be positive, got ", max_shard_bytes);
  const fs::path p(dir);
  fs::create_directories(p);
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  int64_t total = 0;
  for (const auto& item : tensors) total += tensor_bytes(item.second);
  if (total <= max_shard_bytes) {
    // model.safetensors wins over any index beside it, so it is current once renamed into place.
    save_safetensors((p / kSingle).string(), tensors, metadata);
    remove_stale_weights(p, {kSingle});
    return {kSingle};
  }
  std::vector<NamedTensors> shards(1);
  int64_t shard_bytes = 0;
  for (const auto& item : tensors) {
    const int64_t bytes = tensor_bytes(item.second);
    if (!shards.back().empty() && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(item);
    shard_bytes += bytes;
  }
  std::vector<std::string> written;
  nlohmann::json weight_map = nlohmann::json::object();
  for (std::size_t k = 0; k < shards.size(); ++k) {
    const auto name = shard_name(k + 1, shards.size());
    save_safetensors((p / name).string(), shards[k], metadata);
    for (const auto& item : shards[k]) weight_map[item.first] = name;
    written.push_back(name);
  }
  const nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_json_atomically(p / kIndex, index);
  // A model.safetensors of an earlier save wins over the index until this removes it.
  std::set<std::string> keep(written.begin(), written.end());
  keep.insert(kIndex);
  remove_stale_weights(p, keep);
  written.push_back(kIndex);
  return written;
}

bool has_checkpoint_weights(const std::string& dir) {
  return fs::exists(fs::path(dir) / kSingle) || fs::exists(fs::path(dir) / kIndex);
}

CheckpointWeights::CheckpointWeights(const std::string& path) {
  const fs::path p(path);
  auto add_file = [&](const fs::path& file) {
    files_.push_back(std::make_unique<SafetensorsFile>(file.string()));
    return files_.back().get();
  };
  if (!fs::is_directory(p) || fs::exists(p / kSingle)) {
    // One file (a directory's model.safetensors wins over a stale index beside it, as transformers).
    const fs::path file = fs::is_directory(p) ? p / kSingle : p;
    description_ = file.string();
    const auto* f = add_file(file);
    for (const auto& name : f->names()) where_[name] = f;
    return;
  }
  const fs::path index_path = p / kIndex;
  description_ = index_path.string();
  R1_CHECK(fs::exists(index_path), "no weights at '", path, "': neither ", kSingle, " nor ", kIndex);
  nlohmann::json index;
  {
    std::ifstream in(index_path);
    R1_CHECK(in.good(), "cannot read ", index_path.string());
    try {
      index = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      R1_FAIL(index_path.string(), ": ", e.what());
    }
  }
  R1_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(), index_path.string(),
           ": expected an object with a \"weight_map\" object");
  std::map<std::string, const SafetensorsFile*> shards;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    R1_CHECK(shard.is_string(), index_path.string(), ": weight_map['", name, "'] must be a file name");
    const auto shard_name = shard.get<std::string>();
    const fs::path shard_rel(shard_name);
    R1_CHECK(!shard_name.empty() && shard_rel.is_relative() && shard_rel.filename() == shard_rel, index_path.string(),
             ": weight_map['", name, "'] = '", shard_name, "' is not a file name in the checkpoint directory");
    if (!shards.count(shard_name)) {
      R1_CHECK(fs::exists(p / shard_rel), index_path.string(), ": shard '", shard_name, "' (of tensor '", name,
               "') does not exist");
      shards[shard_name] = add_file(p / shard_rel);
    }
    const auto* f = shards[shard_name];
    R1_CHECK(f->contains(name), index_path.string(), ": tensor '", name, "' is mapped to '", shard_name,
             "', which does not hold it");
    where_[name] = f;
  }
  // Tensors a shard holds beyond the map are read too, but never from two shards.
  for (const auto& file : files_)
    for (const auto& name : file->names()) {
      auto found = where_.find(name);
      if (found == where_.end()) where_[name] = file.get();
      else
        R1_CHECK(found->second == file.get(), index_path.string(), ": tensor '", name, "' is in two shards: ",
                 found->second->path(), " and ", file->path());
    }
}

namespace {
constexpr const char* kScaleSuffix = "_scale_inv";  // DeepSeek-V3: W's block factors are W_scale_inv
}

bool CheckpointWeights::is_fp8_scale(const std::string& name) const {
  const std::string suffix = kScaleSuffix;
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const auto weight = name.substr(0, name.size() - suffix.size());
  return contains(weight) && dtype(weight) == "F8_E4M3";
}

std::vector<std::string> CheckpointWeights::names() const {
  std::vector<std::string> out;
  for (const auto& item : where_)
    if (!is_fp8_scale(item.first)) out.push_back(item.first);  // part of its weight, not a tensor of its own
  return out;
}

const SafetensorsFile& CheckpointWeights::file(const std::string& name) const {
  auto found = where_.find(name);
  R1_CHECK(found != where_.end(), description_, ": no tensor '", name, "'");
  return *found->second;
}

torch::Tensor CheckpointWeights::tensor(const std::string& name) const {
  auto stored = file(name).tensor(name);
  if (dtype(name) != "F8_E4M3") return stored;
  const auto scale = name + kScaleSuffix;
  if (!contains(scale)) return decode_fp8_e4m3(stored);  // FP8 without a block scale: the codes' values
  return dequantize_fp8_e4m3(stored, file(scale).tensor(scale), file_of(name) + ": tensor '" + name + "'");
}
std::vector<int64_t> CheckpointWeights::shape(const std::string& name) const { return file(name).shape(name); }
std::string CheckpointWeights::dtype(const std::string& name) const { return file(name).dtype(name); }
const std::string& CheckpointWeights::file_of(const std::string& name) const { return file(name).path(); }

}  // namespace r1::policy
