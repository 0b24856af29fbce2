// The scalar vocabulary of cld's fused kernels, in C++. The expression emitter
// (compiler/codegen/inline-emitter.ts) and each elementwise op's lowering write expressions
// in a small subset of WGSL: f32()/i32()/u32() casts, select, clamp, max, min, exp, log,
// sqrt, inverseSqrt, tanh, sin, cos, abs, sign, fract, pow, bitcast<f32>(), the gelu_grad
// and pow_signed helpers and the counter-based random numbers. This header gives each the
// WGSL meaning, so the same expression text is valid in both targets.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>

namespace cld {
using f32 = float;
using i32 = int32_t;
using u32 = uint32_t;

template <class T> static inline T select(T f, T t, bool c) { return c ? t : f; }
// WGSL's max/min on floats: a NaN operand propagates here (the reference interpreter's
// Math.max does the same), so --debug-nans still sees it.
static inline float max(float a, float b) { return (a != a || a > b) ? a : b; }
static inline float min(float a, float b) { return (a != a || a < b) ? a : b; }
static inline int32_t max(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t min(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t clamp(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }
static inline float clamp(float x, float lo, float hi) { return min(max(x, lo), hi); }
static inline float exp(float x) { return std::exp(x); }
static inline float log(float x) { return std::log(x); }
static inline float sqrt(float x) { return std::sqrt(x); }
static inline float inverseSqrt(float x) { return 1.0f / std::sqrt(x); }
static inline float tanh(float x) { return std::tanh(x); }
static inline float sin(float x) { return std::sin(x); }
static inline float cos(float x) { return std::cos(x); }
static inline float pow(float x, float y) { return std::pow(x, y); }
static inline float abs(float x) { return std::fabs(x); }
static inline int32_t abs(int32_t x) { return x < 0 ? -x : x; }
static inline float sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }
static inline float fract(float x) { return x - std::floor(x); }
template <class T> static inline T bitcast(uint32_t u) {
  T t;
  std::memcpy(&t, &u, sizeof t);
  return t;
}

static inline float gelu_grad(float x) {
  const float k = 0.7978845608028654f;
  const float u = k * (x + 0.044715f * x * x * x);
  const float t = std::tanh(u);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x * x);
}
// pow for negative bases with whole-number exponents follows IEEE pow (WGSL's is undefined).
static inline float pow_signed(float x, float y) {
  if (x >= 0.0f) return std::pow(x, y);
  const float r = std::pow(-x, y);
  return fract(y * 0.5f) != 0.0f ? -r : r;
}

// Counter-based random numbers, bit-identical to the WGSL ones (compiler/ops/source.ts).
static inline uint32_t hash_u32(uint32_t x) {
  const uint32_t s = x * 747796405u + 2891336453u;
  const uint32_t w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
static inline float rand_at(uint32_t seed, uint32_t stream, uint32_t i) {
  const uint32_t k = hash_u32(seed ^ hash_u32(stream * 2654435761u + 0x9e3779b9u));
  return float(hash_u32(k ^ hash_u32(2u * i)) >> 8u) / 16777216.0f;
}
static inline float randn_at(uint32_t seed, uint32_t stream, uint32_t i) {
  const uint32_t k = hash_u32(seed ^ hash_u32(stream * 2654435761u + 0x9e3779b9u));
  const uint32_t a = hash_u32(k ^ hash_u32(2u * i));
  const uint32_t b = hash_u32(k ^ hash_u32(2u * i + 1u));
  const float u1 = (float(a >> 8u) + 1.0f) / 16777217.0f;
  const float u2 = float(b >> 8u) / 16777216.0f;
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.283185307179586f * u2);
}
}  // namespace cld
