// rollout/cuda fused q/k/v epilogue against the references it fuses, composed on the host: the
// bias add, rmsnorm_reference per head, apply_rotary_reference, and the slot write. Qwen2's shape
// (bias, no norms) and Qwen3's (norms, no bias), partial rotary, fp32 and bf16 pools, a padding
// slot that must not be written. Validation runs without a device.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/error.h"
#include "rollout/bf16.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/qkv_rope.h"
#include "rollout/rmsnorm_reference.h"
#include "rollout/rotary.h"
#include "tests/gpu/cuda_test_support.h"
#include "tests/float_compare.h"
#include "tests/random_values.h"

using namespace r1::rollout;
using namespace r1::rollout::kernels;
using r1::gpu_test::DeviceArray;
using r1::test::max_abs_diff;
using r1::test::uniform_floats;

namespace {

struct Case {
  int32_t q_heads, kv_heads, head_dim, rope_dim;
  bool bias, norms, bf16_pool;
};

void check_case(const Case& c) {
  const int64_t tokens = 6, max_position = 64, pool_rows = 16;
  const int64_t d = c.head_dim, qw = int64_t(c.q_heads) * d, kw = int64_t(c.kv_heads) * d, total = qw + 2 * kw;
  const auto packed = uniform_floats(size_t(tokens * total), -2.0f, 2.0f, uint32_t(d + c.q_heads));
  const auto bias = uniform_floats(size_t(total), -0.5f, 0.5f, 51);
  const auto q_norm = uniform_floats(size_t(d), 0.5f, 1.5f, 52), k_norm = uniform_floats(size_t(d), 0.5f, 1.5f, 53);
  std::vector<float> cos_table(size_t(max_position * c.rope_dim)), sin_table(cos_table.size());
  for (int64_t p = 0; p < max_position; ++p)
    for (int64_t i = 0; i < c.rope_dim; ++i) {
      const double angle = double(p) * std::pow(10000.0, -double(i % (c.rope_dim / 2)) * 2.0 / double(c.rope_dim));
      cos_table[size_t(p * c.rope_dim + i)] = float(std::cos(angle));
      sin_table[size_t(p * c.rope_dim + i)] = float(std::sin(angle));
    }
  const std::vector<int32_t> positions{0, 5, 17, 63, 2, 40};
  const std::vector<int64_t> slots{3, 0, 15, -1, 7, 9};  // token 3 is graph padding

  // The references, composed.
  std::vector<float> q(size_t(tokens * qw)), k(size_t(tokens * kw)), v(size_t(tokens * kw));
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t col = 0; col < total; ++col) {
      const float x = c.bias ? packed[size_t(t * total + col)] + bias[size_t(col)] : packed[size_t(t * total + col)];
      if (col < qw) q[size_t(t * qw + col)] = x;
      else if (col < qw + kw) k[size_t(t * kw + col - qw)] = x;
      else v[size_t(t * kw + col - qw - kw)] = x;
    }
  if (c.norms) {
    rmsnorm_reference({q.data(), q.data(), q_norm.data(), tokens * c.q_heads, d, 1e-6f});
    rmsnorm_reference({k.data(), k.data(), k_norm.data(), tokens * c.kv_heads, d, 1e-6f});
  }
  apply_rotary_reference(q, positions, cos_table, sin_table, max_position, {c.q_heads, c.rope_dim, qw, d});
  apply_rotary_reference(k, positions, cos_table, sin_table, max_position, {c.kv_heads, c.rope_dim, kw, d});
  const float sentinel = 7.0f;  // what the pools hold before: unwritten rows keep it
  std::vector<float> want_k(size_t(pool_rows * kw), sentinel), want_v(want_k);
  for (int64_t t = 0; t < tokens; ++t) {
    if (slots[size_t(t)] < 0) continue;
    std::copy_n(k.begin() + t * kw, kw, want_k.begin() + slots[size_t(t)] * kw);
    std::copy_n(v.begin() + t * kw, kw, want_v.begin() + slots[size_t(t)] * kw);
  }

