// The CUDA ModelRunner: one step of the policy on the GPU, composed of cuBLAS GEMMs for the linear
// layers (q/k/v fused into one, gate/up into one) and the engine's kernels for the rest — RMSNorm
// (the residual add and the bf16 rounding of the next GEMM's input fused in), RoPE (rotate-half
// and MLA's interleaved dims, the policy's tables), the K/V write into the paged pool, paged
// decode and prefill attention (GQA, and MLA in the absorbed form), the MoE router, permutation,
// grouped expert GEMMs with fused SwiGLU, the weighted combine, and fused sampling. Behind the
// same interface as the LibTorch runner, so the paged engine (scheduling, block tables, copy on
// write, seeds) drives it unchanged.
//
// Its CPU twin is rollout/reference_runner.h: the same computation, step for step, on the kernels'
// references (where this runner fuses launches, the fused kernel computes the same sums: see
// Decisions). That one is tested against the CPU engine on every HF family on any
// machine; this one against the CPU engine where a device is present (tests/gpu_engine).
//
// Decisions:
// - Launches, which decode at small batch is bound by (a captured graph still runs its kernels one
//   after another): q, k and v are one GEMM over their weights side by side, and its epilogue one
//   kernel (split, bias, Qwen3's per-head norms, RoPE, q out, k and v into the pool:
//   cuda/qkv_rope.h); gate and up are one GEMM, the SwiGLU reads it whole; each residual add is
//   fused into the RMSNorm that follows it (a MoE layer's expert combine too, when it has no
//   shared expert), and the norms and the SwiGLU store the bf16 copy the next GEMM reads. A
//   dense GQA layer is 10 launches instead of 28. The fused kernels compute what the separate
//   ones did, the same adds bit for bit; the per-head norm's sum of squares is a
//   warp's rather than a block's, and cuBLAS may round a fused GEMM's shape differently.
// - Attention: GQA decode steps take split-KV paged decode attention (64-position splits, a fixed
//   size: a sequence's result does not depend on the batch); prefill chunks, mixed steps and MLA
//   (absorbed, key and value dims differ) take paged prefill attention.
// - Batch-invariant mode (options.batch_invariant): every GEMM is row_gemm_forward (one warp an
//   output, a fixed summation order: runner_ops.h) instead of cuBLAS, and every step's attention
//   is paged prefill attention (per query, keys in position order), so a sequence's tokens and
//   logprobs are the same bits alone, in any batch, padded in a graph, and when preempted and
//   recomputed. The rest (RMSNorm, RoPE, router, permutation, expert GEMMs, combine, sampling) is
//   per row already. Slower: no tensor cores, no split-KV.
// - Weights: the runner copies the learner's parameters to the device at construction, and again
//   on refresh_weights(), in one pass over the weights (a CUDA LibTorch's device tensors converted
//   straight into the runner's buffers, a CPU LibTorch's on the host and copied over; tied
//   embeddings are read twice, as the embedding and as the output matrix), in fp32, or with options.bf16_weights
//   every matrix but the router's in bf16 (rounded by LibTorch, to nearest even): the linear
//   layers' GEMMs then take bf16 inputs (the fp32 activations rounded, rollout/bf16.h) with fp32
//   accumulation and output (cublasGemmEx), the expert GEMMs widen bf16 weights in their tiles
//   (fp32 activations), the embedding rows are widened. Norms, the router (its choice must be the
//   learner's) and activations stay fp32, and so does the K/V pool unless options.bf16_kv. The reference runner's bf16 mode rounds at
//   the same places.
// - K/V pool: fp32, or with options.bf16_kv bf16 (half the bytes per cached position): K/V rows
//   rounded to bf16 as they are written, widened exactly as the attention kernels read them.
// - cuBLAS in its default math mode (no TF32), so fp32 GEMMs round as fp32 sums do.
// - Scratch buffers grow to the largest step seen and are kept; the KV pool is one allocation per
//   layer. free_cache_bytes() is the device's free memory after the weights, less a reserve for
//   scratch (a quarter of it, at most 2 GiB).
// - One stream, and two host round trips a step: its inputs go over in one copy (laid out side by
//   side in pinned memory), and its samples and, when asked, the routed experts (every MoE layer's
//   choices land in one [moe layers][tokens][top_k] buffer) come back with one synchronisation.
// - CUDA graphs for decode: a step whose sequences are all one token, each drawing once, runs as
//   a graph captured for the smallest batch of the ladder (options.graph_batches) that holds it.
//   The graph's shapes are the ladder size's: the step is padded with queries that attend to
//   position 0 of the first sequence (finite values, nothing written: their slot is -1) and
//   draws that copy the first one's parameters, and its block tables are padded to the width of
//   its context bucket (the longest context rounded up to a power of two, 256 at least; capped by
//   the pool and max_position), which also bounds decode attention's splits. Every input lives in
//   the graph's own buffers, refilled before each launch; nothing inside depends on a value read
//   back to the host. A (ladder size, bucket) is captured on its first use, after one eager run
//   of the same step (which sizes every buffer, so the capture allocates nothing);
//   allocate_cache() drops the graphs (the pool moved). Weights keep their addresses across refresh_weights(), so graphs survive a refresh.
//   Prefill chunks, mixed steps and batches above the ladder run eagerly, and so does a step whose
//   capture fails (counted in graph_fallbacks()). A graph's GEMMs run at the ladder's row count,
//   so its results may differ from an eager step's in the last bits (cuBLAS picks its algorithm
//   by shape); attention, routing, the expert GEMMs and sampling are per row either way.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "policy/transformer.h"
#include "rollout/cuda/device_array.h"
#include "rollout/cuda/rmsnorm.h"  // RmsNormMoeResidual
#include "rollout/engine_weights.h"  // WeightRefresh
#include "rollout/model_tensors.h"   // LinearTensors
#include "rollout/policy_runner.h"
#include "rollout/moe_routing.h"

