// The fused sampling reference (rollout/fused_sampling.h) and its Philox generator
// (rollout/philox.h): Random123's known-answer vectors, the uniform's conversion, greedy and
// top_k = 1 as argmax, the bisection's kept sets against a full-sort reference (ties included),
// the empirical distribution of 20000 draws, determinism in (seed, step), the logprob against a
// double log-softmax, and the errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <set>
#include <stdexcept>
#include <vector>

#include "rollout/fused_sampling.h"
#include "rollout/philox.h"
#include "tests/random_values.h"

using namespace r1::rollout;
using r1::test::uniform_floats;

namespace {

Philox4x32 philox(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  return philox4x32_10(Philox4x32{{c0, c1, c2, c3}}, k0, k1);
}

void check_words(const Philox4x32& got, uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3) {
  CHECK(got.v[0] == w0);
  CHECK(got.v[1] == w1);
  CHECK(got.v[2] == w2);
  CHECK(got.v[3] == w3);
}

// The kept set by sorting the whole row: x_i and weights computed as the reference defines them,
// tokens sorted by x descending, the k-th value's ties kept, then groups of equal x kept while the
// weight strictly above them is below top_p of the top-k total.
std::vector<uint8_t> kept_by_sort(const float* logits, int64_t vocab, const FusedSamplingParams& p) {
  const float m = *std::max_element(logits, logits + vocab);
  std::vector<float> x(vocab);
  std::vector<uint64_t> w(vocab);
  for (int64_t i = 0; i < vocab; ++i) {
    x[i] = (logits[i] - m) / p.temperature;
    w[i] = sampling_weight(x[i]);
  }
  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return x[a] > x[b]; });
  std::vector<uint8_t> kept(vocab, 1);
  if (p.top_k > 0 && p.top_k < vocab) {
    const float kth = x[order[p.top_k - 1]];
    for (int64_t i = 0; i < vocab; ++i) kept[i] = x[i] >= kth;
  }
  if (p.top_p < 1.0f) {
    uint64_t total = 0;
    for (int64_t i = 0; i < vocab; ++i) total += kept[i] ? w[i] : 0;
    const double limit = double(p.top_p) * double(total);
    uint64_t above = 0;
    for (int64_t at = 0; at < vocab;) {
      int64_t end = at;
      uint64_t group = 0;
      while (end < vocab && x[order[end]] == x[order[at]]) group += kept[order[end]] ? w[order[end++]] : (end++, 0);
      const bool keep = double(above) < limit;
      for (int64_t j = at; j < end; ++j) kept[order[j]] = kept[order[j]] && keep;
      above += group;
      at = end;
    }
  }
  return kept;
}

int64_t argmax(const float* row, int64_t vocab) {
  return std::max_element(row, row + vocab) - row;  // first of the maxima
}

}  // namespace

TEST_CASE("philox4x32-10 matches Random123's known-answer vectors") {
  check_words(philox(0, 0, 0, 0, 0, 0), 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u);
  check_words(philox(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu), 0x408f276du,
              0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu);
  check_words(philox(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u), 0xd16cfe09u,
              0x94fdccebu, 0x5001e420u, 0x24126ea1u);
  // The seed / offset / subsequence layout.
  const auto block = philox_block(0x299f31d0a4093822ull, 0x85a308d3243f6a88ull, 0x0370734413198a2eull);
  check_words(block, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u);
}

TEST_CASE("philox_uniform maps a word into (0, 1] as cuRAND does") {
  CHECK(philox_uniform(0) == 0x1p-33f);
  CHECK(philox_uniform(0xffffffffu) == 1.0f);
  CHECK(philox_uniform(0x80000000u) == 0.5f + 0x1p-33f);
  for (uint32_t x : {1u, 12345u, 0x7fffffffu, 0xfffffe00u}) {
    const float u = philox_uniform(x);
    CHECK(u > 0.0f);
    CHECK(u <= 1.0f);
    CHECK(std::abs(double(u) - (double(x) + 0.5) / 4294967296.0) < 1e-7);
  }
}

