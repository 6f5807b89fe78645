// safetensors reader (memory-mapped) and writer with full header validation.
#include "policy/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace r1::policy {

namespace {

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  int64_t bytes;
};

const std::vector<DtypeInfo>& dtypes() {
  static const std::vector<DtypeInfo> table = {
      {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2}, {"BF16", torch::kBFloat16, 2},
      {"F64", torch::kFloat64, 8}, {"I64", torch::kInt64, 8},   {"I32", torch::kInt32, 4},
      {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
      {"BOOL", torch::kBool, 1},
      // Read as its bytes (LibTorch 1.13 has no float8): policy/fp8.h decodes them. Last, so
      // writing a uint8 tensor still says U8.
      {"F8_E4M3", torch::kByte, 1},
  };
  return table;
}

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : dtypes())
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo& find_dtype(torch::ScalarType type) {
  for (const auto& d : dtypes())
    if (type == d.type) return d;
  R1_FAIL("safetensors: cannot store dtype ", c10::toString(type));
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  int64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    R1_CHECK(!header.contains(name), "safetensors: duplicate tensor name '", name, "'");
    auto cpu = tensor.detach().to(torch::kCPU).contiguous();
    const auto& dtype = find_dtype(cpu.scalar_type());
    const int64_t bytes = cpu.numel() * dtype.bytes;
    header[name] = {{"dtype", dtype.name}, {"shape", cpu.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(cpu);
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // align the data section to 8 bytes

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    R1_CHECK(out.good(), "cannot write ", tmp);
    uint64_t header_len = header_text.size();
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(header_len >> (8 * i));
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(header_text.data(), std::streamsize(header_text.size()));
    for (const auto& t : data) out.write(static_cast<const char*>(t.data_ptr()), std::streamsize(t.nbytes()));
    out.flush();
    R1_CHECK(out.good(), "error writing ", tmp);
  }
  std::filesystem::rename(tmp, path);
}

// The file's pages, unmapped when the last tensor viewing them is gone.
struct SafetensorsFile::Mapping {
  void* data = nullptr;
  std::size_t size = 0;
  ~Mapping() {
    if (data && data != MAP_FAILED) munmap(data, size);
  }
};

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  R1_CHECK(fd >= 0, "cannot open ", path, ": ", std::strerror(errno));
  struct stat st {};
  const int stat_rc = ::fstat(fd, &st);
  const int64_t file_size = stat_rc == 0 ? int64_t(st.st_size) : -1;
  if (stat_rc != 0 || file_size < 8) {
    ::close(fd);
    R1_CHECK(stat_rc == 0, "cannot stat ", path);
    R1_FAIL(path, ": not a safetensors file (", file_size, " bytes, shorter than the header length)");
  }
  mapping_ = std::make_shared<Mapping>();
  mapping_->size = std::size_t(file_size);
  // Private and writable: pages are shared with the page cache until written, and writing one
  // (a caller modifying a tensor in place) copies it instead of touching the file.
  mapping_->data = ::mmap(nullptr, mapping_->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  R1_CHECK(mapping_->data != MAP_FAILED, "cannot map ", path, ": ", std::strerror(errno));
  const auto* bytes = static_cast<const unsigned char*>(mapping_->data);

  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t(bytes[i]) << (8 * i);
  R1_CHECK(header_len <= uint64_t(file_size - 8), path, ": header length ", header_len, " runs past the end of the file (",
           file_size, " bytes)");
  const std::string header_text(reinterpret_cast<const char*>(bytes + 8), header_len);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    R1_FAIL(path, ": header is not valid JSON: ", e.what());
  }
  R1_CHECK(header.is_object(), path, ": header is not a JSON object");
  data_start_ = 8 + int64_t(header_len);
  const int64_t data_size = file_size - data_start_;

  std::vector<std::pair<std::string, Entry>> ordered;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    R1_CHECK(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
             path, ": tensor '", name, "': header entry needs dtype, shape and data_offsets");
    Entry entry{torch::kFloat32, "", {}, 0, 0};
    const DtypeInfo* dtype = nullptr;
    try {
      dtype = find_dtype(info.at("dtype").get<std::string>());
      R1_CHECK(dtype != nullptr, path, ": tensor '", name, "': unknown dtype ", info.at("dtype").dump());
      entry.shape = info.at("shape").get<std::vector<int64_t>>();
      auto offsets = info.at("data_offsets").get<std::vector<int64_t>>();
      R1_CHECK(offsets.size() == 2, path, ": tensor '", name, "': data_offsets must hold two numbers");
      entry.begin = offsets[0];
      entry.end = offsets[1];
    } catch (const nlohmann::json::exception& e) {
      R1_FAIL(path, ": tensor '", name, "': ", e.what());
    }
    entry.type = dtype->type;
    entry.dtype_name = dtype->name;
    int64_t numel = 1;
    for (int64_t dim : entry.shape) {
      R1_CHECK(dim >= 0 && (dim == 0 || numel <= (int64_t(1) << 50) / std::max<int64_t>(dim, 1)), path, ": tensor '",
               name, "': bad shape");
      numel *= dim;
    }
    R1_CHECK(entry.begin >= 0 && entry.begin <= entry.end && entry.end <= data_size, path, ": tensor '", name,
             "': data_offsets [", entry.begin, ", ", entry.end, ") outside the data section (", data_size, " bytes)");
    R1_CHECK(entry.end - entry.begin == numel * dtype->bytes, path, ": tensor '", name, "': byte range holds ",
             entry.end - entry.begin, " bytes but dtype and shape need ", numel * dtype->bytes);
    ordered.emplace_back(name, std::move(entry));
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.second.begin < b.second.begin; });
  for (std::size_t i = 1; i < ordered.size(); ++i)
    R1_CHECK(ordered[i].second.begin >= ordered[i - 1].second.end || ordered[i - 1].second.begin == ordered[i - 1].second.end,
             path, ": tensors '", ordered[i - 1].first, "' and '", ordered[i].first, "' overlap");
  for (auto& [name, entry] : ordered) entries_.emplace(name, std::move(entry));
}