namespace r1::rollout {

struct CudaRunnerOptions {
  bool cuda_graphs = true;
  // bf16 weights (Decisions); false: fp32.
  bool bf16_weights = false;
  // Batch-invariant (Decisions): a sequence's bits do not depend on what else is in the step.
  bool batch_invariant = false;
  // The K/V pool in bf16 (Decisions); false: fp32.
  bool bf16_kv = false;
  std::vector<int64_t> graph_batches{1, 2, 4, 8, 16, 32, 64, 128, 256};  // ascending
};

class CudaRunner : public PolicyRunner {
 public:
  // Whether a CUDA device can be used; if not, why (the runtime's words) in *why.
  static bool device_available(std::string* why);
  // Uses the current CUDA device; a UserError (exit 2) when none is present.
  explicit CudaRunner(policy::CausalLM model, CudaRunnerOptions options = {});
  ~CudaRunner() override;
  CudaRunner(const CudaRunner&) = delete;
  CudaRunner& operator=(const CudaRunner&) = delete;

  KvCacheGeometry kv_geometry(int64_t block_tokens) const override;
  int64_t free_cache_bytes() const override;
  void allocate_cache(int64_t num_blocks, int64_t block_tokens) override;
  void copy_blocks(const std::vector<BlockCopy>& copies) override;
  StepOutputs step(const StepInputs& inputs) override;
  void refresh_weights() override;
  // The last refresh (the construction's fill at first): tensors, bytes read from the learner and
  // written to the device, seconds. One pass: each learner tensor read once, ours written once.
  WeightRefresh last_refresh() const override { return refresh_; }
  int64_t weight_bytes() const { return refresh_.bytes_written; }
  // Decode steps run as graph launches, and graphs captured, since construction.
  int64_t graph_launches() const { return graph_launches_; }
  int64_t graph_captures() const { return graph_captures_; }
  // Decode steps that ran eagerly because their graph could not be captured (e.g. out of memory).
  int64_t graph_fallbacks() const { return graph_fallbacks_; }
  // Kernel and copy nodes of the last graph captured: the launches one decode step costs.
  int64_t last_graph_nodes() const { return last_graph_nodes_; }

