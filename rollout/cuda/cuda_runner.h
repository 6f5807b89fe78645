// The CUDA ModelRunner: one step of the policy on the GPU, composed of cuBLAS GEMMs for the linear
// layers and the engine's kernels for the rest — RMSNorm, RoPE (rotate-half and MLA's interleaved
// dims, the policy's tables), the K/V write into the paged pool, paged prefill attention (GQA, and
// MLA in the absorbed form, for prefill chunks and decode alike), the MoE router, permutation,
// grouped expert GEMMs with fused SwiGLU, the weighted combine, and fused sampling. Behind the
// same interface as the LibTorch runner, so the paged engine (scheduling, block tables, copy on
// write, seeds) drives it unchanged.
//
// Its CPU twin is rollout/reference_runner.h: the same calls, in the same order and layouts, on
// the kernels' references. That one is tested against the CPU engine on every HF family on any
// machine; this one against the CPU engine where a device is present (tests/gpu_engine).
//
// Decisions:
// - fp32 weights and activations: the runner copies the learner's parameters to the device at
//   construction, and again on refresh_weights() (one pass over the weights; cudaMemcpyDefault,
//   so a CUDA LibTorch's device tensors and a CPU LibTorch's host tensors both work). bf16 weights
//   and K/V are not yet in the kernels.
// - cuBLAS in its default math mode (no TF32), so fp32 GEMMs round as fp32 sums do.
// - Scratch buffers grow to the largest step seen and are kept; the KV pool is one allocation per
//   layer. free_cache_bytes() is the device's free memory after the weights, less a reserve for
//   scratch (a quarter of it, at most 2 GiB).
// - One stream; a step reads its samples (and, when asked, the routed experts) back at its end.
//   No CUDA graphs yet: the per-step buffers are sized on the host.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "policy/transformer.h"
#include "rollout/cuda/device_array.h"
#include "rollout/model_runner.h"
#include "rollout/moe_routing.h"

namespace r1::rollout {

class CudaRunner : public ModelRunner {
 public:
  // Uses the current CUDA device; a UserError (exit 2) when none is present.
  explicit CudaRunner(policy::CausalLM model);
  ~CudaRunner() override;
  CudaRunner(const CudaRunner&) = delete;
  CudaRunner& operator=(const CudaRunner&) = delete;

  int64_t vocab_size() const override { return config().vocab_size; }
  int64_t max_position() const override { return config().max_position; }
  KvCacheGeometry kv_geometry(int64_t block_tokens) const override;
  int64_t moe_layers() const override { return config().num_moe_layers(); }
  int64_t experts_per_token() const override { return config().is_moe() ? config().num_experts_per_token : 0; }
  int64_t free_cache_bytes() const override;
  void allocate_cache(int64_t num_blocks, int64_t block_tokens) override;
  void copy_blocks(const std::vector<BlockCopy>& copies) override;
  StepOutputs step(const StepInputs& inputs) override;
  void refresh_weights() override;
  // Bytes of weights on the device (what a refresh copies).
  int64_t weight_bytes() const { return weight_bytes_; }

 private:
  template <class T>
  using DeviceArray = kernels::DeviceArray<T>;
  struct Linear {
    DeviceArray<float> weight;  // [out][in], row-major as nn.Linear
    DeviceArray<float> bias;    // [out], or empty
    int64_t out = 0, in = 0;
  };
  struct Mlp {
    Linear gate, up, down;
  };
  struct Layer {
    DeviceArray<float> input_norm, post_norm;
    Linear q, k, v, o;                        // GQA; MLA uses q (q_proj) or q_a/q_b, and o
    DeviceArray<float> q_norm, k_norm;        // Qwen3's per-head norms, or empty
    Linear q_a, q_b, kv_a, kv_b;              // MLA
    DeviceArray<float> q_a_norm, kv_a_norm;
    bool moe = false;
    Mlp mlp;                                  // dense feed-forward
    Linear router;
    RouterConfig routing;                     // the policy's, read once (the bias also on the device)
    DeviceArray<float> correction_bias;
    DeviceArray<float> w_gate, w_up, w_down;  // stacked experts [E][out][in]
    bool has_shared = false;
    Mlp shared;
    Linear shared_gate;                       // Qwen2-MoE, or empty
  };
  // Per-step buffers, grown to the largest step and kept.
  struct Scratch {
    DeviceArray<int32_t> tokens, positions, query_seqs, block_tables, expert_ids, counts, offsets, row_of_slot,
        slot_of_row, draw_rows, sampled;
    DeviceArray<int64_t> slots;
    DeviceArray<float> x, normed, out, q, k, v, attn, a, b, c, d, router_weights, logits, logprobs;
    DeviceArray<char> permute_workspace;
    DeviceArray<FusedSamplingParams> params;
  };

  const policy::ModelConfig& config() const { return model_->config(); }
  // Copies a tensor of model_tensors() to the device (empty for an undefined one).
  void upload(DeviceArray<float>& dst, const torch::Tensor& t);
  void upload(Linear& dst, const torch::Tensor& weight, const torch::Tensor& bias = {});
  // y[rows][l.out] = x[rows][l.in] W^T + b.
  void linear(const Linear& l, const float* x, int64_t rows, float* y);
  void mlp(const Mlp& m, const float* x, int64_t rows, float* y);
  void rmsnorm(float* out, const float* x, const DeviceArray<float>& weight, int64_t rows, int64_t cols, double eps);
  void rope(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride);
  void gqa_attention(int64_t index, const StepInputs& in, float* out);
  void mla_attention(int64_t index, const StepInputs& in, float* out);
  // out = the feed-forward of s_.normed; the layer's chosen experts stay in s_.expert_ids.
  void feed_forward(const Layer& layer, int64_t tokens, float* out);

  policy::CausalLM model_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  DeviceArray<float> rope_cos_, rope_sin_, embed_, final_norm_;
  Linear lm_head_;
  std::vector<Layer> layers_;
  int64_t weight_bytes_ = 0;
  float scale_ = 1.0f;  // attention scores' multiplier
  int64_t block_tokens_ = 0, num_blocks_ = 0;
  std::vector<DeviceArray<float>> k_pool_, v_pool_;  // per layer; MLA: k_pool_ only
  Scratch s_;
};

}  // namespace r1::rollout
