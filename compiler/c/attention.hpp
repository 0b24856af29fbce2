// Fused scaled-dot-product attention on the CPU (the C target's version of
// compiler/kernels/attention.ts), plus the embedding gather. Semantics are the float64
// references in compiler/ops/attention.ts and compiler/ops/gather.ts:
//
//   attention_forward<d>(q, k, v, out)          out [B, T, d] = softmax(scale q kᵀ) v
//   attention_stats<d>(q, k, dO, O, out)        out [B, T, 2] = [logsumexp_j s_ij, dO_i·O_i]
//   attention_grad_q<d>(q, k, v, dO, st, out)   out [B, T, d] = dq
//   attention_grad_kv<d>(q, k, v, dO, st, out)  out [B, S, 2d] = [dk | dv]
//   gather(table [V, D], ids [P], out [P, D])   ids clamped to [0, V - 1]
//
// Schedule: one work item is (batch item, chunk of up to CHUNK own rows): query rows, or
// key rows for grad_kv. It packs the other side once: transposed ([d][S padded]) for the
// scores, so a tile of R own rows computes R × 16 scores per step with broadcast FMAs, and
// row-major with d padded to whole vectors for the weighted sums. Each tile then takes its
// score rows whole (S fits easily: the step's sequences are short), softmaxes them with a
// vectorized exp, and accumulates P·V row by row.
//
// Determinism: every output element is reduced in one fixed order that depends only on
// the shapes (never on the thread count), and each output row is owned by one work item.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace cld {
namespace attn {

// GCC vector extensions, one register wide: zmm with AVX-512, ymm with AVX, else 128 bits
// (SSE, NEON; the compiler lowers them to scalars where there is no SIMD at all).
#if defined(__AVX512F__)
constexpr int VW = 16;
#elif defined(__AVX__)
constexpr int VW = 8;
#else
constexpr int VW = 4;
#endif
typedef float vf __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));

/** Own rows per work item (a multiple of every tile height). */
constexpr int CHUNK = 64;

static inline vf ld(const float* p) {
  vf r;
  std::memcpy(&r, p, sizeof r);
  return r;
}
static inline void st(float* p, vf x) { std::memcpy(p, &x, sizeof x); }
static inline vf splat(float x) {
  vf r;
  for (int i = 0; i < VW; ++i) r[i] = x;
  return r;
}
static inline float hsum(vf x) {
  float s = x[0];
  for (int i = 1; i < VW; ++i) s += x[i];
  return s;
}
/** Lane maximum; a NaN lane makes the result NaN (as the reference's Math.max). */
static inline float hmax(vf x) {
  float m = x[0];
  for (int i = 1; i < VW; ++i) m = (m != m || m > x[i]) ? m : x[i];
  return m;
}
static inline vf vmax(vf a, vf b) { return (a != a) | (a > b) ? a : b; }

/** e^x lane-wise, within ~2 ulp: 2^n · p(r), x = n ln2 + r, |r| <= ln2/2. NaN stays NaN,
 * x > 88 gives inf (only from overflowing inputs) and x < -87 gives 0 (flushed). */
static inline vf vexp(vf x) {
  const vf lo = splat(-87.0f), hi = splat(88.0f);
  vf xc = x < lo ? lo : x;
  xc = xc > hi ? hi : xc;
  const vf magic = splat(12582912.0f);  // 1.5 · 2^23: adding it rounds to an integer
  vf n = (xc * splat(1.44269504088896341f) + magic) - magic;
  n = n == n ? n : splat(0.0f);  // NaN lanes: keep the int conversion defined
  vf r = xc - n * splat(0.693359375f);
  r = r - n * splat(-2.12194440e-4f);
  vf p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  p = p * (r * r) + r + splat(1.0f);
  vi e = (__builtin_convertvector(n, vi) + 127) << 23;  // n in [-126, 127]: a normal 2^n
  vf two;
  std::memcpy(&two, &e, sizeof two);
  vf y = p * two;
  y = x > hi ? splat(__builtin_inff()) : y;
  y = x < lo ? splat(0.0f) : y;
  return y;
}