TEST_CASE("sampling_exp is exp to within a few ulp, and 0 below -28") {
  double worst = 0.0;
  for (int i = 0; i <= 280000; ++i) {
    const float x = -float(i) * 1e-4f;
    const double want = std::exp(double(x));
    worst = std::max(worst, std::abs(double(sampling_exp(x)) - want) / want);
  }
  CHECK(worst < 5e-7);
  CHECK(sampling_exp(0.0f) == 1.0f);
  CHECK(sampling_exp(-28.5f) == 0.0f);
  CHECK(sampling_exp(-INFINITY) == 0.0f);
  CHECK(sampling_weight(0.0f) == (uint64_t{1} << 40));
  // The exact bits are the definition a kernel reproduces: pinned (FNV-1a over the weights of a
  // grid), so that a change of polynomial, constants or rounding (an FMA contraction) shows here.
  uint64_t hash = 1469598103934665603ull;
  for (int i = 0; i <= 300000; ++i) hash = (hash ^ sampling_weight(-float(i) * 1e-4f)) * 1099511628211ull;
  CHECK(hash == 3239855330861272089ull);
  CHECK(sampling_exp(-1.0f) == 0x1.78b564p-2f);
  // Keys order as the floats.
  const std::vector<float> sorted = {-INFINITY, -3.5f, -1e-30f, -0.0f, 0.0f, 1e-30f, 2.0f, INFINITY};
  for (size_t i = 1; i < sorted.size(); ++i) CHECK(sampling_key(sorted[i - 1]) < sampling_key(sorted[i]));
}

TEST_CASE("greedy is the argmax, lowest id on ties, with no randomness") {
  const int64_t seqs = 16, vocab = 300;
  auto logits = uniform_floats(seqs * vocab, -5.0f, 5.0f, 11);
  for (int64_t s = 0; s < seqs; s += 2) {  // ties at the max in every other row
    float* row = logits.data() + s * vocab;
    const float m = *std::max_element(row, row + vocab);
    row[17 + s] = m;
    row[200] = m;
  }
  std::vector<FusedSamplingParams> params(seqs);
  for (int64_t s = 0; s < seqs; ++s) params[s] = {0.0f, int32_t(s % 3), s % 2 ? 0.5f : 1.0f, uint64_t(s), uint64_t(s * 7)};
  const auto out = sample_reference(logits, seqs, vocab, params);
  for (int64_t s = 0; s < seqs; ++s) CHECK(out[s].token == argmax(logits.data() + s * vocab, vocab));
}

TEST_CASE("top_k = 1 is the argmax at any temperature and draw") {
  const int64_t seqs = 8, vocab = 1000;
  const auto logits = uniform_floats(seqs * vocab, -3.0f, 3.0f, 5);
  for (uint64_t step = 0; step < 50; ++step) {
    std::vector<FusedSamplingParams> params(seqs);
    for (int64_t s = 0; s < seqs; ++s) params[s] = {0.3f + 0.5f * s, 1, s % 2 ? 0.9f : 1.0f, 1000 + uint64_t(s), step};
    const auto out = sample_reference(logits, seqs, vocab, params);
    for (int64_t s = 0; s < seqs; ++s) CHECK(out[s].token == argmax(logits.data() + s * vocab, vocab));
  }
}

TEST_CASE("the bisection's kept set is the full-sort reference's, ties included") {
  const int64_t vocab = 500;
  int kept_partial = 0;
  for (uint32_t seed = 0; seed < 120; ++seed) {
    auto row = uniform_floats(vocab, -6.0f, 6.0f, 100 + seed);
    if (seed % 2 == 0)  // coarse values: many exact ties, at the thresholds too
      for (auto& v : row) v = std::round(v * 2.0f) / 2.0f;
    const float temps[] = {0.25f, 0.7f, 1.0f, 1.6f};
    const int32_t ks[] = {0, 1, 2, 7, 50, 499, 500, 600};
    const float ps[] = {1.0f, 0.999f, 0.9f, 0.5f, 0.1f, 1e-6f};
    const FusedSamplingParams p{temps[seed % 4], ks[seed % 8], ps[(seed / 8) % 6], seed, 0};
    CAPTURE(seed);
    const auto got = kept_tokens_reference(row.data(), vocab, p);
    const auto want = kept_by_sort(row.data(), vocab, p);
    CHECK(got == want);
    const int64_t kept = std::count(got.begin(), got.end(), 1);
    CHECK(kept >= 1);
    CHECK(got[argmax(row.data(), vocab)] == 1);
    if (p.top_k > 0 && p.top_p == 1.0f) CHECK(kept >= std::min<int64_t>(p.top_k, vocab));
    kept_partial += kept < vocab;
  }
  CHECK(kept_partial > 60);  // the cases really cut
}

