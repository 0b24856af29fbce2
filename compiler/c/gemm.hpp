// cld native CPU target: packed, register-blocked single-precision GEMM.
//
// C[p] = A[p] · B[p] for a batch of row-major problems. Operands reach the driver only through
// packing callbacks (so matmul, implicit-im2col convolutions and their gradients share one
// engine), and the result passes through an epilogue functor exactly once, after its full
// reduction: out[i] = ep(acc, i), i being the flat index of the element in the output tensor.
//
// Determinism: every output element is reduced in one fixed order that depends on the shape
// only (K is cut into fixed blocks, summed in order; no split-K across threads), so results are
// bit-identical run to run and for any OpenMP thread count.
//
// Only fin_tile<Ep> and the thin public wrappers are templates; the microkernels, packers and
// the driver are instantiated once per translation unit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace cld {

struct NoEp {
  float operator()(float v, int) const { return v; }
};

namespace gemm_detail {

#if defined(__AVX512F__)
constexpr int kMR = 14;  // rows of a full A micro-panel
constexpr int kNR = 32;  // columns of a B micro-panel (two zmm)
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kMR = 6;
constexpr int kNR = 16;  // two ymm
#else
constexpr int kMR = 4;
constexpr int kNR = 16;
#endif
constexpr int kKC = 256;  // largest K block
constexpr int kNG = 12;   // B micro-panels per work item (kKC*kNG*kNR*4 bytes stay in L2)
constexpr int kMG = 8;    // A micro-panels per work item at most
constexpr std::size_t kPackBudget = std::size_t(2) << 20;  // floats of pre-packed B per chunk

static inline int threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// ---- scratch: grow-only, 64-byte aligned, per thread (re-entrant across threads)

struct Scratch {
  float* p = nullptr;
  std::size_t n = 0;
  ~Scratch() { std::free(p); }
  float* get(std::size_t want) {
    if (want > n) {
      std::free(p);
      std::size_t bytes = ((want * sizeof(float)) + 63) & ~std::size_t(63);
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      n = p ? want : 0;
    }
    return p;
  }
};

static inline float* scratch(int slot, std::size_t n) {
  thread_local Scratch s[5];  // 0: A panel, 1: shared B, 2: local B, 3: shared A, 4: caller's
  return s[slot].get(n);
}

// ---- the problem, as seen by the driver

/// Packs rows [i0, i0+mr) x cols [k0, k0+kc) of A[p] as dst[k*mr + r].
typedef void (*PackAFn)(const void* ctx, int p, int i0, int mr, int k0, int kc, float* dst);
/// Packs rows [k0, k0+kc) x cols [j0, j0+nr) of B[p] as dst[k*kNR + j], zero for j >= nr.
typedef void (*PackBFn)(const void* ctx, int p, int k0, int kc, int j0, int nr, float* dst);
/// Applies the epilogue in place to a rows x cols tile at c (row stride ldc).
typedef void (*FinFn)(const void* ctx, float* c, long ldc, int rows, int cols);

struct Problem {
  int batch, M, N, K;
  PackAFn packA;
  const void* ctxA;
  PackBFn packB;
  const void* ctxB;
  bool bShared;  // B is the same for every batch entry
  bool aShared;  // A is the same for every batch entry
  float* C;
  long ldc, strideC;
  FinFn fin;  // null: identity epilogue
  const void* finCtx;
};

template <class Ep>
struct FinCtx {
  float* base;
  const Ep* ep;
};

template <class Ep>
static void fin_tile(const void* vctx, float* c, long ldc, int rows, int cols) {
  const FinCtx<Ep>* f = static_cast<const FinCtx<Ep>*>(vctx);
  const Ep& ep = *f->ep;
  const long base = c - f->base;
  for (int r = 0; r < rows; r++) {
    float* row = c + r * ldc;
    const int ib = int(base + r * ldc);
    for (int j = 0; j < cols; j++) row[j] = ep(row[j], ib + j);
  }
}

// ---- microkernels: C[mr x nr] (+)= A[kc x R]ᵀ-packed · B[kc x kNR]-packed

#if defined(__AVX512F__)
static inline __mmask16 mask16(int n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

template <int R>
static void ukernel(int kc, const float* __restrict A, const float* __restrict B, float* C,
                    long ldc, int nr, bool accum) {
  __m512 c0[R], c1[R];
#pragma GCC unroll 14
  for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(B);
    const __m512 b1 = _mm512_load_ps(B + 16);
    _mm_prefetch(reinterpret_cast<const char*>(B + 8 * kNR), _MM_HINT_T0);
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      const __m512 a = _mm512_set1_ps(A[r]);
      c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
    }
    A += R;
    B += kNR;
  }
  if (nr == kNR) {
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      float* c = C + r * ldc;
      if (accum) {
        c0[r] = _mm512_add_ps(_mm512_loadu_ps(c), c0[r]);
        c1[r] = _mm512_add_ps(_mm512_loadu_ps(c + 16), c1[r]);
      }
      _mm512_storeu_ps(c, c0[r]);
      _mm512_storeu_ps(c + 16, c1[r]);
    }
  } else {
    const __mmask16 m0 = mask16(nr), m1 = mask16(nr - 16);
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      float* c = C + r * ldc;
      if (accum) {
        c0[r] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), c0[r]);
        c1[r] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), c1[r]);
      }
      _mm512_mask_storeu_ps(c, m0, c0[r]);
      _mm512_mask_storeu_ps(c + 16, m1, c1[r]);
    }
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
static inline __m256i mask8(int n) {
  n = n < 0 ? 0 : n > 8 ? 8 : n;
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

template <int R>
static void ukernel(int kc, const float* __restrict A, const float* __restrict B, float* C,
                    long ldc, int nr, bool accum) {
  __m256 c0[R], c1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(B);
    const __m256 b1 = _mm256_load_ps(B + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
      const __m256 a = _mm256_broadcast_ss(A + r);
      c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
    }
    A += R;
    B += kNR;
  }
  const __m256i m0 = mask8(nr), m1 = mask8(nr - 8);
#pragma GCC unroll 6
  for (int r = 0; r < R; r++) {
    float* c = C + r * ldc;
    if (accum) {
      c0[r] = _mm256_add_ps(_mm256_maskload_ps(c, m0), c0[r]);
      c1[r] = _mm256_add_ps(_mm256_maskload_ps(c + 8, m1), c1[r]);
    }
    _mm256_maskstore_ps(c, m0, c0[r]);
    _mm256_maskstore_ps(c + 8, m1, c1[r]);
  }
}
#else
template <int R>
static void ukernel(int kc, const float* __restrict A, const float* __restrict B, float* C,
                    long ldc, int nr, bool accum) {
  float acc[R][kNR];
  for (int r = 0; r < R; r++)
    for (int j = 0; j < kNR; j++) acc[r][j] = 0.f;
  for (int k = 0; k < kc; k++) {
    for (int r = 0; r < R; r++) {
      const float a = A[r];
      for (int j = 0; j < kNR; j++) acc[r][j] += a * B[j];
    }
    A += R;
    B += kNR;
  }
  for (int r = 0; r < R; r++) {
    float* c = C + r * ldc;
    for (int j = 0; j < nr; j++) c[j] = accum ? c[j] + acc[r][j] : acc[r][j];
  }
}
#endif

