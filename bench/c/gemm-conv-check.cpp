// Correctness check for compiler/c/gemm.hpp and conv.hpp against naive double-precision loops,
// over many odd shapes, with and without an epilogue; also checks that results are bit-identical
// for 1 and 2 OpenMP threads and that NaN propagates. Build and run: see bench/c/README.md.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../../compiler/c/conv.hpp"

static unsigned rs = 12345;
static float rnd() {
  rs ^= rs << 13;
  rs ^= rs >> 17;
  rs ^= rs << 5;
  return (rs >> 8) * (2.0f / 16777216.0f) - 1.0f;
}
static std::vector<float> rvec(size_t n) {
  std::vector<float> v(n);
  for (auto& x : v) x = rnd();
  return v;
}

static double worst = 0;
static int fails = 0, cases = 0;

static void set_threads(int t) {
#if defined(_OPENMP)
  omp_set_num_threads(t);
#else
  (void)t;
#endif
}

// Compares got against ref (epilogue ep64 applied to ref): max |d| / max(|ref|, 1e-6).
template <class F>
static void compare(const char* what, const std::vector<float>& got, const std::vector<double>& ref,
                    F ep64) {
  double mx = 0, md = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    const double r = ep64(ref[i], int(i));
    mx = std::max(mx, std::fabs(r));
    md = std::max(md, std::fabs(double(got[i]) - r));
    if (std::isnan(got[i])) md = 1e30;
  }
  const double rel = md / std::max(mx, 1e-6);
  worst = std::max(worst, rel);
  cases++;
  if (!(rel < 2e-4)) {
    fails++;
    if (fails < 30) std::printf("FAIL %s: rel err %.3g\n", what, rel);
  }
}

static bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

static int nondet = 0;

// ---------------------------------------------------------------- matmul

static void check_matmul(int batch, int M, int N, int K, bool tA, bool tB, bool aB, bool bB,
                         bool withEp) {
  const long sA = aB ? long(M) * K : 0, sB = bB ? long(K) * N : 0;
  auto A = rvec(size_t(aB ? batch : 1) * M * K), B = rvec(size_t(bB ? batch : 1) * K * N);
  std::vector<double> ref(size_t(batch) * M * N);
  for (int p = 0; p < batch; p++)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        double acc = 0;
        for (int k = 0; k < K; k++)
          acc += double(A[p * sA + (tA ? long(k) * M + i : long(i) * K + k)]) *
                 double(B[p * sB + (tB ? long(j) * K + k : long(k) * N + j)]);
        ref[(size_t(p) * M + i) * N + j] = acc;
      }
  std::vector<float> C(ref.size(), -7.f), C1(ref.size(), -9.f);
  char what[160];
  std::snprintf(what, sizeof what, "matmul b%d M%d N%d K%d tA%d tB%d aB%d bB%d ep%d", batch, M, N,
                K, tA, tB, aB, bB, withEp);
  if (withEp) {
    auto ep = [&](float v, int i) -> float { return 0.5f * v + float(i % 7); };
    cld::matmul(A.data(), B.data(), C.data(), batch, M, N, K, tA, tB, sA, sB, ep);
    set_threads(1);
    cld::matmul(A.data(), B.data(), C1.data(), batch, M, N, K, tA, tB, sA, sB, ep);
    set_threads(2);
    compare(what, C, ref, [](double v, int i) { return 0.5 * v + (i % 7); });
  } else {
    cld::matmul(A.data(), B.data(), C.data(), batch, M, N, K, tA, tB, sA, sB, cld::NoEp{});
    set_threads(1);
    cld::matmul(A.data(), B.data(), C1.data(), batch, M, N, K, tA, tB, sA, sB, cld::NoEp{});
    set_threads(2);
    compare(what, C, ref, [](double v, int) { return v; });
  }
  if (!same_bits(C, C1)) {
    nondet++;
    std::printf("NONDETERMINISTIC %s\n", what);
  }
}

// ---------------------------------------------------------------- conv