/** out[r·ldo + j] = Σ_c a[r·D + c] · bt[c·ldb + j] for j in [0, NJ·VW). */
template <int D, int R, int NJ>
static inline void score_block(const float* a, const float* bt, long ldb, float* out, long ldo) {
  vf acc[R][NJ];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < NJ; ++n) acc[r][n] = splat(0.0f);
  for (int c = 0; c < D; ++c) {
    vf b[NJ];
    for (int n = 0; n < NJ; ++n) b[n] = ld(bt + c * ldb + n * VW);
    for (int r = 0; r < R; ++r) {
      const float ar = a[r * D + c];
      for (int n = 0; n < NJ; ++n) acc[r][n] += ar * b[n];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < NJ; ++n) st(out + r * ldo + n * VW, acc[r][n]);
}

/** Scores of R rows against np (a multiple of VW) packed columns. */
template <int D, int R>
static inline void scores(const float* a, const float* bt, long ldb, int np, float* out, long ldo) {
  int j = 0;
  for (; j + 2 * VW <= np; j += 2 * VW) score_block<D, R, 2>(a, bt + j, ldb, out + j, ldo);
  if (j < np) score_block<D, R, 1>(a, bt + j, ldb, out + j, ldo);
}

/** acc[r] = Σ_{j<n} w[r·ldw + j] · x[j·NV·VW ..] (x rows padded to NV vectors). */
template <int NV, int R>
static inline void accum(const float* w, long ldw, const float* x, int n, vf (&acc)[R][NV]) {
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = splat(0.0f);
  for (int j = 0; j < n; ++j) {
    vf xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = ld(x + (long)j * NV * VW + v * VW);
    for (int r = 0; r < R; ++r) {
      const float wr = w[r * ldw + j];
      for (int v = 0; v < NV; ++v) acc[r][v] += wr * xv[v];
    }
  }
}

/** Stores the first D lanes of acc · s to dst. */
template <int D, int NV>
static inline void store_row(float* dst, const vf (&acc)[NV], float s) {
  float tmp[NV * VW];
  for (int v = 0; v < NV; ++v) st(tmp + v * VW, acc[v] * s);
  std::memcpy(dst, tmp, sizeof(float) * D);
}

/** dst[c·ld + j] = src[j·D + c] for j < n, zero for n <= j < np. */
template <int D>
static inline void pack_t(const float* src, int n, int np, float* dst) {
  for (int c = 0; c < D; ++c) {
    float* row = dst + (long)c * np;
    for (int j = 0; j < n; ++j) row[j] = src[(long)j * D + c];
    for (int j = n; j < np; ++j) row[j] = 0.0f;
  }
}

/** dst[j·NV·VW + c] = src[j·D + c], zero-padded past D. */
template <int D, int NV>
static inline void pack_rows(const float* src, int n, float* dst) {
  for (int j = 0; j < n; ++j) {
    float* row = dst + (long)j * NV * VW;
    std::memcpy(row, src + (long)j * D, sizeof(float) * D);
    for (int c = D; c < NV * VW; ++c) row[c] = 0.0f;
  }
}

/** a[r·D + c] = src row min(i0 + r, last) · s (the clamped copy for a partial tile). */
template <int D, int R>
static inline void load_tile(const float* src, int i0, int last, float s, float* a) {
  for (int r = 0; r < R; ++r) {
    const float* row = src + (long)std::min(i0 + r, last) * D;
    for (int c = 0; c < D; ++c) a[r * D + c] = row[c] * s;
  }
}

template <int D>
struct Shape {
  static constexpr int NV = (D + VW - 1) / VW;  // vectors per padded d-row
  static constexpr int DP = NV * VW;
  // Tile height: R·2 score accumulators and R·NV sum accumulators stay in registers.
  static constexpr int R = VW == 16 ? (NV <= 2 ? 8 : 4) : (NV <= 2 ? 4 : 2);
};

static inline int pad(int n) { return (n + VW - 1) / VW * VW; }
static inline long floats(long n) { return (n + VW - 1) / VW; }  // in vectors

