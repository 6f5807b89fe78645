// CudaRunner: the step of rollout/reference_runner.cpp, on the device (see the header).
#include "rollout/cuda/cuda_runner.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/error.h"
#include "rollout/cuda/cublas_check.h"
#include "rollout/cuda/cuda_check.h"
#include "rollout/cuda/expert_gemm.h"
#include "rollout/cuda/fused_sampling.h"
#include "rollout/cuda/moe_permute.h"
#include "rollout/cuda/moe_router.h"
#include "rollout/cuda/paged_attention.h"
#include "rollout/cuda/paged_prefill_attention.h"
#include "rollout/cuda/qkv_rope.h"
#include "rollout/cuda/rmsnorm.h"
#include "rollout/cuda/rope.h"
#include "rollout/cuda/runner_ops.h"
#include "rollout/model_tensors.h"
#include "rollout/rotary_tables.h"

namespace r1::rollout {

namespace k = kernels;

namespace {

// Bytes from `offset` on, rounded up so that the next array starts 16-byte aligned.
size_t aligned(size_t offset) { return (offset + 15) / 16 * 16; }

// Copies rows of `width` floats between strided buffers on the device.
void copy_rows(float* dst, int64_t dst_stride, const float* src, int64_t src_stride, int64_t width, int64_t rows,
               cudaStream_t stream) {
  if (rows == 0) return;
  R1_CUDA_CHECK(cudaMemcpy2DAsync(dst, size_t(dst_stride) * sizeof(float), src, size_t(src_stride) * sizeof(float),
                                  size_t(width) * sizeof(float), size_t(rows), cudaMemcpyDeviceToDevice, stream));
}

}  // namespace

bool CudaRunner::device_available(std::string* why) {
  int devices = 0;
  const cudaError_t found = cudaGetDeviceCount(&devices);
  if (found != cudaSuccess) cudaGetLastError();  // clear it, so that no later check reports it
  if (found == cudaSuccess && devices > 0) return true;
  if (why) *why = "there is no CUDA device (" + (found == cudaSuccess ? std::string("cudaGetDeviceCount found 0")
                                                                      : detail::cuda_status_text(found)) + ")";
  return false;
}

CudaRunner::CudaRunner(policy::CausalLM model, CudaRunnerOptions options)
    : PolicyRunner(std::move(model)), options_(std::move(options)) {
  std::string why;
  R1_CHECK(device_available(&why), "the CUDA runner needs a CUDA device, and ", why);
  for (size_t i = 0; i < options_.graph_batches.size(); ++i)
    R1_CHECK(options_.graph_batches[i] >= 1 && (i == 0 || options_.graph_batches[i] > options_.graph_batches[i - 1]),
             "CudaRunner: graph_batches must be ascending and >= 1");
  R1_CUDA_CHECK(cudaGetDevice(&device_));
  R1_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  stream_owner_.reset(stream_);
  R1_CUBLAS_CHECK(cublasCreate(&blas_));
  blas_owner_.reset(blas_);
  R1_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
  R1_CUBLAS_CHECK(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));  // fp32 FMAs, no TF32
  constexpr size_t kBlasWorkspace = size_t{32} << 20;
  R1_CUBLAS_CHECK(cublasSetWorkspace(blas_, blas_workspace_.ensure(kBlasWorkspace), kBlasWorkspace));
  const auto tables = rotary_tables(config());
  rope_cos_.upload(tables.cos);
  rope_sin_.upload(tables.sin);
  refresh_weights();
}

CudaRunner::~CudaRunner() = default;

void CudaRunner::copy_weight(void* dst, const torch::Tensor& t, bool bf16) {
  const auto dtype = bf16 ? torch::kBFloat16 : torch::kFloat32;
  const auto src = t.detach();
  if (src.is_cuda()) {
    // A CUDA LibTorch's device tensor: one conversion kernel from the learner's tensor into ours,
    // one pass (read the learner's bytes, write ours).
    auto view = torch::from_blob(dst, src.sizes(), torch::TensorOptions().dtype(dtype).device(torch::kCUDA, device_));
    view.copy_(src);
  } else {
    // A host tensor (a CPU LibTorch): converted on the host, then copied over.
    const auto converted = src.to(dtype).contiguous();
    R1_CUDA_CHECK(cudaMemcpy(dst, converted.data_ptr(), size_t(converted.numel() * converted.element_size()),
                             cudaMemcpyHostToDevice));
  }
  ++refresh_.tensors;
  refresh_.bytes_read += src.numel() * int64_t(src.element_size());
  refresh_.bytes_written += src.numel() * (bf16 ? 2 : 4);
}

void CudaRunner::upload(DeviceArray<float>& dst, const torch::Tensor& t) {
  if (!t.defined()) {
    dst = DeviceArray<float>();
    return;
  }
  copy_weight(dst.ensure(size_t(t.numel())), t, false);
}

void CudaRunner::upload(Weight& dst, const std::vector<torch::Tensor>& parts, bool bf16) {
  int64_t total = 0;
  for (const auto& t : parts) total += t.defined() ? t.numel() : 0;
  if (total == 0) {
    dst = Weight();
    return;
  }
  // The parts side by side, in order (the experts stacked [E][out][in]); addresses kept across
  // refreshes (ensure never moves a buffer of the same size), so captured graphs stay valid.
  int64_t offset = 0;
  if (bf16) {
    dst.f32 = DeviceArray<float>();
    uint16_t* base = dst.bf16.ensure(size_t(total));
    for (const auto& t : parts)
      if (t.defined()) copy_weight(base + offset, t, true), offset += t.numel();
  } else {
    dst.bf16 = DeviceArray<uint16_t>();
    float* base = dst.f32.ensure(size_t(total));
    for (const auto& t : parts)
      if (t.defined()) copy_weight(base + offset, t, false), offset += t.numel();
  }
}

void CudaRunner::upload(Linear& dst, const torch::Tensor& weight, const torch::Tensor& bias, bool bf16) {
  dst.out = weight.defined() ? weight.size(0) : 0;
  dst.in = weight.defined() ? weight.size(1) : 0;
  upload(dst.weight, {weight}, bf16);
  upload(dst.bias, bias);
}