 private:
  template <class T>
  using DeviceArray = kernels::DeviceArray<T>;
  struct Weight {  // one of the two, by the weight dtype (the router's always fp32)
    DeviceArray<float> f32;
    DeviceArray<uint16_t> bf16;
    bool empty() const { return f32.empty() && bf16.empty(); }
  };
  struct Linear {
    Weight weight;            // [out][in], row-major as nn.Linear
    DeviceArray<float> bias;  // [out], or empty
    int64_t out = 0, in = 0;
  };
  struct Mlp {
    Linear gate_up;  // the gate's rows, then the up's: one GEMM for both
    Linear down;
    int64_t width = 0;  // the intermediate size
  };
  struct Layer {
    DeviceArray<float> input_norm, post_norm;
    Linear qkv;                               // GQA: q, k, v side by side (rows and bias), one GEMM
    Linear q, o;                              // MLA: q (q_proj) or q_a/q_b; o for both
    DeviceArray<float> q_norm, k_norm;        // Qwen3's per-head norms, or empty
    Linear q_a, q_b, kv_a, kv_b;              // MLA
    DeviceArray<float> q_a_norm, kv_a_norm;
    bool moe = false;
    Mlp mlp;                                  // dense feed-forward
    Linear router;
    RouterConfig routing;                     // the policy's, read once (the bias also on the device)
    DeviceArray<float> correction_bias;
    Weight w_gate, w_up, w_down;              // stacked experts [E][out][in]
    bool has_shared = false;
    Mlp shared;
    Linear shared_gate;                       // Qwen2-MoE, or empty
  };
  // Per-step buffers, grown to the largest step and kept.
  struct Scratch {
    // The step's inputs, side by side in one buffer that one copy from pinned memory fills
    // (upload_inputs); the pointers below point into it. Their offsets depend on the token count
    // alone (the block tables come last), so a ladder size's graphs agree on them.
    DeviceArray<char> inputs;
    int32_t *tokens = nullptr, *positions = nullptr, *query_seqs = nullptr, *draw_rows = nullptr,
            *context_lens = nullptr, *block_tables = nullptr;
    int64_t* slots = nullptr;
    FusedSamplingParams* params = nullptr;
    DeviceArray<int32_t> expert_ids, counts, offsets, row_of_slot, slot_of_row, sampled;
    DeviceArray<float> x, normed, out, q, k, v, attn, a, b, c, d, router_weights, logits, logprobs, decode_workspace;
    DeviceArray<char> permute_workspace;
    DeviceArray<uint16_t> x_bf16, q_bf16;  // GEMM inputs rounded to bf16 by to_bf16_forward
    // ... and by the kernel that makes them (bf16_gemm_inputs()): norms, SwiGLU, attention, the
    // gather of the rows to sample.
    DeviceArray<uint16_t> normed_bf16, h_bf16, attn_bf16, drawn_bf16;
    // Every buffer's address: a captured graph is valid while these stay the same.
    std::vector<const void*> addresses() const;
  };
  // What the device part of a step is shaped by: all of it is fixed for a captured graph.
  struct StepShape {
    int64_t tokens = 0, seqs = 0, max_blocks = 0, draws = 0;
    // > 0: a decode step (query i is sequence i's one token), its longest context; GQA then takes
    // split-KV decode attention. 0: prefill attention (chunks, mixed steps, MLA).
    int64_t decode_context = 0;
  };
  struct StreamDeleter {
    void operator()(cudaStream_t s) const { cudaStreamDestroy(s); }
  };
  struct BlasDeleter {
    void operator()(cublasHandle_t h) const { cublasDestroy(h); }
  };
  struct GraphDeleter {
    void operator()(cudaGraphExec_t g) const { cudaGraphExecDestroy(g); }
  };
  using GraphExec = std::unique_ptr<CUgraphExec_st, GraphDeleter>;
  using GraphKey = std::pair<int64_t, int64_t>;  // (ladder size, block-table width)