typedef void (*UkFn)(int, const float*, const float*, float*, long, int, bool);

static inline UkFn ukernel_for(int mr) {
  switch (mr) {
    case 1: return ukernel<1>;
    case 2: return ukernel<2>;
    case 3: return ukernel<3>;
    case 4: return ukernel<4>;
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
    case 5: return ukernel<5>;
    case 6: return ukernel<6>;
#endif
#if defined(__AVX512F__)
    case 7: return ukernel<7>;
    case 8: return ukernel<8>;
    case 9: return ukernel<9>;
    case 10: return ukernel<10>;
    case 11: return ukernel<11>;
    case 12: return ukernel<12>;
    case 13: return ukernel<13>;
    case 14: return ukernel<14>;
#endif
    default: return nullptr;
  }
}

// ---- the driver

static inline int ceil_div(long a, long b) { return int((a + b - 1) / b); }

/// Fixed K blocking: nkb blocks of (nearly) equal size, a function of K only.
struct KBlocks {
  int nkb, kc;
  explicit KBlocks(int K) {
    nkb = std::max(1, ceil_div(K, kKC));
    kc = ceil_div(K, nkb);
  }
  int k0(int b) const { return b * kc; }
  int len(int b, int K) const { return std::min(kc, K - b * kc); }
};