/** Runs body(b, r0, r1, scratch) over (batch item, row chunk) work items in parallel. */
template <class F>
static inline void for_chunks(int batch, int rows, long scratch_floats, double work, F body) {
  const int chunks = (rows + CHUNK - 1) / CHUNK;
  const long items = (long)batch * chunks;
#pragma omp parallel if (items > 1 && work > 2e5)
  {
    std::vector<vf> buf(floats(scratch_floats) + 1);
    float* scratch = reinterpret_cast<float*>(buf.data());
#pragma omp for schedule(static)
    for (long it = 0; it < items; ++it) {
      const int b = (int)(it / chunks);
      const int r0 = (int)(it % chunks) * CHUNK;
      body(b, r0, std::min(rows, r0 + CHUNK), scratch);
    }
  }
}

/** Masks padded columns to -inf, then per row: m = max, sc := e^(sc - m), returns Σ. */
static inline float softmax_row(float* sc, int n, int np, float* m_out) {
  for (int j = n; j < np; ++j) sc[j] = -__builtin_inff();
  vf m = ld(sc);
  for (int j = VW; j < np; j += VW) m = vmax(m, ld(sc + j));
  const vf mv = splat(hmax(m));
  vf l = splat(0.0f);
  for (int j = 0; j < np; j += VW) {
    const vf p = vexp(ld(sc + j) - mv);
    st(sc + j, p);
    l += p;
  }
  *m_out = mv[0];
  return hsum(l);
}

}  // namespace attn

/** out [batch, T, D] = softmax(scale · q kᵀ) v; q [batch, T, D], k and v [batch, S, D]. */
template <int D>
static inline void attention_forward(const float* q, const float* k, const float* v, float* out,
                                     int batch, int T, int S, float scale) {
  using namespace attn;
  using Sh = Shape<D>;
  constexpr int NV = Sh::NV, DP = Sh::DP, R = Sh::R;
  const int Sp = pad(S);
  // kt [D][Sp] | vp [S][DP] | sc [R][Sp] | a [R][D]
  const long skt = (long)D * Sp, svp = (long)S * DP, ssc = (long)R * Sp;
  const long scratch = floats(skt) * VW + floats(svp) * VW + floats(ssc) * VW + R * D;
  for_chunks(batch, T, scratch, 4.0 * batch * T * S * D, [&](int b, int i0, int i1, float* w) {
    float* kt = w;
    float* vp = kt + floats(skt) * VW;
    float* sc = vp + floats(svp) * VW;
    float* a = sc + floats(ssc) * VW;
    pack_t<D>(k + (long)b * S * D, S, Sp, kt);
    pack_rows<D, NV>(v + (long)b * S * D, S, vp);
    const float* qb = q + (long)b * T * D;
    for (int t0 = i0; t0 < i1; t0 += R) {
      load_tile<D, R>(qb, t0, i1 - 1, scale, a);
      scores<D, R>(a, kt, Sp, Sp, sc, Sp);
      float inv[R];
      for (int r = 0; r < R; ++r) {
        float m;
        inv[r] = 1.0f / softmax_row(sc + (long)r * Sp, S, Sp, &m);
      }
      vf acc[R][NV];
      accum<NV, R>(sc, Sp, vp, S, acc);
      for (int r = 0; r < R && t0 + r < i1; ++r)
        store_row<D, NV>(out + ((long)b * T + t0 + r) * D, acc[r], inv[r]);
    }
  });
}