  // Copies a tensor of model_tensors() to the device (empty for an undefined one).
  void upload(DeviceArray<float>& dst, const torch::Tensor& t);
  void upload(Weight& dst, const std::vector<torch::Tensor>& parts, bool bf16);  // parts side by side
  // One tensor into device memory at dst, converted to fp32 or bf16 on the way; counted in refresh_.
  void copy_weight(void* dst, const torch::Tensor& t, bool bf16);
  void upload(Linear& dst, const torch::Tensor& weight, const torch::Tensor& bias, bool bf16);
  // Projections that read the same input, fused into one: their rows side by side, and their
  // biases (zeros for one without) where any has one.
  void upload_fused(Linear& dst, const std::vector<const LinearTensors*>& parts, bool bf16);
  // Strided-batched c = op(a) b (column-major, cuBLAS's terms) with a the weight `w` from
  // element `offset`; b is read from `b_count` floats at b (rounded to bf16 first for bf16 weights).
  // batched_gemm's arguments (and a bias) for row_gemm_forward: the batch-invariant GEMM.
  void row_gemm(cublasOperation_t op_a, int64_t m, int64_t n, int64_t k, const Weight& w, int64_t offset, int64_t lda,
                int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float* c, int64_t ldc,
                int64_t stride_c, int64_t batch, const float* bias);
  void batched_gemm(cublasOperation_t op_a, int64_t m, int64_t n, int64_t k, const Weight& w, int64_t offset,
                    int64_t lda, int64_t stride_a, const float* b, int64_t b_count, int64_t ldb, int64_t stride_b,
                    float* c, int64_t ldc, int64_t stride_c, int64_t batch);
  // y[rows][l.out] = x[rows][l.in] W^T + b. x_bf16: x already rounded to bf16 (or null: rounded
  // here when the weights are bf16).
  void linear(const Linear& l, const float* x, int64_t rows, float* y, const uint16_t* x_bf16 = nullptr);
  // The same without the bias (the caller adds it).
  void gemm(const Linear& l, const float* x, int64_t rows, float* y, const uint16_t* x_bf16 = nullptr);
  // Whether the GEMM inputs are rounded to bf16 where they are made (RMSNorm, SwiGLU): bf16
  // weights on cuBLAS (the batch-invariant GEMM rounds its own input).
  bool bf16_gemm_inputs() const { return options_.bf16_weights && !options_.batch_invariant; }
  // s_->normed's bf16 copy when bf16_gemm_inputs(), else null.
  const uint16_t* normed_bf16() const { return bf16_gemm_inputs() ? s_->normed_bf16.get() : nullptr; }
  void mlp(const Mlp& m, const float* x, const uint16_t* x_bf16, int64_t rows, float* y);
  void rmsnorm(float* out, const float* x, const DeviceArray<float>& weight, int64_t rows, int64_t cols, double eps);
  // s_->normed (and its bf16 copy) = norm(x + residual), the sum stored back into x; no residual:
  // norm(x). With `routed`, the residual is that MoE layer's expert combine instead (never stored).
  void residual_norm(float* x, const float* residual, const DeviceArray<float>& weight, int64_t rows,
                     const std::optional<kernels::RmsNormMoeResidual>& routed = std::nullopt);
  void rope(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride);
  void gqa_attention(int64_t index, const StepShape& shape, float* out);
  void mla_attention(int64_t index, const StepShape& shape, float* out);
  // out = the feed-forward of s_->normed; the experts chosen go to `expert_ids` ([tokens][top_k]).
  // A MoE layer without a shared expert writes no `out`: it returns its routed experts' outputs,
  // which the next residual_norm combines (one launch and one [tokens][hidden] round trip fewer).
  std::optional<kernels::RmsNormMoeResidual> feed_forward(const Layer& layer, int64_t tokens, int32_t* expert_ids,
                                                         float* out);
  // Host checks of a step's inputs (what the device could not report).
  void validate(const StepInputs& in) const;
  // Copies a step's inputs (already padded to `shape`) into s_->inputs: laid out in the pinned
  // staging buffer, then one asynchronous copy.
  void upload_inputs(const std::vector<int32_t>& tokens, const std::vector<int32_t>& positions,
                     const std::vector<int64_t>& slots, const std::vector<int32_t>& query_seqs,
                     const std::vector<int32_t>& block_tables, const std::vector<int32_t>& draw_rows,
                     const std::vector<FusedSamplingParams>& params, const std::vector<int32_t>& context_lens);
  int64_t decode_split_tokens() const;  // split-KV decode: positions per split
  // The device part of a step over s_'s inputs: layers, final norm, logits of the drawn rows,
  // sampling. Only launches and device copies: it is what a graph captures.
  void device_step(const StepShape& shape);
  // The step as a launch of the ladder size's graph (captured if new); false if it is no decode step.
  bool try_graph_step(const StepInputs& in);
  // Reads back the samples and, if asked, the routed experts of the first `tokens` rows: async
  // copies into pinned memory, one synchronisation.
  StepOutputs fetch_outputs(const StepShape& shape, int64_t tokens, int64_t draws, bool record_experts);