static void run(const Problem& P) {
  const int M = P.M, N = P.N, K = P.K;
  if (P.batch <= 0 || M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int p = 0; p < P.batch; p++)
      for (int i = 0; i < M; i++) {
        float* c = P.C + p * P.strideC + i * P.ldc;
        std::memset(c, 0, sizeof(float) * N);
        if (P.fin) P.fin(P.finCtx, c, P.ldc, 1, N);
      }
    return;
  }
  const KBlocks kb(K);
  const int mp = ceil_div(M, kMR);   // A micro-panels (last may be short)
  const int np = ceil_div(N, kNR);   // B micro-panels
  const int T = threads();
  const double flops = 2.0 * P.batch * M * double(N) * K;
  const bool par = T > 1 && flops > 2.0e5;
  (void)par;
  // A shared by every item (batch-shared, or one problem) and not too big: packed once.
  const bool prepA = (P.aShared || P.batch == 1) && std::size_t(M) * K <= kPackBudget;
  float* apack = prepA ? scratch(3, std::size_t(mp) * kMR * K) : nullptr;
  // Called by every thread of the (first) parallel region: packs all of A, then a barrier.
  auto prepackA = [&] {
    const long tasks = long(mp) * kb.nkb;
#pragma omp for schedule(static)
    for (long t = 0; t < tasks; t++) {
      const int ip = int(t / kb.nkb), b = int(t % kb.nkb);
      const int i0 = ip * kMR, mr = std::min(kMR, M - i0), k0 = kb.k0(b);
      P.packA(P.ctxA, 0, i0, mr, k0, kb.len(b, K),
              apack + std::size_t(i0) * K + std::size_t(k0) * mr);
    }
  };
  // The packed A micro-panel (rows i0.., K block at k0) for batch entry p.
  auto panelA = [&](int p, int i0, int mr, int k0, int kc, float* abuf) -> const float* {
    if (prepA) return apack + std::size_t(i0) * K + std::size_t(k0) * mr;
    P.packA(P.ctxA, p, i0, mr, k0, kc, abuf);
    return abuf;
  };
  if (mp <= kMG) {
    // Few rows: each B block serves one work item only, so the item packs it itself, right
    // before use (L2-hot), instead of a shared pre-pack that would round-trip through memory.
    int ngroups = ceil_div(np, kNG);
    while (ngroups < np && long(P.batch) * ngroups < 4L * T) ngroups++;
    const long items = long(P.batch) * ngroups;
#pragma omp parallel if (par)
    {
      if (prepA) prepackA();
#pragma omp for schedule(static)
      for (long t = 0; t < items; t++) {
        const int p = int(t / ngroups), ng = int(t % ngroups);
        const int qa = int(long(ng) * np / ngroups), qb = int(long(ng + 1) * np / ngroups);
        float* abuf = scratch(0, std::size_t(kMR) * kb.kc);
        float* bloc = scratch(2, std::size_t(qb - qa) * kb.kc * kNR);
        float* Cp = P.C + p * P.strideC;
        for (int b = 0; b < kb.nkb; b++) {
          const int k0 = kb.k0(b), kc = kb.len(b, K);
          const bool last = b == kb.nkb - 1;
          for (int q = qa; q < qb; q++) {
            const int j0 = q * kNR;
            P.packB(P.ctxB, P.bShared ? 0 : p, k0, kc, j0, std::min(kNR, N - j0),
                    bloc + std::size_t(q - qa) * kc * kNR);
          }
          for (int ip = 0; ip < mp; ip++) {
            const int i0 = ip * kMR, mr = std::min(kMR, M - i0);
            const float* ap = panelA(p, i0, mr, k0, kc, abuf);
            const UkFn uk = ukernel_for(mr);
            for (int q = qa; q < qb; q++) {
              const int j0 = q * kNR, nr = std::min(kNR, N - j0);
              float* c = Cp + long(i0) * P.ldc + j0;
              uk(kc, ap, bloc + std::size_t(q - qa) * kc * kNR, c, P.ldc, nr, b > 0);
              if (last && P.fin) P.fin(P.finCtx, c, P.ldc, mr, nr);
            }
          }
        }
      }
    }
    return;
  }
  // Pre-packed B: panel q holds all of K, kNR wide: offset (q*K + k)*kNR.
  const std::size_t panelFloats = std::size_t(K) * kNR;
  const int bBatch = P.bShared ? 1 : P.batch;
  // Chunking keeps the pre-packed B within budget: whole batch entries, or panel ranges.
  int pChunk = bBatch, qChunk = np;
  if (std::size_t(bBatch) * np * panelFloats > kPackBudget) {
    const std::size_t perBatch = std::size_t(np) * panelFloats;
    if (perBatch <= kPackBudget) {
      pChunk = int(std::max<std::size_t>(1, kPackBudget / perBatch));
    } else {
      pChunk = 1;
      qChunk = int(std::max<std::size_t>(kNG, (kPackBudget / panelFloats) / kNG * kNG));
      qChunk = std::min(qChunk, np);
    }
  }
  if (P.bShared) pChunk = P.batch;  // the packed B serves every batch entry
  float* bbuf = scratch(1, std::size_t(P.bShared ? 1 : pChunk) * std::min(qChunk, np) * panelFloats);

  for (int p0 = 0; p0 < P.batch; p0 += pChunk) {
    const int pn = std::min(pChunk, P.batch - p0);
    for (int q0 = 0; q0 < np; q0 += qChunk) {
      const int qn = std::min(qChunk, np - q0);
      // Work items: (batch entry, m-group, n-group).
      const int ngroups = ceil_div(qn, kNG);
      int mgroups = ceil_div(mp, kMG);
      while (mgroups < mp && long(pn) * mgroups * ngroups < 4L * T) mgroups++;
      const long items = long(pn) * mgroups * ngroups;
      const int packP = P.bShared ? 1 : pn;
      const long packTasks = long(packP) * qn;
#pragma omp parallel if (par)
      {
        if (prepA && p0 == 0 && q0 == 0) prepackA();
#pragma omp for schedule(static)
        for (long t = 0; t < packTasks; t++) {
          const int pp = int(t / qn), q = int(t % qn);
          const int pb = P.bShared ? 0 : p0 + pp;
          const int j0 = (q0 + q) * kNR;
          float* dst = bbuf + (std::size_t(pp) * qn + q) * panelFloats;
          for (int b = 0; b < kb.nkb; b++) {
            const int k0 = kb.k0(b), kc = kb.len(b, K);
            P.packB(P.ctxB, pb, k0, kc, j0, std::min(kNR, N - j0), dst + std::size_t(k0) * kNR);
          }
        }
#pragma omp for schedule(static)
        for (long t = 0; t < items; t++) {
          const int pp = int(t / (long(mgroups) * ngroups));
          const int rem = int(t % (long(mgroups) * ngroups));
          const int mg = rem / ngroups, ng = rem % ngroups;
          const int p = p0 + pp;
          const int ia = int(long(mg) * mp / mgroups), ib = int(long(mg + 1) * mp / mgroups);
          const int qa = int(long(ng) * qn / ngroups), qb = int(long(ng + 1) * qn / ngroups);
          float* abuf = scratch(0, std::size_t(kMR) * kb.kc);
          const float* bp = bbuf + std::size_t(P.bShared ? 0 : pp) * qn * panelFloats;
          float* Cp = P.C + p * P.strideC;
          for (int b = 0; b < kb.nkb; b++) {
            const int k0 = kb.k0(b), kc = kb.len(b, K);
            const bool last = b == kb.nkb - 1;
            for (int ip = ia; ip < ib; ip++) {
              const int i0 = ip * kMR, mr = std::min(kMR, M - i0);
              // one A micro-panel at a time, L1 resident across the q loop
              const float* ap = panelA(p, i0, mr, k0, kc, abuf);
              const UkFn uk = ukernel_for(mr);
              for (int q = qa; q < qb; q++) {
                const int j0 = (q0 + q) * kNR, nr = std::min(kNR, N - j0);
                float* c = Cp + long(i0) * P.ldc + j0;
                uk(kc, ap, bp + (std::size_t(q) * K + k0) * kNR, c, P.ldc, nr, b > 0);
                if (last && P.fin) P.fin(P.finCtx, c, P.ldc, mr, nr);
              }
            }
          }
        }
      }
    }
  }
}

