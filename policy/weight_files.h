// The weight files of a checkpoint directory: one model.safetensors, or the shards that
// model.safetensors.index.json maps tensor names to. Reading maps them all; nothing is read until
// used. Writing shards as transformers' save_pretrained does, so either side loads the other's.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/safetensors.h"

namespace r1::policy {

class CheckpointWeights {
 public:
  // `path`: a checkpoint directory, or one .safetensors file. UserError naming the file for a
  // missing or corrupt file, an index that names a tensor its shard lacks, or a tensor in two shards.
  explicit CheckpointWeights(const std::string& path);
  // Sorted; an FP8 weight's W_scale_inv is part of W, not listed.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return where_.count(name) > 0; }
  // The stored tensor; an F8_E4M3 one dequantised to float32 with its W_scale_inv (policy/fp8.h).
  torch::Tensor tensor(const std::string& name) const;
  std::vector<int64_t> shape(const std::string& name) const;
  std::string dtype(const std::string& name) const;
  const std::string& file_of(const std::string& name) const;  // for messages
  const std::string& description() const { return description_; }

 private:
  const SafetensorsFile& file(const std::string& name) const;
  bool is_fp8_scale(const std::string& name) const;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> where_;
  std::string description_;  // the file, or the index, for messages
};

// transformers' default max_shard_size ("5GB"): a checkpoint of more bytes than this is sharded.
constexpr int64_t kDefaultMaxShardBytes = 5'000'000'000;

// Writes `tensors` into `dir` as model.safetensors when their bytes fit in `max_shard_bytes`, else as
// model-0000K-of-0000N.safetensors shards filled in order (a new shard where the next tensor would
// pass the limit; a tensor larger than the limit gets a shard of its own) and
// model.safetensors.index.json ({"metadata": {"total_size"}, "weight_map"}). Weight files of an
// earlier save in `dir` that the new one does not use are removed, after the new ones are in place.
// Every file is replaced atomically and the index is written after its shards, so a crash while
// saving over a single-file checkpoint leaves it loadable (model.safetensors wins over an index
// until it is removed). Returns the files written.
std::vector<std::string> save_checkpoint_weights(const std::string& dir, const NamedTensors& tensors,
                                                 int64_t max_shard_bytes = kDefaultMaxShardBytes);

// The JSON files of a checkpoint (config.json, the shard index, ...): written to a temporary file,
// then renamed over `path`, so a reader never sees half a file.
void write_json_atomically(const std::filesystem::path& path, const nlohmann::json& value);

// Whether `dir` holds weights r1 can read (model.safetensors or model.safetensors.index.json).
bool has_checkpoint_weights(const std::string& dir);

}  // namespace r1::policy