struct CD {
  int N, C, H, W, O, KH, KW, s, p, Ho = 0, Wo = 0;
};

static void check_conv(CD d, int which, bool withEp) {
  d.Ho = (d.H + 2 * d.p - d.KH) / d.s + 1;
  d.Wo = (d.W + 2 * d.p - d.KW) / d.s + 1;
  if (d.H + 2 * d.p < d.KH || d.W + 2 * d.p < d.KW) return;
  const size_t nx = size_t(d.N) * d.C * d.H * d.W, nw = size_t(d.O) * d.C * d.KH * d.KW,
               ny = size_t(d.N) * d.O * d.Ho * d.Wo;
  auto X = rvec(nx), Wt = rvec(nw), DY = rvec(ny);
  std::vector<double> ref(which == 0 ? ny : which == 1 ? nx : nw, 0.0);
  for (int n = 0; n < d.N; n++)
    for (int o = 0; o < d.O; o++)
      for (int oy = 0; oy < d.Ho; oy++)
        for (int ox = 0; ox < d.Wo; ox++) {
          const size_t yi = ((size_t(n) * d.O + o) * d.Ho + oy) * d.Wo + ox;
          for (int c = 0; c < d.C; c++)
            for (int ky = 0; ky < d.KH; ky++) {
              const int iy = oy * d.s - d.p + ky;
              if (iy < 0 || iy >= d.H) continue;
              for (int kx = 0; kx < d.KW; kx++) {
                const int ix = ox * d.s - d.p + kx;
                if (ix < 0 || ix >= d.W) continue;
                const size_t xi = ((size_t(n) * d.C + c) * d.H + iy) * d.W + ix;
                const size_t wi = ((size_t(o) * d.C + c) * d.KH + ky) * d.KW + kx;
                if (which == 0) ref[yi] += double(X[xi]) * Wt[wi];
                if (which == 1) ref[xi] += double(DY[yi]) * Wt[wi];
                if (which == 2) ref[wi] += double(X[xi]) * DY[yi];
              }
            }
        }
  std::vector<float> out(ref.size(), -7.f), out1(ref.size(), -9.f);
  char what[200];
  std::snprintf(what, sizeof what, "%s N%d C%d H%d W%d O%d k%dx%d s%d p%d ep%d",
                which == 0 ? "conv2d" : which == 1 ? "grad_input" : "grad_weight", d.N, d.C, d.H,
                d.W, d.O, d.KH, d.KW, d.s, d.p, withEp);
  auto call = [&](std::vector<float>& o, auto ep) {
    if (which == 0)
      cld::conv2d(X.data(), Wt.data(), o.data(), d.N, d.C, d.H, d.W, d.O, d.KH, d.KW, d.s, d.p, ep);
    if (which == 1)
      cld::conv2d_grad_input(DY.data(), Wt.data(), o.data(), d.N, d.C, d.H, d.W, d.O, d.KH, d.KW,
                             d.s, d.p, ep);
    if (which == 2)
      cld::conv2d_grad_weight(X.data(), DY.data(), o.data(), d.N, d.C, d.H, d.W, d.O, d.KH, d.KW,
                              d.s, d.p, ep);
  };
  if (withEp) {
    const float bias = 0.25f;
    auto ep = [&](float v, int i) -> float { return v > 0.f ? v + bias : float(i % 5); };
    call(out, ep);
    set_threads(1);
    call(out1, ep);
    set_threads(2);
    compare(what, out, ref, [](double v, int i) { return v > 0 ? v + 0.25 : double(i % 5); });
  } else {
    call(out, cld::NoEp{});
    set_threads(1);
    call(out1, cld::NoEp{});
    set_threads(2);
    compare(what, out, ref, [](double v, int) { return v; });
  }
  if (!same_bits(out, out1)) {
    nondet++;
    std::printf("NONDETERMINISTIC %s\n", what);
  }
}