/** out [batch, T, 2] = [L_i = logsumexp_j scale q_i·k_j, D_i = dO_i·O_i]. */
template <int D>
static inline void attention_stats(const float* q, const float* k, const float* dO, const float* O,
                                   float* out, int batch, int T, int S, float scale) {
  using namespace attn;
  constexpr int R = Shape<D>::R;
  const int Sp = pad(S);
  const long skt = (long)D * Sp, ssc = (long)R * Sp;
  const long scratch = floats(skt) * VW + floats(ssc) * VW + R * D;
  for_chunks(batch, T, scratch, 2.0 * batch * T * S * D, [&](int b, int i0, int i1, float* w) {
    float* kt = w;
    float* sc = kt + floats(skt) * VW;
    float* a = sc + floats(ssc) * VW;
    pack_t<D>(k + (long)b * S * D, S, Sp, kt);
    const float* qb = q + (long)b * T * D;
    for (int t0 = i0; t0 < i1; t0 += R) {
      load_tile<D, R>(qb, t0, i1 - 1, scale, a);
      scores<D, R>(a, kt, Sp, Sp, sc, Sp);
      for (int r = 0; r < R && t0 + r < i1; ++r) {
        float m;
        const float l = softmax_row(sc + (long)r * Sp, S, Sp, &m);
        const long row = (long)b * T + t0 + r;
        float dot = 0.0f;
        for (int c = 0; c < D; ++c) dot += dO[row * D + c] * O[row * D + c];
        out[2 * row] = m + std::log(l);
        out[2 * row + 1] = dot;
      }
    }
  });
}

/** dq [batch, T, D] = scale Σ_j dS_ij k_j, dS_ij = P_ij (dO_i·v_j − D_i), P_ij = e^(s_ij − L_i). */
template <int D>
static inline void attention_grad_q(const float* q, const float* k, const float* v, const float* dO,
                                    const float* stats, float* out, int batch, int T, int S,
                                    float scale) {
  using namespace attn;
  using Sh = Shape<D>;
  constexpr int NV = Sh::NV, DP = Sh::DP, R = Sh::R;
  const int Sp = pad(S);
  // kt, vt [D][Sp] | kp [S][DP] | sc, dp [R][Sp] | a, g [R][D]
  const long skt = (long)D * Sp, skp = (long)S * DP, ssc = (long)R * Sp;
  const long scratch = 2 * floats(skt) * VW + floats(skp) * VW + 2 * floats(ssc) * VW + 2 * R * D;
  for_chunks(batch, T, scratch, 6.0 * batch * T * S * D, [&](int b, int i0, int i1, float* w) {
    float* kt = w;
    float* vt = kt + floats(skt) * VW;
    float* kp = vt + floats(skt) * VW;
    float* sc = kp + floats(skp) * VW;
    float* dp = sc + floats(ssc) * VW;
    float* a = dp + floats(ssc) * VW;
    float* gr = a + R * D;
    pack_t<D>(k + (long)b * S * D, S, Sp, kt);
    pack_t<D>(v + (long)b * S * D, S, Sp, vt);
    pack_rows<D, NV>(k + (long)b * S * D, S, kp);
    const float* qb = q + (long)b * T * D;
    const float* gb = dO + (long)b * T * D;
    for (int t0 = i0; t0 < i1; t0 += R) {
      load_tile<D, R>(qb, t0, i1 - 1, scale, a);
      load_tile<D, R>(gb, t0, i1 - 1, 1.0f, gr);
      scores<D, R>(a, kt, Sp, Sp, sc, Sp);
      scores<D, R>(gr, vt, Sp, Sp, dp, Sp);
      for (int r = 0; r < R; ++r) {
        const long row = (long)b * T + std::min(t0 + r, i1 - 1);
        const vf L = splat(stats[2 * row]), Dd = splat(stats[2 * row + 1]);
        float* s = sc + (long)r * Sp;
        const float* d = dp + (long)r * Sp;
        for (int j = 0; j < Sp; j += VW) {
          const vf p = vexp(ld(s + j) - L);
          st(s + j, p * (ld(d + j) - Dd));
        }
      }
      vf acc[R][NV];
      accum<NV, R>(sc, Sp, kp, S, acc);
      for (int r = 0; r < R && t0 + r < i1; ++r)
        store_row<D, NV>(out + ((long)b * T + t0 + r) * D, acc[r], scale);
    }
  });
}

/** out [batch, S, 2D] = [dk_j = scale Σ_i dS_ij q_i | dv_j = Σ_i P_ij dO_i]; each key row is
 * owned by one work item, which sums over all query rows in order. */
