// safetensors files: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw data. Reading maps the file and validates every offset
// before touching data, so a corrupt file is an error naming the file and tensor, never a crash.
#pragma once

#include <map>
#include <memory>
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

// A safetensors file mapped into memory (read-only pages, copy-on-write), its header validated on
// opening. Tensors are views of the mapping: nothing is read until used, and the mapping lives as
// long as any tensor taken from it.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // UserError naming the file for a corrupt one
  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // in file order
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  // A CPU tensor over the mapped bytes (copied only where the bytes are misaligned for the dtype);
  // F8_E4M3 comes as its uint8 codes (policy/fp8.h).
  torch::Tensor tensor(const std::string& name) const;
  std::vector<int64_t> shape(const std::string& name) const;
  std::string dtype(const std::string& name) const;  // "F32", "BF16", ...

 private:
  struct Mapping;
  struct Entry {
    torch::ScalarType type;
    std::string dtype_name;
    std::vector<int64_t> shape;
    int64_t begin, end;  // within the data section
  };
  const Entry& entry(const std::string& name) const;
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  int64_t data_start_ = 0;
  std::map<std::string, Entry> entries_;
};

// Reads every tensor (CPU, owning its memory), keyed by name.
std::map<std::string, torch::Tensor> load_safetensors(const std::string& path);

}  // namespace r1::policy