const SafetensorsFile::Entry& SafetensorsFile::entry(const std::string& name) const {
  auto found = entries_.find(name);
  R1_CHECK(found != entries_.end(), path_, ": no tensor '", name, "'");
  return found->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::pair<int64_t, std::string>> by_offset;
  for (const auto& [name, e] : entries_) by_offset.emplace_back(e.begin, name);
  std::sort(by_offset.begin(), by_offset.end());
  std::vector<std::string> out;
  for (auto& item : by_offset) out.push_back(std::move(item.second));
  return out;
}

std::vector<int64_t> SafetensorsFile::shape(const std::string& name) const { return entry(name).shape; }
std::string SafetensorsFile::dtype(const std::string& name) const { return entry(name).dtype_name; }

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const auto& e = entry(name);
  auto* data = static_cast<char*>(mapping_->data) + data_start_ + e.begin;
  const auto options = torch::TensorOptions().dtype(e.type);
  const int64_t element = int64_t(c10::elementSize(e.type));
  if (e.end == e.begin) return torch::empty(e.shape, options);
  if (reinterpret_cast<uintptr_t>(data) % uintptr_t(element) != 0) {  // misaligned: copy out
    auto tensor = torch::empty(e.shape, options);
    std::memcpy(tensor.data_ptr(), data, std::size_t(e.end - e.begin));
    return tensor;
  }
  auto keep = mapping_;
  return torch::from_blob(data, e.shape, [keep](void*) mutable { keep.reset(); }, options);
}

std::map<std::string, torch::Tensor> load_safetensors(const std::string& path) {
  SafetensorsFile file(path);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& name : file.names()) tensors.emplace(name, file.tensor(name).clone());
  return tensors;
}

}  // namespace r1::policy