void CudaRunner::upload_fused(Linear& dst, const std::vector<const LinearTensors*>& parts, bool bf16) {
  std::vector<torch::Tensor> weights, biases;
  bool any_bias = false;
  dst.out = 0;
  dst.in = parts.front()->weight.size(1);
  for (const auto* part : parts) {
    R1_ASSERT(part->present() && part->weight.size(1) == dst.in, "CudaRunner: fused projections of different inputs");
    weights.push_back(part->weight);
    dst.out += part->weight.size(0);
    any_bias = any_bias || part->bias.defined();
  }
  upload(dst.weight, weights, bf16);
  if (!any_bias) {
    dst.bias = DeviceArray<float>();
    return;
  }
  for (const auto* part : parts)  // a few floats: joined by LibTorch, then copied as one
    biases.push_back(part->bias.defined() ? part->bias.detach()
                                          : torch::zeros({part->weight.size(0)}, part->weight.options()));
  upload(dst.bias, torch::cat(biases));
}

void CudaRunner::refresh_weights() {
  torch::NoGradGuard no_grad;
  // The copies below run on the legacy stream, which does not wait for stream_ (non-blocking) or
  // LibTorch's streams: let everything in flight finish first.
  R1_CUDA_CHECK(cudaDeviceSynchronize());
  const auto start = std::chrono::steady_clock::now();
  refresh_ = WeightRefresh();
  const auto t = model_tensors(model_);
  const bool bf16 = options_.bf16_weights;
  auto linear_of = [&](Linear& dst, const LinearTensors& src) { upload(dst, src.weight, src.bias, bf16); };
  auto mlp_of = [&](Mlp& dst, const MlpTensors& src) {
    upload_fused(dst.gate_up, {&src.gate, &src.up}, bf16);
    linear_of(dst.down, src.down);
    dst.width = src.gate.weight.size(0);
  };
  upload(embed_, {t.embed}, bf16);
  upload(final_norm_, t.final_norm);
  upload(lm_head_, t.lm_head, {}, bf16);
  scale_ = static_cast<float>(t.attention_scale);
  layers_.resize(t.layers.size());
  for (size_t i = 0; i < t.layers.size(); ++i) {
    const auto& l = t.layers[i];
    Layer& layer = layers_[i];
    upload(layer.input_norm, l.input_norm);
    upload(layer.post_norm, l.post_norm);
    using Projection = std::pair<Linear*, const LinearTensors*>;
    if (l.k.present()) upload_fused(layer.qkv, {&l.q, &l.k, &l.v}, bf16);  // GQA
    else linear_of(layer.q, l.q);                                          // MLA's q_proj, or none
    for (auto [dst, src] : std::initializer_list<Projection>{{&layer.o, &l.o}, {&layer.q_a, &l.q_a}, {&layer.q_b, &l.q_b},
                                                            {&layer.kv_a, &l.kv_a}, {&layer.kv_b, &l.kv_b}})
      linear_of(*dst, *src);
    upload(layer.q_norm, l.q_norm);
    upload(layer.k_norm, l.k_norm);
    upload(layer.q_a_norm, l.q_a_norm);
    upload(layer.kv_a_norm, l.kv_a_norm);
    layer.moe = l.moe;
    if (l.moe) {
      upload(layer.router, l.router, {}, /*bf16=*/false);  // the learner's choice: fp32
      layer.routing = router_config(config(), host_floats(l.correction_bias));
      upload(layer.correction_bias, l.correction_bias);
      upload(layer.w_gate, l.w_gate, bf16);
      upload(layer.w_up, l.w_up, bf16);
      upload(layer.w_down, l.w_down, bf16);
      layer.has_shared = l.has_shared;
      if (l.has_shared) {
        mlp_of(layer.shared, l.shared);
        linear_of(layer.shared_gate, l.shared_gate);
      }
    } else {
      mlp_of(layer.mlp, l.mlp);
    }
  }
  R1_CUDA_CHECK(cudaDeviceSynchronize());  // LibTorch's copies ran on its stream
  refresh_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

KvCacheGeometry CudaRunner::kv_geometry(int64_t block_tokens) const {
  return model_kv_geometry(config(), block_tokens, options_.bf16_kv ? 2 : int64_t(sizeof(float)));
}

void CudaRunner::write_pool(Weight& pool, const float* rows, int64_t count, int64_t cols) {
  const int64_t pool_rows = num_blocks_ * block_tokens_;
  if (pool.bf16.empty()) k::scatter_rows_forward(pool.f32.get(), rows, s_->slots, count, cols, cols, pool_rows, stream_);
  else k::scatter_rows_forward(pool.bf16.get(), rows, s_->slots, count, cols, cols, pool_rows, stream_);
}

template <class Params>
void CudaRunner::set_pools(Params& p, const Weight& k, const Weight& v) const {
  p.k_pool = k.f32.empty() ? nullptr : k.f32.get();
  p.v_pool = v.f32.empty() ? nullptr : v.f32.get();
  p.k_pool_bf16 = k.bf16.empty() ? nullptr : k.bf16.get();
  p.v_pool_bf16 = v.bf16.empty() ? nullptr : v.bf16.get();
}

int64_t CudaRunner::free_cache_bytes() const {
  size_t free = 0, total = 0;
  R1_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  const int64_t reserve = std::min<int64_t>(int64_t(free) / 4, int64_t{2} << 30);  // scratch
  return int64_t(free) - reserve;
}

void CudaRunner::allocate_cache(int64_t num_blocks, int64_t block_tokens) {
  R1_CHECK(num_blocks >= 1 && block_tokens >= 1, "CudaRunner: allocate_cache(", num_blocks, ", ", block_tokens, ")");
  const auto geometry = kv_geometry(block_tokens);
  const auto floats = size_t(num_blocks * block_tokens * geometry.kv_heads * geometry.head_dim);
  k_pool_.clear();
  v_pool_.clear();
  auto make_pool = [&] {
    Weight pool;
    if (options_.bf16_kv) pool.bf16.resize(floats);
    else pool.f32.resize(floats);
    void* data = options_.bf16_kv ? static_cast<void*>(pool.bf16.get()) : static_cast<void*>(pool.f32.get());
    R1_CUDA_CHECK(cudaMemsetAsync(data, 0, floats * size_t(geometry.bytes_per_element), stream_));
    return pool;
  };
  for (int64_t l = 0; l < geometry.layers; ++l) {
    k_pool_.push_back(make_pool());
    if (!geometry.shared_kv) v_pool_.push_back(make_pool());
  }
  block_tokens_ = block_tokens;
  num_blocks_ = num_blocks;
  graphs_.clear();  // they point into the old pool
  graph_failed_.clear();
}

void CudaRunner::copy_blocks(const std::vector<BlockCopy>& copies) {
  const auto geometry = kv_geometry(block_tokens_);
  const int64_t row = geometry.kv_heads * geometry.head_dim;
  const size_t element = size_t(geometry.bytes_per_element);
  for (const auto& copy : copies)
    for (auto* pools : {&k_pool_, &v_pool_})
      for (auto& pool : *pools) {
        char* base = pool.bf16.empty() ? reinterpret_cast<char*>(pool.f32.get()) : reinterpret_cast<char*>(pool.bf16.get());
        R1_CUDA_CHECK(cudaMemcpyAsync(base + size_t(int64_t(copy.dst) * block_tokens_ * row) * element,
                                      base + size_t(int64_t(copy.src) * block_tokens_ * row) * element,
                                      size_t(copy.tokens * row) * element, cudaMemcpyDeviceToDevice, stream_));
      }
}

void CudaRunner::gemm(const Linear& l, const float* x, int64_t rows, float* y, const uint16_t* x_bf16) {
  R1_ASSERT(l.out > 0, "CudaRunner: a linear layer the model does not have");
  R1_ASSERT(x != nullptr || (x_bf16 != nullptr && !l.weight.bf16.empty() && !options_.batch_invariant),
            "CudaRunner: a GEMM given only a bf16 input needs bf16 weights on cuBLAS");
  if (rows == 0) return;
  if (options_.batch_invariant) {  // y^T = op(W) x^T with op = T, as the cuBLAS call below
    row_gemm(CUBLAS_OP_T, l.out, rows, l.in, l.weight, 0, l.in, 0, x, l.in, 0, y, l.out, 0, 1, nullptr);
    return;
  }
  // Row-major y = x W^T is column-major y^T = W^T(col-major view of W) x^T.
  const float one = 1.0f, zero = 0.0f;
  if (!l.weight.bf16.empty()) {
    if (x_bf16 == nullptr) {
      uint16_t* rounded = s_->x_bf16.ensure(size_t(rows * l.in));
      k::to_bf16_forward(rounded, x, rows * l.in, stream_);
      x_bf16 = rounded;
    }
    R1_CUBLAS_CHECK(cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(l.out), int(rows), int(l.in), &one,
                                 l.weight.bf16.get(), CUDA_R_16BF, int(l.in), x_bf16, CUDA_R_16BF, int(l.in), &zero, y,
                                 CUDA_R_32F, int(l.out), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  } else {
    R1_CUBLAS_CHECK(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(l.out), int(rows), int(l.in), &one,
                                l.weight.f32.get(), int(l.in), x, int(l.in), &zero, y, int(l.out)));
  }
}

void CudaRunner::linear(const Linear& l, const float* x, int64_t rows, float* y, const uint16_t* x_bf16) {
  gemm(l, x, rows, y, x_bf16);
  if (rows > 0 && !l.bias.empty()) k::add_bias_forward(y, l.bias.get(), rows, l.out, stream_);
}

void CudaRunner::row_gemm(cublasOperation_t op_a, int64_t m, int64_t n, int64_t k, const Weight& w, int64_t offset,
                          int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float* c,
                          int64_t ldc, int64_t stride_c, int64_t batch, const float* bias) {
  // cuBLAS's column-major C (m x n) = op(A) (m x k) B (k x n) in row_gemm's terms: an output row
  // is a column j of C (c[j * ldc + i]), its input B's column j (b[j * ldb + kk]).
  k::RowGemmParams p;
  p.out = c;
  p.a = b;
  p.w = w.f32.empty() ? nullptr : w.f32.get() + offset;
  p.w_bf16 = w.bf16.empty() ? nullptr : w.bf16.get() + offset;
  p.bias = bias;
  p.batch = batch;
  p.rows = n;
  p.cols = m;
  p.depth = k;
  p.a_row = ldb;
  p.a_batch = stride_b;
  p.w_i = op_a == CUBLAS_OP_N ? 1 : lda;  // op(A)(i, kk) = A[i + kk lda], or A[kk + i lda] transposed
  p.w_k = op_a == CUBLAS_OP_N ? lda : 1;
  p.w_batch = stride_a;
  p.out_row = ldc;
  p.out_batch = stride_c;
  k::row_gemm_forward(p, stream_);
}

void CudaRunner::batched_gemm(cublasOperation_t op_a, int64_t m, int64_t n, int64_t k, const Weight& w, int64_t offset,
                              int64_t lda, int64_t stride_a, const float* b, int64_t b_count, int64_t ldb,
                              int64_t stride_b, float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  if (options_.batch_invariant)
    return row_gemm(op_a, m, n, k, w, offset, lda, stride_a, b, ldb, stride_b, c, ldc, stride_c, batch, nullptr);
  const float one = 1.0f, zero = 0.0f;
  if (w.bf16.empty()) {
    R1_CUBLAS_CHECK(cublasSgemmStridedBatched(blas_, op_a, CUBLAS_OP_N, int(m), int(n), int(k), &one,
                                              w.f32.get() + offset, int(lda), stride_a, b, int(ldb), stride_b, &zero, c,
                                              int(ldc), stride_c, int(batch)));
    return;
  }
  uint16_t* bb = s_->q_bf16.ensure(size_t(b_count));
  k::to_bf16_forward(bb, b, b_count, stream_);
  R1_CUBLAS_CHECK(cublasGemmStridedBatchedEx(blas_, op_a, CUBLAS_OP_N, int(m), int(n), int(k), &one,
                                             w.bf16.get() + offset, CUDA_R_16BF, int(lda), stride_a, bb, CUDA_R_16BF,
                                             int(ldb), stride_b, &zero, c, CUDA_R_32F, int(ldc), stride_c, int(batch),
                                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void CudaRunner::mlp(const Mlp& m, const float* x, const uint16_t* x_bf16, int64_t rows, float* y) {
  const auto width = size_t(rows * m.width);
  float* gate_up = s_->c.ensure(2 * width);
  float* h = s_->d.ensure(width);
  uint16_t* h_bf16 = bf16_gemm_inputs() ? s_->h_bf16.ensure(width) : nullptr;
  linear(m.gate_up, x, rows, gate_up, x_bf16);
  k::swiglu_forward(h, h_bf16, gate_up, rows, m.width, stream_);
  linear(m.down, h, rows, y, h_bf16);
}

void CudaRunner::rmsnorm(float* out, const float* x, const DeviceArray<float>& weight, int64_t rows, int64_t cols,
                         double eps) {
  k::rmsnorm_forward({out, x, weight.get(), rows, cols, static_cast<float>(eps)}, stream_);
}

void CudaRunner::residual_norm(float* x, const float* residual, const DeviceArray<float>& weight, int64_t rows,
                               const std::optional<kernels::RmsNormMoeResidual>& routed) {
  const auto& c = config();
  const auto count = size_t(rows * c.hidden_size);
  k::RmsNormParams p{s_->normed.ensure(count), x, weight.get(), rows, c.hidden_size, static_cast<float>(c.rms_norm_eps)};
  p.out_bf16 = bf16_gemm_inputs() ? s_->normed_bf16.ensure(count) : nullptr;
  if (routed) {  // the MoE feed-forward's combine in place of `residual`
    p.sum = x;
    k::rmsnorm_forward(p, *routed, stream_);
    return;
  }
  p.residual = residual;
  p.sum = residual != nullptr ? x : nullptr;
  k::rmsnorm_forward(p, stream_);
}

void CudaRunner::rope(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride) {
  const auto& c = config();
  k::RopeParams p{};
  p.x = x;
  p.cos_table = rope_cos_.get();
  p.sin_table = rope_sin_.get();
  p.positions = s_->positions;
  p.tokens = tokens;
  p.heads = int32_t(heads);
  p.rope_dim = int32_t(c.rope_dim());
  p.token_stride = token_stride;
  p.head_stride = head_stride;
  p.max_position = int32_t(c.max_position);
  p.interleaved = c.is_mla() && c.rope_interleave;
  k::rope_forward(p, stream_);
}

namespace {
k::PagedPrefillAttentionParams attention_params(int64_t tokens, int64_t seqs, int64_t max_blocks, int64_t num_blocks,
                                                int64_t block_tokens, const int32_t* tables, const int32_t* query_seqs,
                                                const int32_t* positions) {
  k::PagedPrefillAttentionParams p{};
  p.block_tables = tables;
  p.query_seqs = query_seqs;
  p.query_positions = positions;
  p.tokens = tokens;
  p.num_seqs = seqs;
  p.num_blocks = num_blocks;
  p.block_tokens = int32_t(block_tokens);
  p.max_blocks = int32_t(max_blocks);
  return p;
}
}  // namespace

void CudaRunner::gqa_attention(int64_t index, const StepShape& shape, float* out) {
  const auto& c = config();
  const Layer& layer = layers_[size_t(index)];
  const int64_t n = shape.tokens, heads = c.num_heads, kv_heads = c.num_kv_heads, d = c.head_dim;
  float* q = s_->q.ensure(size_t(n * heads * d));
  float* packed = s_->a.ensure(size_t(n * layer.qkv.out));  // [n][q | k | v]
  gemm(layer.qkv, s_->normed.get(), n, packed, normed_bf16());
  // Split, bias, Qwen3's per-head norms, RoPE, q out dense and k, v into the pool: one kernel.
  k::QkvRopeParams e{};
  e.q_out = q;
  Weight& k_pool = k_pool_[size_t(index)];
  Weight& v_pool = v_pool_[size_t(index)];
  set_pools(e, k_pool, v_pool);
  e.packed = packed;
  e.bias = layer.qkv.bias.empty() ? nullptr : layer.qkv.bias.get();
  e.q_norm = layer.q_norm.empty() ? nullptr : layer.q_norm.get();
  e.k_norm = layer.k_norm.empty() ? nullptr : layer.k_norm.get();
  e.eps = static_cast<float>(c.rms_norm_eps);
  e.cos_table = rope_cos_.get();
  e.sin_table = rope_sin_.get();
  e.positions = s_->positions;
  e.slots = s_->slots;
  e.tokens = n;
  e.pool_rows = num_blocks_ * block_tokens_;
  e.q_heads = int32_t(heads);
  e.kv_heads = int32_t(kv_heads);
  e.head_dim = int32_t(d);
  e.rope_dim = int32_t(c.rope_dim());
  e.max_position = int32_t(c.max_position);
  k::qkv_rope_forward(e, stream_);
  float* attended = s_->attn.ensure(size_t(n * heads * d));
  uint16_t* attended_bf16 = bf16_gemm_inputs() ? s_->attn_bf16.ensure(size_t(n * heads * d)) : nullptr;
  if (shape.decode_context > 0 && !options_.batch_invariant) {  // one query a sequence: split-KV decode
    k::PagedDecodeAttentionParams p{};
    p.out = attended;
    p.out_bf16 = attended_bf16;
    p.q = q;
    set_pools(p, k_pool, v_pool);
    p.block_tables = s_->block_tables;
    p.context_lens = s_->context_lens;
    p.num_seqs = n;
    p.num_blocks = num_blocks_;
    p.q_heads = int32_t(heads);
    p.kv_heads = int32_t(kv_heads);
    p.head_dim = int32_t(d);
    p.block_tokens = int32_t(block_tokens_);
    p.max_blocks = int32_t(shape.max_blocks);
    p.max_context_len = int32_t(shape.decode_context);
    p.split_tokens = int32_t(decode_split_tokens());
    p.workspace_bytes = k::paged_decode_attention_workspace_bytes(n, p.q_heads, p.head_dim, p.max_context_len,
                                                                 p.split_tokens);
    p.workspace = s_->decode_workspace.ensure(size_t(p.workspace_bytes / int64_t(sizeof(float)) + 1));
    p.scale = scale_;
    k::paged_decode_attention_forward(p, stream_);
  } else {
    auto p = attention_params(n, shape.seqs, shape.max_blocks, num_blocks_, block_tokens_, s_->block_tables,
                              s_->query_seqs, s_->positions);
    p.out = attended;
    p.out_bf16 = attended_bf16;
    p.q = q;
    set_pools(p, k_pool, v_pool);
    p.q_heads = int32_t(heads);
    p.kv_heads = int32_t(kv_heads);
    p.key_dim = p.value_dim = p.value_stride = int32_t(d);
    p.scale = scale_;
    k::paged_prefill_attention_forward(p, stream_);
  }
  linear(layer.o, attended, n, out, attended_bf16);
}

int64_t CudaRunner::decode_split_tokens() const {
  // 64 positions a split (rounded up to whole blocks): enough blocks in flight at batch 1 to keep
  // the GPU reading, few enough splits that the merge stays cheap.
  return (64 + block_tokens_ - 1) / block_tokens_ * block_tokens_;
}

void CudaRunner::mla_attention(int64_t index, const StepShape& shape, float* out) {
  const auto& c = config();
  const Layer& layer = layers_[size_t(index)];
  const int64_t n = shape.tokens, heads = c.num_heads;
  const int64_t nope = c.qk_nope_head_dim, rope_dims = c.qk_rope_head_dim, rank = c.kv_lora_rank, vdim = c.v_head_dim;
  const int64_t qk = nope + rope_dims, row = rank + rope_dims;

  float* q = s_->q.ensure(size_t(n * heads * qk));
  if (layer.q_a.out > 0) {
    float* qa = s_->a.ensure(size_t(n * layer.q_a.out));
    linear(layer.q_a, s_->normed.get(), n, qa, normed_bf16());
    rmsnorm(qa, qa, layer.q_a_norm, n, layer.q_a.out, 1e-6);
    linear(layer.q_b, qa, n, q);
  } else {
    linear(layer.q, s_->normed.get(), n, q, normed_bf16());
  }
  float* compressed = s_->k.ensure(size_t(n * row));  // [n][latent | k_pe]
  float* latent = s_->v.ensure(size_t(n * rank));
  linear(layer.kv_a, s_->normed.get(), n, compressed, normed_bf16());
  copy_rows(latent, rank, compressed, row, rank, n, stream_);  // the latent part, dense, normalised
  rmsnorm(latent, latent, layer.kv_a_norm, n, rank, 1e-6);
  copy_rows(compressed, row, latent, rank, rank, n, stream_);
  rope(q + nope, n, heads, heads * qk, qk);
  rope(compressed + rank, n, 1, row, rope_dims);
  Weight& pool = k_pool_[size_t(index)];
  write_pool(pool, compressed, n, row);

  // Head h's query: [q_nope_h W_uk_h | q_pe_h]. kv_b's weight is [heads][nope + vdim][rank]; in
  // column-major terms W_uk_h is rank x nope (ld rank), q_nope_h^T nope x n (ld heads * qk).
  const Weight& w = layer.kv_b.weight;
  float* query = s_->b.ensure(size_t(n * heads * row));
  batched_gemm(CUBLAS_OP_N, rank, n, nope, w, 0, rank, (nope + vdim) * rank, q, n * heads * qk, heads * qk, qk, query,
               heads * row, row, heads);
  copy_rows(query + rank, row, q + nope, qk, rope_dims, n * heads, stream_);

  auto p = attention_params(n, shape.seqs, shape.max_blocks, num_blocks_, block_tokens_, s_->block_tables,
                            s_->query_seqs, s_->positions);
  p.out = s_->c.ensure(size_t(n * heads * rank));  // the latent average per head
  p.q = query;
  set_pools(p, pool, pool);  // one pool: [latent | k_pe] rows
  p.q_heads = int32_t(heads);
  p.kv_heads = 1;
  p.key_dim = p.value_stride = int32_t(row);
  p.value_dim = int32_t(rank);
  p.scale = scale_;
  k::paged_prefill_attention_forward(p, stream_);

  // Lift by W_uv_h ([vdim][rank] rows of kv_b after the nope ones): out_h = avg_h W_uv_h^T.
  float* lifted = s_->d.ensure(size_t(n * heads * vdim));
  batched_gemm(CUBLAS_OP_T, vdim, n, rank, w, nope * rank, rank, (nope + vdim) * rank, p.out, n * heads * rank,
               heads * rank, rank, lifted, heads * vdim, vdim, heads);
  linear(layer.o, lifted, n, out);
}

std::optional<k::RmsNormMoeResidual> CudaRunner::feed_forward(const Layer& layer, int64_t tokens, int32_t* expert_ids,
                                                              float* out) {
  const float* x = s_->normed.get();
  if (!layer.moe) {
    mlp(layer.mlp, x, normed_bf16(), tokens, out);
    return std::nullopt;
  }
  const auto& c = config();
  const int64_t hidden = c.hidden_size, experts = c.num_experts, top_k = c.num_experts_per_token;
  const int32_t tile = k::kExpertGemmTileRows;
  const RouterConfig& r = layer.routing;

  float* logits = s_->a.ensure(size_t(tokens * experts));
  linear(layer.router, x, tokens, logits);
  k::MoeRouterParams route{};
  route.expert_ids = expert_ids;
  route.weights = s_->router_weights.ensure(size_t(tokens * top_k));
  route.logits = logits;
  route.correction_bias = layer.correction_bias.empty() ? nullptr : layer.correction_bias.get();
  route.tokens = tokens;
  route.num_experts = int32_t(experts);
  route.top_k = int32_t(top_k);
  route.n_group = int32_t(r.n_group);
  route.topk_group = int32_t(r.topk_group);
  route.sigmoid = r.scoring == RouterScoring::sigmoid;
  route.norm_topk_prob = r.norm_topk_prob;
  route.routed_scaling_factor = static_cast<float>(r.routed_scaling_factor);
  k::moe_router_forward(route, stream_);

  const int64_t capacity = permuted_capacity(tokens, top_k, experts, tile);
  k::MoePermuteParams perm{};
  perm.counts = s_->counts.ensure(size_t(experts));
  perm.offsets = s_->offsets.ensure(size_t(experts + 1));
  perm.row_of_slot = s_->row_of_slot.ensure(size_t(tokens * top_k));
  perm.slot_of_row = s_->slot_of_row.ensure(size_t(capacity));
  perm.workspace = s_->permute_workspace.ensure(k::moe_permute_workspace_bytes(tokens * top_k, int32_t(experts)));
  perm.expert_ids = route.expert_ids;
  perm.tokens = tokens;
  perm.top_k = int32_t(top_k);
  perm.num_experts = int32_t(experts);
  perm.tile = tile;
  perm.capacity = capacity;
  k::moe_permute_forward(perm, stream_);

  k::ExpertGemmParams gemm{};
  gemm.offsets = perm.offsets;
  gemm.slot_of_row = perm.slot_of_row;
  gemm.capacity = capacity;
  gemm.tokens = tokens;
  gemm.top_k = int32_t(top_k);
  gemm.num_experts = int32_t(experts);
  gemm.tile = tile;
  k::ExpertGemmParams up = gemm;  // gate/up with SwiGLU: x through the permutation -> h
  up.out = s_->b.ensure(size_t(capacity * c.expert_intermediate_size));
  up.a = x;
  up.w = layer.w_gate.f32.empty() ? nullptr : layer.w_gate.f32.get();
  up.w_up = layer.w_up.f32.empty() ? nullptr : layer.w_up.f32.get();
  up.w_bf16 = layer.w_gate.bf16.empty() ? nullptr : layer.w_gate.bf16.get();
  up.w_up_bf16 = layer.w_up.bf16.empty() ? nullptr : layer.w_up.bf16.get();
  up.n = int32_t(c.expert_intermediate_size);
  up.k = int32_t(hidden);
  k::expert_swiglu_forward(up, stream_);
  k::ExpertGemmParams down = gemm;  // h -> y, row by row
  down.out = s_->v.ensure(size_t(capacity * hidden));
  down.a = up.out;
  down.w = layer.w_down.f32.empty() ? nullptr : layer.w_down.f32.get();
  down.w_up = nullptr;
  down.w_bf16 = layer.w_down.bf16.empty() ? nullptr : layer.w_down.bf16.get();
  down.w_up_bf16 = nullptr;
  down.n = int32_t(hidden);
  down.k = int32_t(c.expert_intermediate_size);
  k::expert_down_forward(down, stream_);
  const k::RmsNormMoeResidual routed{down.out, route.weights, perm.row_of_slot, capacity, int32_t(top_k)};
  if (!layer.has_shared) return routed;  // combined by the next norm, never stored (residual_norm)
  k::moe_combine_forward({out, routed.expert_out, routed.weights, routed.row_of_slot, tokens, capacity, routed.top_k,
                          int32_t(hidden)},
                         stream_);
  // The shared expert, added after the routed experts, as transformers.
  float* shared = s_->attn.ensure(size_t(tokens * hidden));
  mlp(layer.shared, x, normed_bf16(), tokens, shared);
  if (layer.shared_gate.out > 0) {  // Qwen2-MoE: sigmoid(x . w) per token
    float* gate = s_->k.ensure(size_t(tokens));
    linear(layer.shared_gate, x, tokens, gate, normed_bf16());
    k::sigmoid_scale_rows_forward(shared, gate, tokens, hidden, stream_);
  }
  k::add_forward(out, shared, tokens * hidden, stream_);
  return std::nullopt;
}

std::vector<const void*> CudaRunner::Scratch::addresses() const {
  return {inputs.get(),      expert_ids.get(), counts.get(),    offsets.get(),   row_of_slot.get(),
          slot_of_row.get(), sampled.get(),    x.get(),         normed.get(),    out.get(),
          q.get(),           k.get(),          v.get(),         attn.get(),      a.get(),
          b.get(),           c.get(),          d.get(),         router_weights.get(), logits.get(),
          logprobs.get(),    decode_workspace.get(), permute_workspace.get(), x_bf16.get(), q_bf16.get(),
          normed_bf16.get(), h_bf16.get(), attn_bf16.get(), drawn_bf16.get()};
}

void CudaRunner::validate(const StepInputs& in) const {
  const auto& c = config();
  const int64_t n = int64_t(in.tokens.size()), pool_rows = num_blocks_ * block_tokens_;
  R1_ASSERT(int64_t(in.positions.size()) == n && int64_t(in.slots.size()) == n, "CudaRunner: ", n, " tokens but ",
            in.positions.size(), " positions and ", in.slots.size(), " slots");
  R1_ASSERT(int64_t(in.block_tables.size()) == int64_t(in.sequences.size()) * in.max_blocks,
            "CudaRunner: block tables of ", in.block_tables.size(), " entries for ", in.sequences.size(), " x ",
            in.max_blocks);
  for (int64_t t = 0; t < n; ++t) {
    R1_ASSERT(in.tokens[size_t(t)] >= 0 && in.tokens[size_t(t)] < c.vocab_size, "CudaRunner: token id ",
              in.tokens[size_t(t)], " outside the vocabulary");
    R1_ASSERT(in.positions[size_t(t)] >= 0 && in.positions[size_t(t)] < c.max_position, "CudaRunner: position ",
              in.positions[size_t(t)], " outside [0, ", c.max_position, ")");
    R1_ASSERT(in.slots[size_t(t)] >= 0 && in.slots[size_t(t)] < pool_rows, "CudaRunner: slot ", in.slots[size_t(t)],
              " outside the pool of ", pool_rows);
  }
  for (const auto& seq : in.sequences)
    R1_ASSERT(seq.begin >= 0 && seq.length >= 1 && seq.begin + seq.length <= n && seq.table >= 0 &&
                  seq.table < int64_t(in.sequences.size()) && seq.context >= seq.length &&
                  seq.context <= in.max_blocks * block_tokens_,
              "CudaRunner: a sequence entry outside the step or its block table (begin ", seq.begin, ", length ",
              seq.length, ", context ", seq.context, ")");
  for (const auto& draw : in.draws) {
    R1_ASSERT(draw.token >= 0 && draw.token < n, "CudaRunner: draw of token ", draw.token, " of ", n);
    validate_sampling_params(draw.params);
  }
}

void CudaRunner::upload_inputs(const std::vector<int32_t>& tokens, const std::vector<int32_t>& positions,
                               const std::vector<int64_t>& slots, const std::vector<int32_t>& query_seqs,
                               const std::vector<int32_t>& block_tables, const std::vector<int32_t>& draw_rows,
                               const std::vector<FusedSamplingParams>& params, const std::vector<int32_t>& context_lens) {
  // The layout: every array 16-byte aligned, the block tables last (see Scratch).
  struct Part {
    const void* host;
    size_t bytes;
    size_t offset = 0;
  };
  Part parts[] = {
      {tokens.data(), tokens.size() * sizeof(int32_t)},
      {positions.data(), positions.size() * sizeof(int32_t)},
      {slots.data(), slots.size() * sizeof(int64_t)},
      {query_seqs.data(), query_seqs.size() * sizeof(int32_t)},
      {draw_rows.data(), draw_rows.size() * sizeof(int32_t)},
      {params.data(), params.size() * sizeof(FusedSamplingParams)},
      {context_lens.data(), context_lens.size() * sizeof(int32_t)},
      {block_tables.data(), block_tables.size() * sizeof(int32_t)},
  };
  size_t total = 0;
  for (auto& part : parts) {
    part.offset = aligned(total);
    total = part.offset + part.bytes;
  }
  // A step ends synchronised (fetch_outputs), so the staging is free; one that threw midway may
  // have left its copy in flight: wait for it before the staging is rewritten or reallocated.
  if (staging_in_flight_) R1_CUDA_CHECK(cudaStreamSynchronize(stream_));
  staging_in_flight_ = false;
  char* host = staging_in_.ensure(total);
  char* device = s_->inputs.ensure(total);
  for (const auto& part : parts)
    if (part.bytes > 0) std::memcpy(host + part.offset, part.host, part.bytes);
  auto at = [&](int i) { return device + parts[i].offset; };
  s_->tokens = reinterpret_cast<int32_t*>(at(0));
  s_->positions = reinterpret_cast<int32_t*>(at(1));
  s_->slots = reinterpret_cast<int64_t*>(at(2));
  s_->query_seqs = reinterpret_cast<int32_t*>(at(3));
  s_->draw_rows = reinterpret_cast<int32_t*>(at(4));
  s_->params = reinterpret_cast<FusedSamplingParams*>(at(5));
  s_->context_lens = reinterpret_cast<int32_t*>(at(6));
  s_->block_tables = reinterpret_cast<int32_t*>(at(7));
  if (total > 0) R1_CUDA_CHECK(cudaMemcpyAsync(device, host, total, cudaMemcpyHostToDevice, stream_));
  staging_in_flight_ = total > 0;
}

void CudaRunner::device_step(const StepShape& shape) {
  const auto& c = config();
  const int64_t n = shape.tokens, hidden = c.hidden_size, top_k = c.is_moe() ? c.num_experts_per_token : 0;
  float* x = s_->x.ensure(size_t(n * hidden));
  float* out = s_->out.ensure(size_t(n * hidden));
  int32_t* expert_ids = s_->expert_ids.ensure(size_t(std::max<int64_t>(1, c.num_moe_layers() * n * top_k)));
  if (embed_.bf16.empty()) k::gather_rows_forward(x, embed_.f32.get(), s_->tokens, n, hidden, c.vocab_size, stream_);
  else k::gather_rows_forward(x, embed_.bf16.get(), s_->tokens, n, hidden, c.vocab_size, stream_);
  // The residual stream x: each layer's attention and feed-forward outputs land in `out`, and are
  // added to x by the norm that follows them (residual_norm), the last by the final norm.
  // A MoE feed-forward without a shared expert leaves its combine to that norm (`routed`).
  int64_t moe_layer = 0;
  std::optional<k::RmsNormMoeResidual> routed;
  for (int64_t l = 0; l < int64_t(layers_.size()); ++l) {
    const Layer& layer = layers_[size_t(l)];
    residual_norm(x, l == 0 ? nullptr : out, layer.input_norm, n, routed);
    if (c.is_mla()) mla_attention(l, shape, out);
    else gqa_attention(l, shape, out);
    residual_norm(x, out, layer.post_norm, n);
    routed = feed_forward(layer, n, layer.moe ? expert_ids + (moe_layer++) * n * top_k : nullptr, out);
  }
  residual_norm(x, layers_.empty() ? nullptr : out, final_norm_, n, routed);  // the final hidden states: s_->normed
  if (shape.draws == 0) return;
  float* logits = s_->logits.ensure(size_t(shape.draws * c.vocab_size));
  if (bf16_gemm_inputs()) {  // the output GEMM reads the drawn rows' bf16 copies only
    uint16_t* drawn = s_->drawn_bf16.ensure(size_t(shape.draws * hidden));
    k::gather_rows_forward(drawn, s_->normed_bf16.get(), s_->draw_rows, shape.draws, hidden, n, stream_);
    linear(lm_head_, nullptr, shape.draws, logits, drawn);
  } else {
    float* drawn = s_->a.ensure(size_t(shape.draws * hidden));
    k::gather_rows_forward(drawn, s_->normed.get(), s_->draw_rows, shape.draws, hidden, n, stream_);
    linear(lm_head_, drawn, shape.draws, logits);
  }
  k::FusedSamplingKernelParams sample{};
  sample.tokens = s_->sampled.ensure(size_t(shape.draws));
  sample.logprobs = s_->logprobs.ensure(size_t(shape.draws));
  sample.logits = logits;
  sample.params = s_->params;
  sample.seqs = shape.draws;
  sample.vocab = c.vocab_size;
  k::fused_sampling_forward(sample, stream_);
}

StepOutputs CudaRunner::fetch_outputs(const StepShape& shape, int64_t tokens, int64_t draws, bool record_experts) {
  const auto& c = config();
  const int64_t layers = c.num_moe_layers(), top_k = c.num_experts_per_token;
  const bool experts = record_experts && layers > 0;
  const size_t sample_bytes = size_t(draws) * sizeof(int32_t), logprob_bytes = size_t(draws) * sizeof(float);
  const size_t expert_bytes = experts ? size_t(layers * shape.tokens * top_k) * sizeof(int32_t) : 0;
  char* host = staging_out_.ensure(sample_bytes + logprob_bytes + expert_bytes);
  auto copy_back = [&](char* dst, const void* src, size_t bytes) {
    if (bytes > 0) R1_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  };
  copy_back(host, s_->sampled.get(), sample_bytes);
  copy_back(host + sample_bytes, s_->logprobs.get(), logprob_bytes);
  copy_back(host + sample_bytes + logprob_bytes, s_->expert_ids.get(), expert_bytes);
  R1_CUDA_CHECK(cudaStreamSynchronize(stream_));
  staging_in_flight_ = false;

  StepOutputs outputs;
  const auto* ids = reinterpret_cast<const int32_t*>(host);
  const auto* logprobs = reinterpret_cast<const float*>(host + sample_bytes);
  for (int64_t i = 0; i < draws; ++i) outputs.samples.push_back({ids[i], logprobs[i]});
  if (experts) {  // [layers][shape.tokens][top_k] on the device -> [tokens][layers][top_k]
    const auto* all = reinterpret_cast<const int32_t*>(host + sample_bytes + logprob_bytes);
    outputs.routed_experts.reserve(size_t(tokens * layers * top_k));
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t m = 0; m < layers; ++m) {
        const int32_t* first = all + (m * shape.tokens + t) * top_k;
        outputs.routed_experts.insert(outputs.routed_experts.end(), first, first + top_k);
      }
  }
  return outputs;
}

bool CudaRunner::try_graph_step(const StepInputs& in) {
  const int64_t n = int64_t(in.tokens.size());
  if (!options_.cuda_graphs || options_.graph_batches.empty() || n > options_.graph_batches.back()) return false;
  if (int64_t(in.sequences.size()) != n || int64_t(in.draws.size()) != n) return false;
  for (int64_t i = 0; i < n; ++i) {
    const auto& seq = in.sequences[size_t(i)];
    if (seq.begin != i || seq.length != 1 || seq.table != i || in.draws[size_t(i)].token != i) return false;
  }
  const int64_t batch = *std::lower_bound(options_.graph_batches.begin(), options_.graph_batches.end(), n);
  // The context bucket: the longest context rounded up to a power of two (256 at least), within
  // what the pool and the model allow. It fixes the tables' width and decode attention's splits.
  int64_t longest = 1;
  for (const auto& seq : in.sequences) longest = std::max(longest, seq.context);
  int64_t bucket = 256;
  while (bucket < longest) bucket *= 2;
  const int64_t widest = std::min<int64_t>(num_blocks_, (config().max_position + block_tokens_ - 1) / block_tokens_);
  const int64_t max_blocks = std::min<int64_t>(widest, (bucket + block_tokens_ - 1) / block_tokens_);
  if (in.max_blocks > max_blocks) return false;
  const StepShape shape{batch, batch, max_blocks, batch, max_blocks * block_tokens_};
  const std::pair<int64_t, int64_t> key{batch, max_blocks};

  // Padding (see the header): queries on position 0 of sequence 0, slot -1, draw 0's parameters.
  std::vector<int32_t> tokens(in.tokens), positions(in.positions);
  std::vector<int32_t> query_seqs(static_cast<size_t>(batch)), rows(static_cast<size_t>(batch));
  std::vector<int64_t> slots(in.slots);
  std::vector<FusedSamplingParams> params;
  for (const auto& draw : in.draws) params.push_back(draw.params);
  tokens.resize(size_t(batch), in.tokens[0]);
  positions.resize(size_t(batch), 0);
  slots.resize(size_t(batch), -1);
  params.resize(size_t(batch), in.draws[0].params);
  for (int64_t i = 0; i < batch; ++i) {
    query_seqs[size_t(i)] = int32_t(i < n ? i : 0);
    rows[size_t(i)] = int32_t(i);
  }
  std::vector<int32_t> tables(size_t(batch * max_blocks), -1), context_lens(size_t(batch), 1);
  for (int64_t i = 0; i < batch; ++i)  // padded rows: sequence 0's table (they read its position 0)
    std::copy_n(in.block_tables.begin() + (i < n ? i : 0) * in.max_blocks, in.max_blocks, tables.begin() + i * max_blocks);
  for (int64_t i = 0; i < n; ++i) context_lens[size_t(i)] = int32_t(in.sequences[size_t(i)].context);

  if (graph_failed_.count(key) != 0) return false;
  Scratch& scratch = graph_scratch_[batch];
  s_ = &scratch;
  try {
    const auto before = scratch.addresses();
    upload_inputs(tokens, positions, slots, query_seqs, tables, rows, params, context_lens);
    auto graph = graphs_.find(key);
    if (graph == graphs_.end() || scratch.addresses() != before) {
      device_step(shape);  // eager, on the shared buffers: sizes them all, so the capture allocates nothing
      if (scratch.addresses() != before)  // grown: this size's graphs point at freed buffers
        for (auto it = graphs_.begin(); it != graphs_.end();) it = it->first.first == batch ? graphs_.erase(it) : std::next(it);
      cudaGraph_t captured = nullptr;
      R1_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      try {
        device_step(shape);
      } catch (...) {
        cudaStreamEndCapture(stream_, &captured);
        if (captured) cudaGraphDestroy(captured);
        throw;
      }
      R1_CUDA_CHECK(cudaStreamEndCapture(stream_, &captured));
      size_t nodes = 0;
      if (cudaGraphGetNodes(captured, nullptr, &nodes) == cudaSuccess) last_graph_nodes_ = int64_t(nodes);
      cudaGraphExec_t exec = nullptr;
      const cudaError_t made = cudaGraphInstantiate(&exec, captured, 0);
      cudaGraphDestroy(captured);
      R1_CUDA_CHECK(made);
      graph = graphs_.insert_or_assign(key, GraphExec(exec)).first;
      ++graph_captures_;
    }
    R1_CUDA_CHECK(cudaGraphLaunch(graph->second.get(), stream_));
    ++graph_launches_;
  } catch (const std::exception&) {
    // No graph for this key from now on; the step runs eagerly (its K/V writes are idempotent).
    // Let what was queued finish first: its input copy still reads the pinned staging, which the
    // eager step refills.
    cudaStreamSynchronize(stream_);
    cudaGetLastError();
    staging_in_flight_ = false;
    s_ = &eager_;
    graphs_.erase(key);
    graph_failed_.insert(key);
    ++graph_fallbacks_;
    return false;
  }
  return true;
}

StepOutputs CudaRunner::step(const StepInputs& in) {
  R1_ASSERT(!k_pool_.empty(), "CudaRunner::step before allocate_cache");
  validate(in);
  const int64_t n = int64_t(in.tokens.size()), draws = int64_t(in.draws.size());
  if (n == 0) return {};
  // Whatever happens below, the next step starts on the eager buffers.
  struct BackToEager {
    CudaRunner* runner;
    ~BackToEager() { runner->s_ = &runner->eager_; }
  } back_to_eager{this};
  if (try_graph_step(in)) {
    const int64_t batch = *std::lower_bound(options_.graph_batches.begin(), options_.graph_batches.end(), n);
    auto outputs = fetch_outputs({batch, batch, 0, batch, 0}, n, draws, in.record_experts);
    outputs.samples.resize(size_t(draws));
    return outputs;
  }
  s_ = &eager_;
  std::vector<int32_t> query_seqs(size_t(n), -1), rows;
  for (const auto& seq : in.sequences)
    for (int64_t t = 0; t < seq.length; ++t) query_seqs[size_t(seq.begin + t)] = int32_t(seq.table);
  std::vector<FusedSamplingParams> params;
  for (const auto& draw : in.draws) {
    rows.push_back(int32_t(draw.token));
    params.push_back(draw.params);
  }
  // A decode step (one token per sequence, in table order) takes split-KV decode attention.
  bool decode = int64_t(in.sequences.size()) == n;
  std::vector<int32_t> context_lens;
  int64_t longest = 0;
  for (int64_t i = 0; decode && i < n; ++i) {
    const auto& seq = in.sequences[size_t(i)];
    decode = seq.begin == i && seq.length == 1 && seq.table == i;
    context_lens.push_back(int32_t(seq.context));
    longest = std::max(longest, seq.context);
  }
  if (!decode) context_lens.clear();
  upload_inputs(in.tokens, in.positions, in.slots, query_seqs, in.block_tables, rows, params, context_lens);
  const StepShape shape{n, int64_t(in.sequences.size()), in.max_blocks, draws, decode ? longest : 0};
  device_step(shape);
  return fetch_outputs(shape, n, draws, in.record_experts);
}

}  // namespace r1::rollout