// ---- packers for plain strided matrices: X(r, c) = base[p*sb + r*rs + c*cs]

struct Strided {
  const float* base;
  long sb, rs, cs;
};

static void pack_a_strided(const void* vctx, int p, int i0, int mr, int k0, int kc, float* dst) {
  const Strided& s = *static_cast<const Strided*>(vctx);
  const float* a = s.base + p * s.sb + i0 * s.rs + k0 * s.cs;
  if (s.cs == 1) {
    for (int r = 0; r < mr; r++) {
      const float* row = a + r * s.rs;
      for (int k = 0; k < kc; k++) dst[k * mr + r] = row[k];
    }
  } else if (s.rs == 1) {
    for (int k = 0; k < kc; k++) std::memcpy(dst + k * mr, a + k * s.cs, sizeof(float) * mr);
  } else {
    for (int k = 0; k < kc; k++)
      for (int r = 0; r < mr; r++) dst[k * mr + r] = a[r * s.rs + k * s.cs];
  }
}

static void pack_b_strided(const void* vctx, int p, int k0, int kc, int j0, int nr, float* dst) {
  const Strided& s = *static_cast<const Strided*>(vctx);
  const float* b = s.base + p * s.sb + k0 * s.rs + j0 * s.cs;
  if (s.cs == 1) {
    for (int k = 0; k < kc; k++) {
      float* d = dst + k * kNR;
      std::memcpy(d, b + k * s.rs, sizeof(float) * nr);
      for (int j = nr; j < kNR; j++) d[j] = 0.f;
    }
  } else {
    for (int j = 0; j < nr; j++) {
      const float* col = b + j * s.cs;
      for (int k = 0; k < kc; k++) dst[k * kNR + j] = col[k * s.rs];
    }
    if (nr < kNR)
      for (int k = 0; k < kc; k++)
        for (int j = nr; j < kNR; j++) dst[k * kNR + j] = 0.f;
  }
}