int main() {
  set_threads(2);
  const int sz[] = {1, 3, 7, 17, 31, 64, 65, 100, 257};
  int t = 0;
  for (int M : sz)
    for (int N : sz)
      for (int K : sz)
        for (int tr = 0; tr < 4; tr++, t++) check_matmul(1, M, N, K, tr & 1, tr >> 1, false, false, t % 3 == 0);
  // batches, with one operand shared (all transposes)
  for (int tr = 0; tr < 4; tr++)
    for (int sh = 0; sh < 3; sh++) {
      const bool aB = sh != 1, bB = sh != 2;
      check_matmul(3, 17, 65, 31, tr & 1, tr >> 1, aB, bB, tr == 1);
      check_matmul(5, 64, 100, 257, tr & 1, tr >> 1, aB, bB, sh == 0);
      check_matmul(4, 7, 3, 300, tr & 1, tr >> 1, aB, bB, true);
      check_matmul(16, 64, 128, 128, tr & 1, tr >> 1, aB, bB, false);
    }
  check_matmul(2, 600, 700, 530, false, false, true, false, true);  // tall fold, 3 K blocks
  check_matmul(1, 1030, 1500, 700, false, true, false, false, false);  // panel chunking
  check_matmul(1, 64, 3000, 3000, true, false, false, false, true);   // B larger than the budget
  std::printf("matmul: %d cases, worst rel err %.3g, %d failures\n", cases, worst, fails);

  const int mcases = cases;
  const int ks[][2] = {{1, 1}, {3, 3}, {5, 5}, {3, 1}, {2, 4}};
  const int hw[][2] = {{1, 1}, {5, 7}, {8, 8}, {16, 9}};
  const int chans[][2] = {{1, 1}, {3, 5}, {17, 32}, {32, 17}};
  int e = 0;
  for (auto& k : ks)
    for (auto& h : hw)
      for (auto& ch : chans)
        for (int s = 1; s <= 3; s++)
          for (int p = 0; p <= 2; p++)
            for (int which = 0; which < 3; which++, e++) {
              if (s == 3 && (p == 1 || ch[0] == 1)) continue;
              check_conv({e % 2 ? 3 : 1, ch[0], h[0], h[1], ch[1], k[0], k[1], s, p}, which, e % 4 == 1);
            }
  // bigger ones: several K blocks, batch chunking, the model-like shapes
  for (int which = 0; which < 3; which++) {
    check_conv({2, 64, 32, 32, 64, 3, 3, 1, 1}, which, which == 1);
    check_conv({16, 32, 8, 8, 128, 3, 3, 1, 1}, which, true);
    check_conv({4, 64, 17, 15, 32, 3, 3, 2, 1}, which, false);
    check_conv({3, 40, 12, 12, 24, 5, 5, 1, 2}, which, true);
    check_conv({16, 128, 4, 4, 128, 3, 3, 1, 1}, which, false);
    check_conv({2, 96, 16, 16, 48, 1, 1, 1, 0}, which, true);
  }
  std::printf("conv: %d cases, worst rel err %.3g (all: %.3g), %d failures total\n", cases - mcases,
              worst, worst, fails);

  // NaN / Inf propagate (no -ffast-math)
  {
    std::vector<float> A(64 * 64, 1.f), B(64 * 64, 1.f), C(64 * 64);
    A[5 * 64 + 3] = NAN;
    B[7 * 64 + 9] = INFINITY;
    cld::matmul(A.data(), B.data(), C.data(), 1, 64, 64, 64, false, false, 0, 0, cld::NoEp{});
    const bool ok = std::isnan(C[5 * 64 + 0]) && std::isnan(C[5 * 64 + 63]) &&
                    std::isinf(C[0 * 64 + 9]) && std::isfinite(C[0]);
    std::printf("nan/inf propagation: %s\n", ok ? "ok" : "FAIL");
    if (!ok) fails++;
  }
  std::printf("determinism (1 vs 2 threads, bitwise): %s\n", nondet ? "FAIL" : "ok");
  std::printf("%s: %d cases, worst rel err %.3g\n", fails || nondet ? "FAILED" : "PASSED", cases, worst);
  return fails || nondet ? 1 : 0;
}
