// FP8 E4M3 decoding and block dequantisation (fp8.h).
#include "policy/fp8.h"

#include <cmath>
#include <limits>

#include "common/error.h"

namespace r1::policy {

const torch::Tensor& fp8_e4m3_table() {
  static const torch::Tensor table = [] {
    auto values = torch::empty({256}, torch::kFloat32);
    auto* v = values.data_ptr<float>();
    for (int code = 0; code < 256; ++code) {
      const int sign = code >> 7, exponent = (code >> 3) & 0xF, mantissa = code & 0x7;
      float magnitude;
      if (exponent == 0xF && mantissa == 0x7) magnitude = std::numeric_limits<float>::quiet_NaN();
      else if (exponent == 0) magnitude = std::ldexp(float(mantissa) / 8.0f, -6);  // subnormal
      else magnitude = std::ldexp(1.0f + float(mantissa) / 8.0f, exponent - 7);
      v[code] = sign ? -magnitude : magnitude;
    }
    return values;
  }();
  return table;
}

torch::Tensor decode_fp8_e4m3(const torch::Tensor& codes) {
  R1_ASSERT(codes.scalar_type() == torch::kByte, "decode_fp8_e4m3 expects uint8 codes");
  return fp8_e4m3_table().index({codes.to(torch::kLong)});
}

torch::Tensor dequantize_fp8_e4m3(const torch::Tensor& codes, const torch::Tensor& scale_inv, const std::string& name,
                                  int64_t block) {
  R1_CHECK(codes.dim() == 2, name, ": an FP8 weight with a block scale must be 2-D, got ", codes.dim(), " dimensions");
  const int64_t rows = codes.size(0), cols = codes.size(1);
  const int64_t row_blocks = (rows + block - 1) / block, col_blocks = (cols + block - 1) / block;
  R1_CHECK(scale_inv.dim() == 2 && scale_inv.size(0) == row_blocks && scale_inv.size(1) == col_blocks, name,
           "_scale_inv: shape ", scale_inv.sizes(), " does not give one factor per ", block, "x", block,
           " block of the ", codes.sizes(), " weight (expected [", row_blocks, ", ", col_blocks, "])");
  auto factors = scale_inv.to(torch::kFloat32)
                     .repeat_interleave(block, 0)
                     .repeat_interleave(block, 1)
                     .narrow(0, 0, rows)
                     .narrow(1, 0, cols);
  return decode_fp8_e4m3(codes) * factors;
}

}  // namespace r1::policy
