// The fused sampling reference (rollout/fused_sampling.h).
#include "rollout/fused_sampling.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace r1::rollout {

namespace {

[[noreturn]] void fail(const std::string& field, const std::string& message) {
  throw std::invalid_argument(field + ": " + message);
}

float row_max(const float* logits, int64_t vocab) {
  float m = logits[0];
  for (int64_t i = 1; i < vocab; ++i) m = std::max(m, logits[i]);
  return m;
}

// Keys and weights of a row at temperature params.temperature > 0, and its kept set.
struct RowState {
  std::vector<uint32_t> keys;
  std::vector<uint64_t> weights;
  std::vector<uint8_t> kept;
};

RowState analyse(const float* logits, int64_t vocab, const FusedSamplingParams& params) {
  RowState row;
  row.keys.resize(vocab);
  row.weights.resize(vocab);
  const float m = row_max(logits, vocab);
  for (int64_t i = 0; i < vocab; ++i) {
    const float x = sampling_div(sampling_add(logits[i], -m), params.temperature);
    row.keys[i] = sampling_key(x);
    row.weights[i] = sampling_weight(x);
  }
  // Top-k: the largest t with count(key >= t) >= k, 32 passes over [0, 2^32).
  uint32_t t_k = 0;
  if (params.top_k > 0 && params.top_k < vocab) {
    uint64_t lo = 0, hi = uint64_t{1} << 32;  // count(key >= lo) >= k; count(key >= hi) < k
    for (int pass = 0; pass < 32; ++pass) {
      const uint64_t mid = lo + (hi - lo) / 2;
      int64_t count = 0;
      for (int64_t i = 0; i < vocab; ++i) count += row.keys[i] >= mid;
      (count >= params.top_k ? lo : hi) = mid;
    }
    t_k = static_cast<uint32_t>(lo);
  }
  uint32_t threshold = t_k;
  if (params.top_p < 1.0f) {
    uint64_t total = 0;
    for (int64_t i = 0; i < vocab; ++i) total += row.keys[i] >= t_k ? row.weights[i] : 0;
    const double limit = static_cast<double>(params.top_p) * static_cast<double>(total);
    // pred(t) = double(G(t)) < limit; pred(hi) holds (G(2^32 - 1) = 0), lo is below the range.
    int64_t lo = int64_t{t_k} - 1, hi = int64_t{0xFFFFFFFF};
    for (int pass = 0; pass < 32; ++pass) {
      if (hi - lo <= 1) break;  // converged: a kernel's remaining passes do nothing
      const int64_t mid = lo + (hi - lo) / 2;
      uint64_t above = 0;
      for (int64_t i = 0; i < vocab; ++i)
        above += (row.keys[i] >= t_k && row.keys[i] > static_cast<uint64_t>(mid)) ? row.weights[i] : 0;
      (static_cast<double>(above) < limit ? hi : lo) = mid;
    }
    threshold = static_cast<uint32_t>(hi);
  }
  row.kept.resize(vocab);
  for (int64_t i = 0; i < vocab; ++i) row.kept[i] = row.keys[i] >= threshold;
  return row;
}

}  // namespace

void validate_sampling_params(const FusedSamplingParams& params) {
  if (!std::isfinite(params.temperature) || params.temperature < 0.0f)
    fail("temperature", "must be finite and >= 0, got " + std::to_string(params.temperature));
  if (params.top_k < 0) fail("top_k", "must be >= 0 (0: off), got " + std::to_string(params.top_k));
  if (!(params.top_p > 0.0f && params.top_p <= 1.0f))
    fail("top_p", "must be in (0, 1] (1: off), got " + std::to_string(params.top_p));
}

std::vector<uint8_t> kept_tokens_reference(const float* logits, int64_t vocab, const FusedSamplingParams& params) {
  validate_sampling_params(params);
  if (vocab < 1 || vocab > kFusedSamplingMaxVocab) fail("vocab", "must be in [1, 2^23]");
  if (params.temperature == 0.0f) fail("temperature", "greedy has no kept set");
  return analyse(logits, vocab, params).kept;
}

std::vector<FusedSample> sample_reference(const std::vector<float>& logits, int64_t seqs, int64_t vocab,
                                          const std::vector<FusedSamplingParams>& params) {
  if (seqs < 0) fail("seqs", "must be >= 0, got " + std::to_string(seqs));
  if (vocab < 1 || vocab > kFusedSamplingMaxVocab)
    fail("vocab", "must be in [1, 2^23], got " + std::to_string(vocab));
  if (static_cast<int64_t>(logits.size()) != seqs * vocab)
    fail("logits", "expected seqs * vocab = " + std::to_string(seqs * vocab) + " values, got " +
                       std::to_string(logits.size()));
  if (static_cast<int64_t>(params.size()) != seqs)
    fail("params", "expected one per sequence (" + std::to_string(seqs) + "), got " + std::to_string(params.size()));
  for (const auto& p : params) validate_sampling_params(p);

  std::vector<FusedSample> out(seqs);
  for (int64_t s = 0; s < seqs; ++s) {
    const float* row = logits.data() + s * vocab;
    const FusedSamplingParams& p = params[s];
    const float m = row_max(row, vocab);
    int64_t token = 0;
    if (p.temperature == 0.0f) {
      for (int64_t i = 1; i < vocab; ++i)
        if (row[i] > row[token]) token = i;  // strict: the lowest id wins ties
    } else {
      const RowState state = analyse(row, vocab, p);
      uint64_t kept_total = 0;
      for (int64_t i = 0; i < vocab; ++i) kept_total += state.kept[i] ? state.weights[i] : 0;
      const float u = sampling_uniform(p.seed, p.step);
      const uint64_t r = std::min(static_cast<uint64_t>(static_cast<double>(u) * static_cast<double>(kept_total)),
                                  kept_total - 1);
      uint64_t cumulative = 0;
      for (token = 0; token < vocab; ++token) {
        cumulative += state.kept[token] ? state.weights[token] : 0;
        if (cumulative > r) break;
      }
    }
    float sum = 0.0f;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(row[i] - m);
    out[s].token = static_cast<int32_t>(token);
    out[s].logprob = (row[token] - m) - std::log(sum);
  }
  return out;
}

}  // namespace r1::rollout
