// A typed device allocation that frees itself: what the CUDA runner's weights, KV pool and scratch
// live in, and what the GPU tests copy their inputs through. Moves, never copies. And a pinned
// host buffer: the staging of the runner's per-step copies, which then run truly asynchronously
// (a pageable cudaMemcpyAsync blocks the host while the driver stages it).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "rollout/cuda/cuda_check.h"

namespace r1::rollout::kernels {

template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t count) { resize(count); }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }
  ~DeviceArray() { release(); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& other) noexcept { *this = std::move(other); }
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }

  T* get() const { return data_; }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

  // Exactly `count` elements (contents lost); one byte-sized allocation at least, so get() is
  // never null once resized.
  void resize(size_t count) {
    release();
    R1_CUDA_CHECK(cudaMalloc(&data_, std::max<size_t>(count, 1) * sizeof(T)));
    count_ = count;
  }
  // At least `count` elements: grows (contents lost), never shrinks. Returns get().
  T* ensure(size_t count) {
    if (data_ == nullptr || count > count_) resize(count);
    return data_;
  }

  // Host -> device, synchronously (the first host.size() elements; resized if too small).
  void upload(const std::vector<T>& host) {
    ensure(host.size());
    if (!host.empty()) R1_CUDA_CHECK(cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> to_host() const {
    std::vector<T> host(count_);
    if (count_ > 0) R1_CUDA_CHECK(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  void release() {
    if (data_ != nullptr) cudaFree(data_);  // a destructor cannot report; a failed free leaks only
    data_ = nullptr;
    count_ = 0;
  }
  T* data_ = nullptr;
  size_t count_ = 0;
};

// Page-locked host bytes (cudaMallocHost) that grow, never shrink; contents lost on growth.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() { release(); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  // At least `bytes` bytes (one at least): grows, never shrinks. Returns the start. The caller
  // makes sure no copy in flight still reads or writes the old buffer.
  char* ensure(size_t bytes) {
    if (data_ == nullptr || bytes > bytes_) {
      release();
      R1_CUDA_CHECK(cudaMallocHost(&data_, std::max<size_t>(bytes, 1)));
      bytes_ = bytes;
    }
    return data_;
  }

 private:
  void release() {
    if (data_ != nullptr) cudaFreeHost(data_);  // a destructor cannot report; a failed free leaks only
    data_ = nullptr;
    bytes_ = 0;
  }
  char* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace r1::rollout::kernels