  DeviceArray<float> d_packed(packed), d_bias(bias), d_qn(q_norm), d_kn(k_norm), d_cos(cos_table), d_sin(sin_table);
  DeviceArray<int32_t> d_pos(positions);
  DeviceArray<int64_t> d_slots(slots);
  DeviceArray<float> d_q(q.size()), k32(std::vector<float>(want_k.size(), sentinel)), v32(k32.to_host());
  const uint16_t sentinel_bits = bf16_bits(sentinel);
  DeviceArray<uint16_t> k16(std::vector<uint16_t>(want_k.size(), sentinel_bits)), v16(k16.to_host());
  QkvRopeParams p{};
  p.q_out = d_q.get();
  if (c.bf16_pool) p.k_pool_bf16 = k16.get(), p.v_pool_bf16 = v16.get();
  else p.k_pool = k32.get(), p.v_pool = v32.get();
  p.packed = d_packed.get();
  p.bias = c.bias ? d_bias.get() : nullptr;
  p.q_norm = c.norms ? d_qn.get() : nullptr;
  p.k_norm = c.norms ? d_kn.get() : nullptr;
  p.eps = 1e-6f;
  p.cos_table = d_cos.get();
  p.sin_table = d_sin.get();
  p.positions = d_pos.get();
  p.slots = d_slots.get();
  p.tokens = tokens;
  p.pool_rows = pool_rows;
  p.q_heads = c.q_heads;
  p.kv_heads = c.kv_heads;
  p.head_dim = c.head_dim;
  p.rope_dim = c.rope_dim;
  p.max_position = int32_t(max_position);
  qkv_rope_forward(p, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());

  // Without norms the RoPE and the bias add are the references' bit for bit; the norm's sum of
  // squares differs in rounding only.
  const double tolerance = c.norms ? 2e-5 : 0.0;
  CHECK(max_abs_diff(d_q.to_host(), q) <= tolerance);
  if (!c.bf16_pool) {
    CHECK(max_abs_diff(k32.to_host(), want_k) <= tolerance);
    CHECK(max_abs_diff(v32.to_host(), want_v) <= 0.0);
  } else {
    auto widened = [](const std::vector<uint16_t>& bits) {
      std::vector<float> out(bits.size());
      for (size_t i = 0; i < bits.size(); ++i) out[i] = bf16_widen(bits[i]);
      return out;
    };
    auto rounded = [](std::vector<float> x) {
      bf16_round_in_place(x);
      return x;
    };
    CHECK(max_abs_diff(widened(k16.to_host()), rounded(want_k)) <= (c.norms ? 0.04 : 0.0));  // a bf16 ulp at most
    CHECK(max_abs_diff(widened(v16.to_host()), rounded(want_v)) <= 0.0);
  }
}

}  // namespace

TEST_CASE("qkv_rope refuses bad parameters (no device needed)") {
  QkvRopeParams ok{};
  ok.q_heads = 4;
  ok.kv_heads = 2;
  ok.head_dim = 64;
  ok.rope_dim = 64;
  ok.max_position = 8;
  static float pool[1];
  ok.k_pool = ok.v_pool = pool;
  const auto refused = r1::gpu_test::refusals_of(ok, [](const QkvRopeParams& p) { qkv_rope_forward(p, nullptr); });
  refused("head_dim = 1024", [](auto& p) { p.head_dim = 1024; });
  refused("rope_dim = 63", [](auto& p) { p.rope_dim = 63; });
  refused("q_norm and k_norm go together", [](auto& p) { p.q_norm = pool; });
  refused("both as fp32 or both as bf16", [](auto& p) { p.v_pool = nullptr; });
  refused("q_out, packed, positions or slots is null", [](auto& p) { p.tokens = 1; });
  CHECK_NOTHROW(qkv_rope_forward(ok, nullptr));  // no tokens: nothing to launch
}

TEST_CASE("gpu: qkv_rope equals the bias add, per-head norms, RoPE and slot write it fuses") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  for (const Case c : {Case{14, 2, 64, 64, true, false, false},    // Qwen2.5-0.5B's heads, bias
                       Case{8, 4, 128, 128, false, true, false},   // Qwen3: per-head norms
                       Case{8, 4, 128, 128, false, true, true},    // ... into a bf16 pool
                       Case{4, 2, 80, 48, true, true, true},       // partial rotary, d off the warp
                       Case{4, 4, 256, 256, true, false, false}}) {
    CAPTURE(c.q_heads);
    CAPTURE(c.head_dim);
    CAPTURE(c.bf16_pool);
    check_case(c);
  }
}
