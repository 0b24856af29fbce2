// cld native CPU target: conv2d (NCHW x OIHW, square stride, zero padding) and the two
// gradients, as implicit GEMMs on gemm.hpp's engine (im2col happens inside the B packer, one
// micro-panel at a time; no full im2col buffer).
//
//   conv2d             per image n: y[n] [O x HoWo]  = w [O x CKK] · im2col(x[n]) [CKK x HoWo]
//   conv2d_grad_input  stride 1, per image n: dx[n] [C x HW] = flip(w)ᵀ [C x OKK] · im2col(dy[n])
//                      with pad KH-1-pad; stride s: one such GEMM per phase (iy mod s, ix mod s)
//                      over that phase's taps, scattered into dx
//   conv2d_grad_weight dw [O x CKK] = Σ_n dy[n] [O x HoWo] · im2col(x[n])ᵀ [HoWo x CKK]
//                      (K = N·HoWo, reduced in one fixed order)
#pragma once

#include "gemm.hpp"

namespace cld {
namespace conv_detail {

using gemm_detail::kNR;

/// B(k = (c, ky, kx), j = (oy, ox)) = X[c, oy*stride - padH + ky, ox*stride - padW + kx] (zero
/// outside X). Pads may be negative (a crop).
struct Im2col {
  const float* x;
  long imgStride;
  int C, H, W, KH, KW, stride, padH, padW, Ho, Wo;
};

static void pack_b_im2col(const void* vctx, int p, int k0, int kc, int j0, int nr, float* dst) {
  const Im2col& s = *static_cast<const Im2col*>(vctx);
  const float* x = s.x + p * s.imgStride;
  // Runs of output positions sharing one output row.
  int runOy[kNR + 1], runOx[kNR + 1], runLen[kNR + 1], runJ[kNR + 1];
  int nruns = 0;
  for (int jj = 0; jj < nr;) {
    const int j = j0 + jj, oy = j / s.Wo, ox = j % s.Wo;
    const int len = std::min(nr - jj, s.Wo - ox);
    runOy[nruns] = oy;
    runOx[nruns] = ox;
    runLen[nruns] = len;
    runJ[nruns] = jj;
    nruns++;
    jj += len;
  }
  const int KK = s.KH * s.KW;
  int c = k0 / KK, ky = (k0 % KK) / s.KW, kx = k0 % s.KW;
  for (int kk = 0; kk < kc; kk++) {
    float* d = dst + kk * kNR;
    for (int j = nr; j < kNR; j++) d[j] = 0.f;
    const float* plane = x + long(c) * s.H * s.W;
    for (int r = 0; r < nruns; r++) {
      float* dr = d + runJ[r];
      const int len = runLen[r];
      const int ty = runOy[r] * s.stride - s.padH + ky;
      const int tx0 = runOx[r] * s.stride - s.padW + kx;
      if (ty < 0 || ty >= s.H) {
        for (int t = 0; t < len; t++) dr[t] = 0.f;
        continue;
      }
      const float* row = plane + long(ty) * s.W;
      // valid t: 0 <= tx0 + t*stride < W
      int lo = tx0 >= 0 ? 0 : (-tx0 + s.stride - 1) / s.stride;
      int hi = tx0 >= s.W ? 0 : (s.W - 1 - tx0) / s.stride + 1;
      lo = std::min(lo, len);
      hi = std::max(lo, std::min(hi, len));
      for (int t = 0; t < lo; t++) dr[t] = 0.f;
      if (s.stride == 1) {
        const float* src = row + tx0;
        for (int t = lo; t < hi; t++) dr[t] = src[t];
      } else {
        for (int t = lo; t < hi; t++) dr[t] = row[tx0 + t * s.stride];
      }
      for (int t = hi; t < len; t++) dr[t] = 0.f;
    }
    if (++kx == s.KW) {
      kx = 0;
      if (++ky == s.KH) {
        ky = 0;
        c++;
      }
    }
  }
}

/// grad_input's A(c, k = (o, t, u)) = w[o, c, kyB - s*t, kxB - s*u] over T x U taps (stride 1:
/// all taps, flipped; stride s: one phase's taps).
struct FlipW {
  const float* w;
  int O, C, KH, KW, T, U, kyB, kxB, s;
};

static void pack_a_flipw(const void* vctx, int, int i0, int mr, int k0, int kc, float* dst) {
  const FlipW& s = *static_cast<const FlipW*>(vctx);
  const int TU = s.T * s.U;
  for (int r = 0; r < mr; r++) {
    const float* wc = s.w + long(i0 + r) * s.KH * s.KW;
    int o = k0 / TU, t = (k0 % TU) / s.U, u = k0 % s.U;
    for (int kk = 0; kk < kc; kk++) {
      dst[kk * mr + r] = wc[(long(o) * s.C * s.KH + s.kyB - s.s * t) * s.KW + s.kxB - s.s * u];
      if (++u == s.U) {
        u = 0;
        if (++t == s.T) {
          t = 0;
          o++;
        }
      }
    }
  }
}

/// grad_weight's A(o, k = (n, hw)) = dy[n, o, hw].
struct DyRows {
  const float* dy;
  int O, HW;
};

static void pack_a_dyrows(const void* vctx, int, int i0, int mr, int k0, int kc, float* dst) {
  const DyRows& s = *static_cast<const DyRows*>(vctx);
  for (int r = 0; r < mr; r++) {
    const int o = i0 + r;
    int n = k0 / s.HW, hw = k0 % s.HW;
    for (int kk = 0; kk < kc;) {
      const int len = std::min(kc - kk, s.HW - hw);
      const float* src = s.dy + (long(n) * s.O + o) * s.HW + hw;
      for (int t = 0; t < len; t++) dst[(kk + t) * mr + r] = src[t];
      kk += len;
      hw = 0;
      n++;
    }
  }
}

/// grad_weight's B(k = (n, oy, ox), j = (c, ky, kx)) = x[n, c, oy*s - pad + ky, ox*s - pad + kx].
struct Im2colT {
  const float* x;
  int C, H, W, KH, KW, stride, pad, Ho, Wo;
};

static void pack_b_im2colT(const void* vctx, int, int k0, int kc, int j0, int nr, float* dst) {
  const Im2colT& s = *static_cast<const Im2colT*>(vctx);
  const int KK = s.KH * s.KW, HoWo = s.Ho * s.Wo;
  int jc[kNR], jky[kNR], jkx[kNR];
  for (int jj = 0; jj < nr; jj++) {
    const int j = j0 + jj;
    jc[jj] = j / KK;
    jky[jj] = (j % KK) / s.KW;
    jkx[jj] = j % s.KW;
  }
  if (nr < kNR)
    for (int kk = 0; kk < kc; kk++)
      for (int j = nr; j < kNR; j++) dst[kk * kNR + j] = 0.f;
  // Walk k in runs of one output row (fixed n, oy).
  int n = k0 / HoWo, oy = (k0 % HoWo) / s.Wo, ox0 = k0 % s.Wo;
  for (int kk = 0; kk < kc;) {
    const int len = std::min(kc - kk, s.Wo - ox0);
    const float* img = s.x + long(n) * s.C * s.H * s.W;
    float* d = dst + kk * kNR;
    for (int jj = 0; jj < nr; jj++) {
      const int ty = oy * s.stride - s.pad + jky[jj];
      float* dj = d + jj;
      if (ty < 0 || ty >= s.H) {
        for (int t = 0; t < len; t++) dj[t * kNR] = 0.f;
        continue;
      }
      const float* row = img + (long(jc[jj]) * s.H + ty) * s.W;
      const int tx0 = ox0 * s.stride - s.pad + jkx[jj];
      int lo = tx0 >= 0 ? 0 : (-tx0 + s.stride - 1) / s.stride;
      int hi = tx0 >= s.W ? 0 : (s.W - 1 - tx0) / s.stride + 1;
      lo = std::min(lo, len);
      hi = std::max(lo, std::min(hi, len));
      for (int t = 0; t < lo; t++) dj[t * kNR] = 0.f;
      for (int t = lo; t < hi; t++) dj[t * kNR] = row[tx0 + t * s.stride];
      for (int t = hi; t < len; t++) dj[t * kNR] = 0.f;
    }
    kk += len;
    ox0 = 0;
    if (++oy == s.Ho) {
      oy = 0;
      n++;
    }
  }
}

struct Dims {
  int N, C, H, W, O, KH, KW, stride, pad, Ho, Wo;
  Dims(int N_, int C_, int H_, int W_, int O_, int KH_, int KW_, int s, int p)
      : N(N_), C(C_), H(H_), W(W_), O(O_), KH(KH_), KW(KW_), stride(s), pad(p) {
    Ho = (H + 2 * pad - KH) / stride + 1;
    Wo = (W + 2 * pad - KW) / stride + 1;
  }
  double flops() const { return 2.0 * N * O * double(Ho) * Wo * C * KH * KW; }
};

// Plain loops for tiny problems (raw results; the caller applies ep).
static void conv2d_naive(const float* x, const float* w, float* y, const Dims& d) {
  for (int n = 0; n < d.N; n++)
    for (int o = 0; o < d.O; o++)
      for (int oy = 0; oy < d.Ho; oy++)
        for (int ox = 0; ox < d.Wo; ox++) {
          float acc = 0.f;
          for (int c = 0; c < d.C; c++)
            for (int ky = 0; ky < d.KH; ky++) {
              const int iy = oy * d.stride - d.pad + ky;
              if (iy < 0 || iy >= d.H) continue;
              for (int kx = 0; kx < d.KW; kx++) {
                const int ix = ox * d.stride - d.pad + kx;
                if (ix < 0 || ix >= d.W) continue;
                acc += x[((long(n) * d.C + c) * d.H + iy) * d.W + ix] *
                       w[((long(o) * d.C + c) * d.KH + ky) * d.KW + kx];
              }
            }
          const long i = ((long(n) * d.O + o) * d.Ho + oy) * d.Wo + ox;
          y[i] = acc;
        }
}

static void conv2d_grad_input_naive(const float* dy, const float* w, float* dx, const Dims& d) {
  for (int n = 0; n < d.N; n++)
    for (int c = 0; c < d.C; c++)
      for (int iy = 0; iy < d.H; iy++)
        for (int ix = 0; ix < d.W; ix++) {
          float acc = 0.f;
          for (int o = 0; o < d.O; o++)
            for (int ky = 0; ky < d.KH; ky++) {
              const int ty = iy + d.pad - ky;
              if (ty < 0 || ty % d.stride != 0 || ty / d.stride >= d.Ho) continue;
              for (int kx = 0; kx < d.KW; kx++) {
                const int tx = ix + d.pad - kx;
                if (tx < 0 || tx % d.stride != 0 || tx / d.stride >= d.Wo) continue;
                acc += dy[((long(n) * d.O + o) * d.Ho + ty / d.stride) * d.Wo + tx / d.stride] *
                       w[((long(o) * d.C + c) * d.KH + ky) * d.KW + kx];
              }
            }
          const long i = ((long(n) * d.C + c) * d.H + iy) * d.W + ix;
          dx[i] = acc;
        }
}

static void conv2d_grad_weight_naive(const float* x, const float* dy, float* dw, const Dims& d) {
  for (int o = 0; o < d.O; o++)
    for (int c = 0; c < d.C; c++)
      for (int ky = 0; ky < d.KH; ky++)
        for (int kx = 0; kx < d.KW; kx++) {
          float acc = 0.f;
          for (int n = 0; n < d.N; n++)
            for (int oy = 0; oy < d.Ho; oy++) {
              const int iy = oy * d.stride - d.pad + ky;
              if (iy < 0 || iy >= d.H) continue;
              for (int ox = 0; ox < d.Wo; ox++) {
                const int ix = ox * d.stride - d.pad + kx;
                if (ix < 0 || ix >= d.W) continue;
                acc += x[((long(n) * d.C + c) * d.H + iy) * d.W + ix] *
                       dy[((long(n) * d.O + o) * d.Ho + oy) * d.Wo + ox];
              }
            }
          const long i = ((long(o) * d.C + c) * d.KH + ky) * d.KW + kx;
          dw[i] = acc;
        }
}

/// conv2d_grad_input for stride > 1, raw (no epilogue).
static void conv2d_grad_input_phases(const float* dy, const float* w, float* dx, const Dims& d) {
  using namespace gemm_detail;
  const int N = d.N, C = d.C, H = d.H, W = d.W, O = d.O, KH = d.KH, KW = d.KW, pad = d.pad;
  // Stride s: split dx by phase (iy mod s, ix mod s). A phase's rows see only the taps
  // ky ≡ iy + pad (mod s), and as a function of the phase's own row index it is a stride-1
  // conv of dy: one GEMM per phase into a compact buffer, then a scatter (raw: the caller applies ep).
  const int s = d.stride;
  const int Hq = (H + s - 1) / s, Wq = (W + s - 1) / s;
  float* tmp = scratch(4, std::size_t(N) * C * Hq * Wq);
  for (int py = 0; py < s && py < H; py++)
    for (int px = 0; px < s && px < W; px++) {
      const int Hp = (H - py + s - 1) / s, Wp = (W - px + s - 1) / s;
      const int ky0 = (py + pad) % s, kx0 = (px + pad) % s;
      const int T = ky0 < KH ? (KH - ky0 + s - 1) / s : 0;
      const int U = kx0 < KW ? (KW - kx0 + s - 1) / s : 0;
      const int cy = (py + pad - ky0) / s, cx = (px + pad - kx0) / s;
      const FlipW sa{w, O, C, KH, KW, T, U, ky0 + s * (T - 1), kx0 + s * (U - 1), s};
      const Im2col sb{dy, long(O) * d.Ho * d.Wo, O, d.Ho, d.Wo, T, U, 1, T - 1 - cy, U - 1 - cx,
                      Hp, Wp};
      const Problem P{N,    C,       Hp * Wp, O * T * U, pack_a_flipw, &sa, pack_b_im2col,
                      &sb,  false,   true,    tmp,       Hp * Wp,      long(C) * Hp * Wp,
                      nullptr, nullptr};
      run(P);
      const long planes = long(N) * C;
      const bool par = threads() > 1 && planes * Hp * Wp > 4096;
      (void)par;
#pragma omp parallel for schedule(static) if (par)
      for (long pl = 0; pl < planes; pl++) {
        const float* src = tmp + pl * Hp * Wp;
        for (int my = 0; my < Hp; my++) {
          const long row = (pl * H + py + long(s) * my) * W + px;
          for (int mx = 0; mx < Wp; mx++) {
            dx[row + long(s) * mx] = src[my * Wp + mx];
          }
        }
      }
    }
}


template <class Ep>
static inline gemm_detail::FinFn fin_for() {
  return std::is_same<Ep, NoEp>::value ? nullptr : gemm_detail::fin_tile<Ep>;
}

}  // namespace conv_detail

/// y [N, O, Ho, Wo] = conv2d(x [N, C, H, W], w [O, C, KH, KW]), Ho = (H + 2 pad - KH)/stride + 1.
template <class Ep>
static inline void conv2d(const float* x, const float* w, float* y, int N, int C, int H, int W,
                          int O, int KH, int KW, int stride, int pad, const Ep& ep) {
  using namespace conv_detail;
  using namespace gemm_detail;
  const Dims d(N, C, H, W, O, KH, KW, stride, pad);
  if (is_tiny(d.flops())) {
    conv2d_naive(x, w, y, d);
    return apply_ep(y, long(N) * O * d.Ho * d.Wo, ep);
  }
  const int K = C * KH * KW;
  const Strided sa{w, 0, K, 1};
  const Im2col sb{x, long(C) * H * W, C, H, W, KH, KW, stride, pad, pad, d.Ho, d.Wo};
  const FinCtx<Ep> fc{y, &ep};
  const Problem P{N,           O,       d.Ho * d.Wo,          K,         pack_a_strided,
                  &sa,         pack_b_im2col, &sb,            false,     true, y,
                  d.Ho * d.Wo, long(O) * d.Ho * d.Wo, fin_for<Ep>(), &fc};
  run(P);
}

/// dx [N, C, H, W] from dy [N, O, Ho, Wo] and w [O, C, KH, KW] (the conv2d's x shape is given).
template <class Ep>
static inline void conv2d_grad_input(const float* dy, const float* w, float* dx, int N, int C,
                                     int H, int W, int O, int KH, int KW, int stride, int pad,
                                     const Ep& ep) {
  using namespace conv_detail;
  using namespace gemm_detail;
  const Dims d(N, C, H, W, O, KH, KW, stride, pad);
  if (is_tiny(d.flops())) {
    conv2d_grad_input_naive(dy, w, dx, d);
    return apply_ep(dx, long(N) * C * H * W, ep);
  }
  if (stride == 1) {
    // dx = conv(dy, flipped wᵀ) with pad KH-1-pad (negative: a crop), H x W outputs.
    const FlipW sa{w, O, C, KH, KW, KH, KW, KH - 1, KW - 1, 1};
    const Im2col sb{dy, long(O) * d.Ho * d.Wo, O, d.Ho, d.Wo, KH, KW, 1, KH - 1 - pad, KW - 1 - pad,
                    H, W};
    const FinCtx<Ep> fc{dx, &ep};
    const Problem P{N,     C,  H * W, O * KH * KW, pack_a_flipw, &sa, pack_b_im2col, &sb, false,
                    true,  dx, H * W, long(C) * H * W, fin_for<Ep>(), &fc};
    run(P);
    return;
  }
  conv2d_grad_input_phases(dy, w, dx, d);
  apply_ep(dx, long(N) * C * H * W, ep);
}

/// dw [O, C, KH, KW] from x [N, C, H, W] and dy [N, O, Ho, Wo].
template <class Ep>
static inline void conv2d_grad_weight(const float* x, const float* dy, float* dw, int N, int C,
                                      int H, int W, int O, int KH, int KW, int stride, int pad,
                                      const Ep& ep) {
  using namespace conv_detail;
  using namespace gemm_detail;
  const Dims d(N, C, H, W, O, KH, KW, stride, pad);
  if (is_tiny(d.flops())) {
    conv2d_grad_weight_naive(x, dy, dw, d);
    return apply_ep(dw, long(O) * C * KH * KW, ep);
  }
  const DyRows sa{dy, O, d.Ho * d.Wo};
  const Im2colT sb{x, C, H, W, KH, KW, stride, pad, d.Ho, d.Wo};
  const FinCtx<Ep> fc{dw, &ep};
  const int CKK = C * KH * KW;
  const Problem P{1,   O,   CKK, N * d.Ho * d.Wo, pack_a_dyrows, &sa, pack_b_im2colT, &sb, true, true,
                  dw, CKK, long(O) * CKK, fin_for<Ep>(), &fc};
  run(P);
}

}  // namespace cld
