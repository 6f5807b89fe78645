// safetensors files: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw data. Reading validates every offset before touching
// data, so a corrupt file is an error naming the file and tensor, never a crash.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace r1::policy {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes to a temporary file then renames, so a crash never leaves a half-written file in place.
// Tensors are written contiguous, on the CPU, in their own dtype (F32, F16, BF16, I64, I32, U8, BOOL).
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor (CPU, owning its memory), keyed by name.
std::map<std::string, torch::Tensor> load_safetensors(const std::string& path);

}  // namespace r1::policy