/// Small problems: plain loops (no packing, no threads), raw results; the caller applies ep.
static void matmul_naive(const float* A, const float* B, float* C, int batch, int M, int N, int K,
                         bool tA, bool tB, long sA, long sB) {
  for (int p = 0; p < batch; p++) {
    const float* a = A + p * sA;
    const float* b = B + p * sB;
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        float acc = 0.f;
        for (int k = 0; k < K; k++)
          acc += (tA ? a[long(k) * M + i] : a[long(i) * K + k]) *
                 (tB ? b[long(j) * K + k] : b[long(k) * N + j]);
        C[(long(p) * M + i) * N + j] = acc;
      }
  }
}

/// The epilogue over a whole dense output of n elements (after a raw computation).
template <class Ep>
static inline void apply_ep(float* out, long n, const Ep& ep) {
  if (std::is_same<Ep, NoEp>::value) return;
  const FinCtx<Ep> fc{out, &ep};
  fin_tile<Ep>(&fc, out, 0, 1, int(n));
}

static inline bool is_tiny(double flops) { return flops < 16384.0; }

}  // namespace gemm_detail

/// C[p] = op(A[p]) · op(B[p]) for p < batch, row-major. op(A) is M x K (A stored K x M when
/// transA), op(B) is K x N (B stored N x K when transB). strideA/strideB: floats between batch
/// entries, 0 for an operand shared by the whole batch. C is [batch, M, N], dense.
/// Every element goes through ep(acc, flat index into C) exactly once.
template <class Ep>
static inline void matmul(const float* A, const float* B, float* C, int batch, int M, int N, int K,
                          bool transA, bool transB, long strideA, long strideB, const Ep& ep) {
  using namespace gemm_detail;
  if (batch <= 0 || M <= 0 || N <= 0) return;
  if (is_tiny(2.0 * batch * M * double(N) * K)) {
    matmul_naive(A, B, C, batch, M, N, K, transA, transB, strideA, strideB);
    apply_ep(C, long(batch) * M * N, ep);
    return;
  }
  if (batch > 1 && strideB == 0 && !transA && strideA == long(M) * K) {
    // A shared B: one tall GEMM over all batch rows (same per-element order).
    M *= batch;
    batch = 1;
    strideA = 0;
  }
  const Strided sa{A, strideA, transA ? 1 : K, transA ? M : 1};
  const Strided sb{B, strideB, transB ? 1 : N, transB ? K : 1};
  const FinCtx<Ep> fc{C, &ep};
  const Problem P{batch, M, N, K, pack_a_strided, &sa, pack_b_strided, &sb,
                  strideB == 0 || batch == 1, strideA == 0 || batch == 1, C, N, long(M) * N,
                  std::is_same<Ep, NoEp>::value ? nullptr : fin_tile<Ep>, &fc};
  run(P);
}

}  // namespace cld