TEST_CASE("20000 draws follow the renormalised kept distribution") {
  const int64_t vocab = 12;
  const std::vector<float> row = {0.5f, 2.0f, -1.0f, 1.5f, 1.5f, 0.0f, 3.0f, -2.0f, 1.0f, 2.5f, 0.2f, -0.5f};
  const FusedSamplingParams cases[] = {{1.0f, 0, 1.0f, 42, 0}, {0.8f, 6, 1.0f, 43, 0}, {1.3f, 0, 0.8f, 44, 0},
                                       {0.9f, 8, 0.9f, 45, 0}};
  for (const auto& base : cases) {
    const auto kept = kept_tokens_reference(row.data(), vocab, base);
    std::vector<double> expected(vocab, 0.0);
    double total = 0.0;
    for (int64_t i = 0; i < vocab; ++i)
      if (kept[i]) total += expected[i] = std::exp(double(row[i]) / base.temperature);
    const int draws = 20000;
    std::vector<FusedSamplingParams> params(draws, base);
    std::vector<float> logits;
    for (int d = 0; d < draws; ++d) {
      params[d].step = uint64_t(d);
      logits.insert(logits.end(), row.begin(), row.end());
    }
    const auto out = sample_reference(logits, draws, vocab, params);
    std::vector<double> freq(vocab, 0.0);
    for (const auto& o : out) freq[o.token] += 1.0 / draws;
    double worst = 0.0;
    for (int64_t i = 0; i < vocab; ++i) {
      if (!kept[i]) CHECK(freq[i] == 0.0);
      worst = std::max(worst, std::abs(freq[i] - expected[i] / total));
    }
    CAPTURE(base.top_k);
    CAPTURE(base.top_p);
    CHECK(worst < 0.01);
  }
}

TEST_CASE("a draw is a function of (seed, step): repeatable, and varying with either") {
  const int64_t vocab = 8;
  const std::vector<float> row(vocab, 0.0f);  // uniform: every token equally likely
  auto draw = [&](uint64_t seed, uint64_t step) {
    return sample_reference(row, 1, vocab, {FusedSamplingParams{1.0f, 0, 1.0f, seed, step}})[0].token;
  };
  std::vector<int> by_step(vocab, 0), by_seed(vocab, 0);
  for (uint64_t i = 0; i < 800; ++i) {
    CHECK(draw(7, i) == draw(7, i));
    ++by_step[draw(7, i)];
    ++by_seed[draw(i, 3)];
  }
  for (int64_t t = 0; t < vocab; ++t) {  // each ~100 of 800
    CHECK(by_step[t] > 50);
    CHECK(by_seed[t] > 50);
  }
  // Two sequences of one batch with the same (seed, step) draw the same; the batch does not matter.
  std::vector<float> two(row);
  two.insert(two.end(), row.begin(), row.end());
  const auto pair = sample_reference(two, 2, vocab, {FusedSamplingParams{1.0f, 0, 1.0f, 9, 4},
                                                      FusedSamplingParams{1.0f, 0, 1.0f, 9, 4}});
  CHECK(pair[0].token == pair[1].token);
  CHECK(pair[0].token == draw(9, 4));
}

TEST_CASE("logprob is the raw log-softmax at the token, whatever the sampling settings") {
  const int64_t seqs = 12, vocab = 5000;
  const auto logits = uniform_floats(seqs * vocab, -10.0f, 10.0f, 77);
  std::vector<FusedSamplingParams> params(seqs);
  for (int64_t s = 0; s < seqs; ++s)
    params[s] = {s % 4 == 0 ? 0.0f : 0.5f * float(s), int32_t(s % 3 * 20), s % 2 ? 0.7f : 1.0f, uint64_t(s), 3};
  const auto out = sample_reference(logits, seqs, vocab, params);
  for (int64_t s = 0; s < seqs; ++s) {
    const float* row = logits.data() + s * vocab;
    const double m = *std::max_element(row, row + vocab);
    double sum = 0.0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(row[i]) - m);
    const double want = double(row[out[s].token]) - m - std::log(sum);
    CHECK(std::abs(double(out[s].logprob) - want) < 1e-5);
  }
}

TEST_CASE("bad parameters and sizes throw naming the field") {
  const std::vector<float> logits(6, 0.0f);
  auto run = [&](FusedSamplingParams p) { sample_reference(logits, 2, 3, {p, FusedSamplingParams{}}); };
  CHECK_THROWS_WITH_AS(run({-1.0f, 0, 1.0f, 0, 0}), doctest::Contains("temperature"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(run({INFINITY, 0, 1.0f, 0, 0}), doctest::Contains("temperature"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(run({NAN, 0, 1.0f, 0, 0}), doctest::Contains("temperature"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(run({1.0f, -1, 1.0f, 0, 0}), doctest::Contains("top_k"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(run({1.0f, 0, 0.0f, 0, 0}), doctest::Contains("top_p"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(run({1.0f, 0, 1.5f, 0, 0}), doctest::Contains("top_p"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(run({1.0f, 0, NAN, 0, 0}), doctest::Contains("top_p"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(sample_reference(logits, 2, 4, {{}, {}}), doctest::Contains("logits"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(sample_reference(logits, 2, 3, {{}}), doctest::Contains("params"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(sample_reference({}, 0, 0, {}), doctest::Contains("vocab"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(sample_reference(logits, -1, 3, {}), doctest::Contains("seqs"), std::invalid_argument);
  CHECK(sample_reference({}, 0, 3, {}).empty());
}
