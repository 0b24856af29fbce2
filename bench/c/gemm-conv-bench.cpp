// GFLOP/s of compiler/c/gemm.hpp and conv.hpp. Build and run: see bench/c/README.md.
// Each figure is the best of 7 trials, each trial repeating the call for at least 0.1 s.
// `gemm-conv-bench --cpu-time` divides by the process's CPU time instead of wall time: GFLOP/s
// per busy core, robust to other load on the machine (with OMP_NUM_THREADS=1, the core's rate).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../../compiler/c/conv.hpp"

static bool cpuTime = false;

static double now() {
  if (!cpuTime)
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

template <class F>
static double gflops(double flops, F f) {
  f();
  double best = 1e30;
  for (int t = 0; t < 7; t++) {
    int reps = 0;
    const double t0 = now();
    double s;
    do {
      f();
      reps++;
      s = now() - t0;
    } while (s < 0.1);
    best = std::min(best, s / reps);
  }
  return flops / best / 1e9;
}

static std::vector<float> filled(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i++) v[i] = float(int(i % 23) - 11) * 0.05f;
  return v;
}

static void mm(const char* name, int batch, int M, int N, int K, bool tA, bool tB, bool aB,
               bool bB) {
  auto A = filled(size_t(aB ? batch : 1) * M * K), B = filled(size_t(bB ? batch : 1) * K * N);
  std::vector<float> C(size_t(batch) * M * N);
  const long sA = aB ? long(M) * K : 0, sB = bB ? long(K) * N : 0;
  const double g = gflops(2.0 * batch * M * N * double(K), [&] {
    cld::matmul(A.data(), B.data(), C.data(), batch, M, N, K, tA, tB, sA, sB, cld::NoEp{});
  });
  std::printf("%-34s %8.1f GFLOP/s\n", name, g);
}

static void cv(const char* name, int which, int N, int C, int H, int W, int O, int k, int s,
               int p) {
  const int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
  auto x = filled(size_t(N) * C * H * W), w = filled(size_t(O) * C * k * k),
       dy = filled(size_t(N) * O * Ho * Wo);
  std::vector<float> out(std::max(x.size(), std::max(w.size(), dy.size())));
  const double flops = 2.0 * N * O * Ho * Wo * double(C) * k * k;
  const double g = gflops(flops, [&] {
    if (which == 0) cld::conv2d(x.data(), w.data(), out.data(), N, C, H, W, O, k, k, s, p, cld::NoEp{});
    if (which == 1)
      cld::conv2d_grad_input(dy.data(), w.data(), out.data(), N, C, H, W, O, k, k, s, p, cld::NoEp{});
    if (which == 2)
      cld::conv2d_grad_weight(x.data(), dy.data(), out.data(), N, C, H, W, O, k, k, s, p, cld::NoEp{});
  });
  std::printf("%-34s %8.1f GFLOP/s\n", name, g);
}

int main(int argc, char** argv) {
  cpuTime = argc > 1 && std::strcmp(argv[1], "--cpu-time") == 0;
#if defined(_OPENMP)
  std::printf("threads: %d%s\n", omp_get_max_threads(), cpuTime ? " (per CPU-second)" : "");
#endif
  mm("matmul 256^3", 1, 256, 256, 256, false, false, false, false);
  mm("matmul 512^3", 1, 512, 512, 512, false, false, false, false);
  mm("matmul 1024^3", 1, 1024, 1024, 1024, false, false, false, false);
  mm("matmul 512^3 A.B^T", 1, 512, 512, 512, false, true, false, false);
  mm("matmul 512^3 A^T.B", 1, 512, 512, 512, true, false, false, false);
  mm("matmul [1024,128]x[128,128]", 1, 1024, 128, 128, false, false, false, false);
  mm("matmul 16x[64,64]x[64,64] batched", 16, 64, 64, 64, false, false, true, true);
  cv("conv2d fwd  8x64x32x32 w64x64x3x3", 0, 8, 64, 32, 32, 64, 3, 1, 1);
  cv("conv2d dX   8x64x32x32 w64x64x3x3", 1, 8, 64, 32, 32, 64, 3, 1, 1);
  cv("conv2d dW   8x64x32x32 w64x64x3x3", 2, 8, 64, 32, 32, 64, 3, 1, 1);
  cv("conv2d fwd  16x128x8x8 w128 3x3", 0, 16, 128, 8, 8, 128, 3, 1, 1);
  cv("conv2d dX   16x128x8x8 w128 3x3", 1, 16, 128, 8, 8, 128, 3, 1, 1);
  cv("conv2d dW   16x128x8x8 w128 3x3", 2, 16, 128, 8, 8, 128, 3, 1, 1);
  cv("conv2d fwd  16x32x32x32 w32 3x3", 0, 16, 32, 32, 32, 32, 3, 1, 1);
  cv("conv2d fwd  16x64x16x16 w64 3x3 s2", 0, 16, 64, 16, 16, 64, 3, 2, 1);
  cv("conv2d dX   16x64x16x16 w64 3x3 s2", 1, 16, 64, 16, 16, 64, 3, 2, 1);
  cv("conv2d dW   16x64x16x16 w64 3x3 s2", 2, 16, 64, 16, 16, 64, 3, 2, 1);
  return 0;
}