  CudaRunnerOptions options_;
  DeviceArray<char> blas_workspace_;  // set once, so that cuBLAS allocates nothing while captured (freed after the handle)
  std::unique_ptr<CUstream_st, StreamDeleter> stream_owner_;
  std::unique_ptr<cublasContext, BlasDeleter> blas_owner_;
  cudaStream_t stream_ = nullptr;  // stream_owner_'s
  cublasHandle_t blas_ = nullptr;  // blas_owner_'s
  int device_ = 0;                 // the current device at construction
  DeviceArray<float> rope_cos_, rope_sin_, final_norm_;
  Weight embed_;
  Linear lm_head_;
  std::vector<Layer> layers_;
  WeightRefresh refresh_;
  float scale_ = 1.0f;  // attention scores' multiplier
  int64_t block_tokens_ = 0, num_blocks_ = 0;
  std::vector<Weight> k_pool_, v_pool_;  // per layer, fp32 or bf16 (bf16_kv); MLA: k_pool_ only
  // Writes rows into layer pool `pool` at s_->slots; sets a kernel's pool pointers.
  void write_pool(Weight& pool, const float* rows, int64_t count, int64_t cols);
  template <class Params>
  void set_pools(Params& p, const Weight& k, const Weight& v) const;
  kernels::PinnedBuffer staging_in_, staging_out_;  // host sides of upload_inputs and fetch_outputs
  bool staging_in_flight_ = false;  // a copy from staging_in_ was queued and not yet waited for
  Scratch eager_;
  Scratch* s_ = &eager_;  // the buffers of the step being run: eager_, or a graph's own
  // One Scratch per ladder size, shared by its widths' graphs (they run one after another on one
  // stream, inputs refilled before each launch); when a wider table grows it, that size's graphs
  // are dropped and captured again on their next use.
  std::map<int64_t, Scratch> graph_scratch_;
  std::map<GraphKey, GraphExec> graphs_;
  std::set<GraphKey> graph_failed_;  // capture failed: these steps run eagerly from then on
  int64_t graph_launches_ = 0, graph_captures_ = 0, graph_fallbacks_ = 0, last_graph_nodes_ = 0;
};

}  // namespace r1::rollout