template <int D>
static inline void attention_grad_kv(const float* q, const float* k, const float* v, const float* dO,
                                     const float* stats, float* out, int batch, int T, int S,
                                     float scale) {
  using namespace attn;
  using Sh = Shape<D>;
  constexpr int NV = Sh::NV, DP = Sh::DP, R = Sh::R;
  const int Tp = pad(T);
  // qt, gt [D][Tp] | qp, gp [T][DP] | L, Dd [Tp] | sc, dp [R][Tp] | a, vr [R][D]
  const long sqt = (long)D * Tp, sqp = (long)T * DP, ssc = (long)R * Tp;
  const long scratch = 2 * floats(sqt) * VW + 2 * floats(sqp) * VW + 2 * floats(Tp) * VW +
                       2 * floats(ssc) * VW + 2 * R * D;
  for_chunks(batch, S, scratch, 8.0 * batch * T * S * D, [&](int b, int j0, int j1, float* w) {
    float* qt = w;
    float* gt = qt + floats(sqt) * VW;
    float* qp = gt + floats(sqt) * VW;
    float* gp = qp + floats(sqp) * VW;
    float* L = gp + floats(sqp) * VW;
    float* Dd = L + floats(Tp) * VW;
    float* sc = Dd + floats(Tp) * VW;
    float* dp = sc + floats(ssc) * VW;
    float* a = dp + floats(ssc) * VW;
    float* vr = a + R * D;
    const float* qb = q + (long)b * T * D;
    const float* gb = dO + (long)b * T * D;
    pack_t<D>(qb, T, Tp, qt);
    pack_t<D>(gb, T, Tp, gt);
    pack_rows<D, NV>(qb, T, qp);
    pack_rows<D, NV>(gb, T, gp);
    for (int i = 0; i < Tp; ++i) {
      L[i] = i < T ? stats[2 * ((long)b * T + i)] : 0.0f;
      Dd[i] = i < T ? stats[2 * ((long)b * T + i) + 1] : 0.0f;
    }
    const float* kb = k + (long)b * S * D;
    const float* vb = v + (long)b * S * D;
    for (int s0 = j0; s0 < j1; s0 += R) {
      load_tile<D, R>(kb, s0, j1 - 1, scale, a);
      load_tile<D, R>(vb, s0, j1 - 1, 1.0f, vr);
      scores<D, R>(a, qt, Tp, Tp, sc, Tp);
      scores<D, R>(vr, gt, Tp, Tp, dp, Tp);
      for (int r = 0; r < R; ++r) {
        float* s = sc + (long)r * Tp;
        float* d = dp + (long)r * Tp;
        for (int i = 0; i < Tp; i += VW) {
          const vf p = vexp(ld(s + i) - ld(L + i));
          st(s + i, p);
          st(d + i, p * (ld(d + i) - ld(Dd + i)));
        }
      }
      vf acc[R][NV];
      accum<NV, R>(dp, Tp, qp, T, acc);
      for (int r = 0; r < R && s0 + r < j1; ++r)
        store_row<D, NV>(out + ((long)b * S + s0 + r) * 2 * D, acc[r], scale);
      accum<NV, R>(sc, Tp, gp, T, acc);
      for (int r = 0; r < R && s0 + r < j1; ++r)
        store_row<D, NV>(out + ((long)b * S + s0 + r) * 2 * D + D, acc[r], 1.0f);
    }
  });
}

/** out [P, D] = table[clamp(ids[p], 0, V - 1)] (zeros for an empty table). */
static inline void gather(const float* table, const int32_t* ids, float* out, long P, int V, int D) {
#pragma omp parallel for schedule(static) if (P * D > (1 << 16))
  for (long p = 0; p < P; ++p) {
    float* dst = out + p * D;
    if (V <= 0) {
      for (int c = 0; c < D; ++c) dst[c] = 0.0f;
      continue;
    }
    const int32_t id = std::min(std::max(ids[p], (int32_t)0), (int32_t)(V - 1));
    std::memcpy(dst, table + (long)id * D, sizeof(float) * D);
  }
}

}  // namespace cld
