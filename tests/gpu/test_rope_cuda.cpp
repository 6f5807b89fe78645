// rollout/cuda RoPE against its CPU reference (apply_rotary_reference in rollout/rotary.h): the same
// bits in rotate-half and interleaved order, in place in strided rows (floats between rows
// untouched), and NaN rows for a position outside the table. Validation runs without a device.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "common/error.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/rope.h"
#include "rollout/rotary.h"
#include "tests/gpu/cuda_test_support.h"
#include "tests/random_values.h"

using namespace r1::rollout;
using namespace r1::rollout::kernels;
using r1::gpu_test::DeviceArray;
using r1::test::uniform_floats;

namespace {

struct RopeCase {
  RotaryLayout layout;
  int64_t tokens, max_position;
};

// Tables of cos/sin of arbitrary angles: the kernel and the reference read them, never derive them.
struct Tables {
  std::vector<float> cos, sin;
};
Tables random_tables(int64_t max_position, int64_t dim, uint32_t seed) {
  const auto angles = uniform_floats(size_t(max_position * dim), -6.0f, 6.0f, seed);
  Tables t;
  for (const float a : angles) {
    t.cos.push_back(std::cos(a));
    t.sin.push_back(std::sin(a));
  }
  return t;
}

std::vector<float> rope_on_device(std::vector<float> x, const std::vector<int32_t>& positions, const Tables& t,
                                  const RopeCase& c) {
  DeviceArray<float> dx(x), dcos(t.cos), dsin(t.sin);
  DeviceArray<int32_t> dpos(positions);
  RopeParams p{dx.get(), dcos.get(), dsin.get(), dpos.get(), c.tokens, int32_t(c.layout.heads),
               int32_t(c.layout.rope_dim), c.layout.token_stride, c.layout.head_stride, int32_t(c.max_position),
               c.layout.interleaved};
  rope_forward(p, nullptr);
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  return dx.to_host();
}

}  // namespace

TEST_CASE("rope kernel: parameter validation (no device needed)") {
  RopeParams ok{nullptr, nullptr, nullptr, nullptr, 0, 4, 64, 256, 64, 128, false};
  rope_forward(ok, nullptr);  // zero tokens: nothing to launch, null pointers allowed
  auto refused = [&](const char* what, auto mutate) {
    RopeParams p = ok;
    p.tokens = 3;
    mutate(p);
    CHECK_THROWS_WITH_AS(rope_forward(p, nullptr), doctest::Contains(what), r1::InternalError);
  };
  refused("rope_dim = 63", [](auto& p) { p.rope_dim = 63; });
  refused("rope_dim = 514", [](auto& p) { p.rope_dim = kRopeMaxDim + 2; });
  refused("head_stride = 32", [](auto& p) { p.head_stride = 32; });
  refused("token_stride = 255", [](auto& p) { p.token_stride = 255; });
  refused("max_position = 0", [](auto& p) { p.max_position = 0; });
  refused("x, cos_table, sin_table or positions is null", [](auto&) {});
}

TEST_CASE("rope kernel equals the CPU reference bit for bit") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  const RopeCase cases[] = {
      {{14, 64, 14 * 64 + 2 * 2 * 64, 64, false}, 300, 4096},   // Qwen2.5-0.5B's q inside a fused q/k/v row
      {{2, 128, 2 * 128, 128, false}, 77, 1024},                // dense k heads, head_dim 128
      {{16, 64, 16 * 192, 192, true}, 65, 2048},                // MLA q_pe: after 128 nope dims per head
      {{1, 64, 512 + 64, 0, true}, 129, 2048},                  // MLA k_pe: one row after the latent
      {{3, 512, 3 * 512, 512, false}, 9, 64},                   // the widest rows, 8 pairs a lane
  };
  uint32_t seed = 1;
  for (const RopeCase& c : cases) {
    CAPTURE(c.layout.rope_dim);
    CAPTURE(c.layout.interleaved);
    const Tables t = random_tables(c.max_position, c.layout.rope_dim, seed++);
    auto positions_f = uniform_floats(size_t(c.tokens), 0.0f, float(c.max_position), seed++);
    std::vector<int32_t> positions;
    for (const float f : positions_f) positions.push_back(int32_t(f) < c.max_position ? int32_t(f) : 0);
    const auto x = uniform_floats(size_t(c.tokens * c.layout.token_stride), -3.0f, 3.0f, seed++);
    std::vector<float> want = x;
    apply_rotary_reference(want, positions, t.cos, t.sin, c.max_position, c.layout);
    CHECK(rope_on_device(x, positions, t, c) == want);  // every float, the untouched ones included
  }
}

TEST_CASE("rope kernel: a position outside the table gives NaN rows for that token only") {
  R1_SKIP_WITHOUT_CUDA_DEVICE();
  const RopeCase c{{4, 64, 4 * 64, 64, false}, 3, 16};
  const Tables t = random_tables(c.max_position, 64, 41);
  const auto x = uniform_floats(size_t(3 * 4 * 64), -1.0f, 1.0f, 42);
  const auto out = rope_on_device(x, {2, 16, 5}, t, c);
  std::vector<float> want = x;
  apply_rotary_reference(want, {2, 2, 5}, t.cos, t.sin, c.max_position, c.layout);  // token 1 replaced below
  for (int64_t i = 0; i < 3 * 256; ++i) {
    if (i / 256 == 1) CHECK(std::isnan(out[size_t(i)]));
    else CHECK(out[size_t(i)] == want[size_t(i)]);
  }
}
