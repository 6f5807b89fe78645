// The weight files of a checkpoint directory: one model.safetensors, or the shards that
// model.safetensors.index.json maps tensor names to. All memory-mapped; nothing is read until used.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

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

// Whether `dir` holds weights r1 can read (model.safetensors or model.safetensors.index.json).
bool has_checkpoint_weights(const std::string& dir);

}  // namespace r1::policy
