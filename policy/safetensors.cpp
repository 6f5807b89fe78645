// safetensors reader and writer with full header validation.
#include "policy/safetensors.h"

#include <algorithm>
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

std::map<std::string, torch::Tensor> load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  R1_CHECK(in.good(), "cannot open ", path);
  in.seekg(0, std::ios::end);
  const int64_t file_size = in.tellg();
  in.seekg(0);
  R1_CHECK(file_size >= 8, path, ": not a safetensors file (", file_size, " bytes, shorter than the header length)");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t(len_bytes[i]) << (8 * i);
  R1_CHECK(header_len <= uint64_t(file_size - 8), path, ": header length ", header_len, " runs past the end of the file (",
           file_size, " bytes)");
  std::string header_text(header_len, '\0');
  in.read(header_text.data(), std::streamsize(header_len));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    R1_FAIL(path, ": header is not valid JSON: ", e.what());
  }
  R1_CHECK(header.is_object(), path, ": header is not a JSON object");
  const int64_t data_size = file_size - 8 - int64_t(header_len);

  struct Entry {
    std::string name;
    const DtypeInfo* dtype;
    std::vector<int64_t> shape;
    int64_t begin, end;
  };
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    R1_CHECK(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
             path, ": tensor '", name, "': header entry needs dtype, shape and data_offsets");
    Entry entry{name, nullptr, {}, 0, 0};
    try {
      entry.dtype = find_dtype(info.at("dtype").get<std::string>());
      R1_CHECK(entry.dtype != nullptr, path, ": tensor '", name, "': unknown dtype ", info.at("dtype").dump());
      entry.shape = info.at("shape").get<std::vector<int64_t>>();
      auto offsets = info.at("data_offsets").get<std::vector<int64_t>>();
      R1_CHECK(offsets.size() == 2, path, ": tensor '", name, "': data_offsets must hold two numbers");
      entry.begin = offsets[0];
      entry.end = offsets[1];
    } catch (const nlohmann::json::exception& e) {
      R1_FAIL(path, ": tensor '", name, "': ", e.what());
    }
    int64_t numel = 1;
    for (int64_t dim : entry.shape) {
      R1_CHECK(dim >= 0 && (dim == 0 || numel <= (int64_t(1) << 50) / std::max<int64_t>(dim, 1)), path, ": tensor '",
               name, "': bad shape");
      numel *= dim;
    }
    R1_CHECK(entry.begin >= 0 && entry.begin <= entry.end && entry.end <= data_size, path, ": tensor '", name,
             "': data_offsets [", entry.begin, ", ", entry.end, ") outside the data section (", data_size, " bytes)");
    R1_CHECK(entry.end - entry.begin == numel * entry.dtype->bytes, path, ": tensor '", name, "': byte range holds ",
             entry.end - entry.begin, " bytes but dtype and shape need ", numel * entry.dtype->bytes);
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < entries.size(); ++i)
    R1_CHECK(entries[i].begin >= entries[i - 1].end || entries[i - 1].begin == entries[i - 1].end, path, ": tensors '",
             entries[i - 1].name, "' and '", entries[i].name, "' overlap");

  std::map<std::string, torch::Tensor> tensors;
  const int64_t data_start = 8 + int64_t(header_len);
  for (const auto& entry : entries) {
    auto tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(entry.dtype->type));
    in.seekg(data_start + entry.begin);
    in.read(static_cast<char*>(tensor.data_ptr()), entry.end - entry.begin);
    R1_CHECK(in.good(), path, ": tensor '", entry.name, "': read failed");
    tensors.emplace(entry.name, tensor);
  }
  return tensors;
}

}  // namespace r1::policy
