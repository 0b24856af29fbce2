// The text encoder + U-Net of examples/pretrain.cld (models/text_encoder.cld, models/unet.cld),
// written with TensorFlow.js ops in NHWC layout, and its diffusion training step
// (ε-prediction MSE under the cosine schedule, global-norm clipping 1.0, Adam, EMA 0.999).
// Used by bench/unet-peer.ts. Layer for layer the same parameters as the cld model.
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's Node bundle lacks the chained ops (x.reshape); the umbrella package registers
// them (and the gradients) on the same core instance.
import "@tensorflow/tfjs";

export interface UNetConfig {
  batch: number;
  size: number;
  ch: number;
  textDim: number;
  tokens: number;
  vocab: number;
  groups: number;
  heads: number;
  textLayers: number;
  lr: number;
  clipNorm: number;
  ema: number;
}

export const defaultConfig = (vocab: number, tokens: number): UNetConfig => ({
  batch: 16,
  size: 32,
  ch: 32,
  textDim: 64,
  tokens,
  vocab,
  groups: 8,
  heads: 4,
  textLayers: 2,
  lr: 0.0005,
  clipNorm: 1.0,
  ema: 0.999,
});

type Init = "zeros" | "ones" | "glorot" | "he" | "normal02";

export class TfUNet {
  readonly vars = new Map<string, tf.Variable>();
  private emaVars = new Map<string, tf.Variable>();
  private opt: tf.Optimizer;
  private scope: string[] = [];

  /**
   * prefix: unique variable-name prefix (one model per backend in one process).
   * customConvGrad: supply the conv weight gradient (im2col + matMul) where the backend lacks
   * a Conv2DBackpropFilter kernel (TF.js WASM).
   */
  constructor(
    readonly cfg: UNetConfig,
    private prefix: string,
    private customConvGrad: boolean,
  ) {
    this.opt = tf.train.adam(cfg.lr, 0.9, 0.999, 1e-8);
    // Build the variables once by tracing the model on zeros.
    tf.tidy(() => {
      const B = cfg.batch;
      this.unet(
        tf.zeros([B, cfg.size, cfg.size, 3]),
        tf.zeros([B]),
        this.text(tf.zeros([B, cfg.tokens], "int32")),
      );
    });
    for (const [name, v] of this.vars)
      this.emaVars.set(name, tf.variable(v.clone(), false, `${prefix}ema.${name}`));
  }

  parameterCount(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  // ---- parameters ---------------------------------------------------------------------

  private param(name: string, shape: number[], init: Init, fanIn = 0, fanOut = 0): tf.Variable {
    const full = [...this.scope, name].join(".");
    const hit = this.vars.get(full);
    if (hit) return hit;
    let value: tf.Tensor;
    if (init === "zeros") value = tf.zeros(shape);
    else if (init === "ones") value = tf.ones(shape);
    else if (init === "glorot") {
      const lim = Math.sqrt(6 / (fanIn + fanOut));
      value = tf.randomUniform(shape, -lim, lim);
    } else if (init === "he") value = tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn));
    else value = tf.randomNormal(shape, 0, 0.02);
    const v = tf.variable(value, true, `${this.prefix}${full}`);
    this.vars.set(full, v);
    return v;
  }

  private counters = new Map<string, number>();
  /** Runs f inside a uniquely named scope (like cld's per-call parameter paths). */
  private block<T>(kind: string, f: () => T): T {
    const base = [...this.scope, kind].join(".");
    const n = this.counters.get(base) ?? 0;
    this.counters.set(base, n + 1);
    this.scope.push(n ? `${kind}_${n}` : kind);
    try {
      return f();
    } finally {
      this.scope.pop();
    }
  }
  private resetScopes() {
    this.counters.clear();
    this.scope = [];
  }

  // ---- layers (models/layers.cld) -------------------------------------------------------

  private linear(x: tf.Tensor, out: number, bias = true): tf.Tensor {
    return this.block("linear", () => {
      const I = x.shape[x.shape.length - 1];
      const w = this.param("w", [I, out], "glorot", I, out);
      let y = tf.matMul(x.reshape([-1, I]), w);
      if (bias) y = y.add(this.param("b", [out], "zeros"));
      return y.reshape([...x.shape.slice(0, -1), out]);
    });
  }

  private conv(x: tf.Tensor4D, out: number, k = 3): tf.Tensor4D {
    return this.block("conv", () => {
      const C = x.shape[3];
      const w = this.param("w", [k, k, C, out], "he", C * k * k, out * k * k);
      const b = this.param("b", [out], "zeros");
      return this.conv2d(x, w as tf.Tensor4D, k).add(b) as tf.Tensor4D;
    });
  }

  private conv2d(x: tf.Tensor4D, w: tf.Tensor4D, k: number): tf.Tensor4D {
    const pad = k === 3 ? "same" : "valid";
    if (!this.customConvGrad) return tf.conv2d(x, w, 1, pad);
    const f = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x4, w4, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
      save([x4, w4]);
      return {
        value: tf.conv2d(x4, w4, 1, pad),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
          const [B, H, W, C] = xs.shape;
          const out = ws.shape[3];
          const dy4 = dy as tf.Tensor4D;
          const dx = tf.conv2dTranspose(dy4, ws, [B, H, W, C], 1, pad);
          // Weight gradient: im2col(x)ᵀ · dy, columns ordered (kh, kw, C) like the filter.
          let cols: tf.Tensor;
          if (k === 1) cols = xs;
          else {
            const xp = tf.pad(xs, [
              [0, 0],
              [1, 1],
              [1, 1],
              [0, 0],
            ]);
            const parts: tf.Tensor[] = [];
            for (let i = 0; i < k; i++)
              for (let j = 0; j < k; j++) parts.push(tf.slice(xp, [0, i, j, 0], [B, H, W, C]));
            cols = tf.concat(parts, 3);
          }
          const dw = tf
            .matMul(
              cols.reshape([B * H * W, k * k * C]),
              dy4.reshape([B * H * W, out]),
              true,
              false,
            )
            .reshape([k, k, C, out]);
          return [dx, dw];
        },
      };
    }) as Parameters<typeof tf.customGrad>[0]);
    return f(x, w) as tf.Tensor4D;
  }

  private layerNorm(x: tf.Tensor): tf.Tensor {
    return this.block("layernorm", () => {
      const D = x.shape[x.shape.length - 1];
      const { mean, variance } = tf.moments(x, -1, true);
      const n = x.sub(mean).mul(tf.rsqrt(variance.add(1e-5)));
      return n.mul(this.param("g", [D], "ones")).add(this.param("b", [D], "zeros"));
    });
  }

  private groupNorm(x: tf.Tensor4D): tf.Tensor4D {
    return this.block("groupnorm", () => {
      const [B, H, W, C] = x.shape;
      const G = this.cfg.groups;
      const xg = x.reshape([B, H, W, G, C / G]);
      const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
      const n = xg
        .sub(mean)
        .mul(tf.rsqrt(variance.add(1e-5)))
        .reshape([B, H, W, C]);
      return n.mul(this.param("g", [C], "ones")).add(this.param("b", [C], "zeros")) as tf.Tensor4D;
    });
  }

  // ---- attention (models/attention.cld) -------------------------------------------------

  private multiHead(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor {
    const h = this.cfg.heads;
    const [B, T, D] = q.shape as number[];
    const S = k.shape[1] as number;
    const dh = D / h;
    const qh = q.reshape([B, T, h, dh]).transpose([0, 2, 1, 3]);
    const kh = k.reshape([B, S, h, dh]).transpose([0, 2, 1, 3]);
    const vh = v.reshape([B, S, h, dh]).transpose([0, 2, 1, 3]);
    const weights = tf.softmax(tf.matMul(qh, kh, false, true).mul(1 / Math.sqrt(dh)));
    return tf.matMul(weights, vh).transpose([0, 2, 1, 3]).reshape([B, T, D]);
  }

  private mm(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
    const I = x.shape[x.shape.length - 1];
    return tf.matMul(x.reshape([-1, I]), w).reshape([...x.shape.slice(0, -1), w.shape[1]!]);
  }

  private selfAttention(x: tf.Tensor): tf.Tensor {
    return this.block("selfattn", () => {
      const D = x.shape[2]!;
      const p = (n: string) => this.param(n, [D, D], "glorot", D, D);
      const [wq, wk, wv, wo] = [p("wq"), p("wk"), p("wv"), p("wo")];
      const bo = this.param("bo", [D], "zeros");
      return this.mm(this.multiHead(this.mm(x, wq), this.mm(x, wk), this.mm(x, wv)), wo).add(bo);
    });
  }

  private crossAttention(x: tf.Tensor, ctx: tf.Tensor): tf.Tensor {
    return this.block("crossattn", () => {
      const D = x.shape[2]!;
      const E = ctx.shape[2]!;
      const wq = this.param("wq", [D, D], "glorot", D, D);
      const wk = this.param("wk", [E, D], "glorot", E, D);
      const wv = this.param("wv", [E, D], "glorot", E, D);
      const wo = this.param("wo", [D, D], "glorot", D, D);
      const bo = this.param("bo", [D], "zeros");
      return this.mm(this.multiHead(this.mm(x, wq), this.mm(ctx, wk), this.mm(ctx, wv)), wo).add(
        bo,
      );
    });
  }

  // ---- text encoder (models/text_encoder.cld) -------------------------------------------

  text(tokens: tf.Tensor): tf.Tensor {
    return this.block("text", () => {
      const { textDim: D, vocab, textLayers, batch: B, tokens: T } = this.cfg;
      const tok = this.param("tok", [vocab, D], "normal02");
      const pos = this.param("pos", [T, D], "normal02");
      // embed() as one-hot · table: TF.js WASM has no UnsortedSegmentSum (gather's gradient).
      const oh = tf.oneHot(tokens.reshape([B * T]) as tf.Tensor1D, vocab).toFloat();
      let h = tf.matMul(oh, tok).reshape([B, T, D]).add(pos);
      for (let i = 0; i < textLayers; i++)
        h = this.block("block", () => {
          const a = h.add(this.selfAttention(this.layerNorm(h)));
          const u = this.linear(this.layerNorm(a), D * 4);
          const gelu = u
            .mul(0.5)
            .mul(tf.tanh(u.add(u.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1));
          return a.add(this.linear(gelu, D));
        });
      return this.layerNorm(h);
    });
  }

  // ---- U-Net (models/unet.cld) ----------------------------------------------------------

  private timeEmbedding(t: tf.Tensor, dim: number): tf.Tensor {
    return this.block("temb", () => {
      const half = dim / 2;
      const freqs = tf.exp(tf.range(0, half).mul(-Math.log(1000) / half));
      const angles = t
        .mul(1000)
        .reshape([-1, 1])
        .mul(freqs.reshape([1, half]));
      const e = tf.concat([tf.sin(angles), tf.cos(angles)], 1);
      return this.linear(silu(this.linear(e, dim)), dim);
    });
  }

  private resBlock(x: tf.Tensor4D, temb: tf.Tensor, out: number): tf.Tensor4D {
    return this.block("resblock", () => {
      const [B, , , C] = x.shape;
      let h = this.conv(silu(this.groupNorm(x)) as tf.Tensor4D, out);
      h = h.add(this.linear(silu(temb), out).reshape([B, 1, 1, out]));
      h = this.conv(silu(this.groupNorm(h)) as tf.Tensor4D, out);
      const skip = C !== out ? this.conv(x, out, 1) : x;
      return h.add(skip);
    });
  }

  private spatialTransformer(x: tf.Tensor4D, ctx: tf.Tensor): tf.Tensor4D {
    return this.block("st", () => {
      const [B, H, W, C] = x.shape;
      const seq = x.reshape([B, H * W, C]); // NHWC: pixels × channels without a transpose
      let s = seq.add(this.selfAttention(this.layerNorm(seq)));
      s = s.add(this.crossAttention(this.layerNorm(s), ctx));
      return x.add(s.reshape([B, H, W, C]));
    });
  }

  unet(x: tf.Tensor4D, t: tf.Tensor, ctx: tf.Tensor): tf.Tensor4D {
    return this.block("unet", () => {
      const ch = this.cfg.ch;
      const temb = this.timeEmbedding(t, ch * 4);
      const h0 = this.conv(x, ch);
      const h1 = this.resBlock(h0, temb, ch);
      const d1 = this.conv(avgpool2x(h1), ch * 2);
      const h2 = this.spatialTransformer(this.resBlock(d1, temb, ch * 2), ctx);
      const d2 = this.conv(avgpool2x(h2), ch * 2);
      let mid = this.spatialTransformer(this.resBlock(d2, temb, ch * 2), ctx);
      mid = this.resBlock(mid, temb, ch * 2);
      let u2 = this.resBlock(tf.concat([upsample2x(mid), h2], 3), temb, ch * 2);
      u2 = this.spatialTransformer(u2, ctx);
      const u1 = this.resBlock(tf.concat([upsample2x(u2), h1], 3), temb, ch);
      return this.conv(silu(this.groupNorm(u1)) as tf.Tensor4D, 3);
    });
  }

  /** The diffusion loss of examples/pretrain.cld's `train` step (noise drawn inside). */
  loss(x: tf.Tensor4D, tokens: tf.Tensor): tf.Scalar {
    this.resetScopes();
    const { batch: B, size: S } = this.cfg;
    const t = tf.randomUniform([B]);
    const abar = tf.square(tf.cos(t.mul(0.98).add(0.01).mul(1.5707963))).reshape([B, 1, 1, 1]);
    const noise = tf.randomNormal([B, S, S, 3]);
    const xt = tf
      .sqrt(abar)
      .mul(x)
      .add(tf.sqrt(tf.sub(1, abar)).mul(noise)) as tf.Tensor4D;
    const pred = this.unet(xt, t, this.text(tokens));
    return tf.mean(tf.square(pred.sub(noise))) as tf.Scalar;
  }

  /** One training step; resolves when the GPU/CPU work is done. Returns the loss. */
  async step(x: tf.Tensor4D, tokens: tf.Tensor): Promise<number> {
    const varList = [...this.vars.values()];
    const fence = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => this.loss(x, tokens), varList);
      // Global-norm clipping, as cld's adamw(clip_norm: 1.0).
      const names = Object.keys(grads);
      // Pairwise adds, not addN: TF.js WebGPU's AddN binds one storage buffer per input
      // and fails validation beyond 8 (151 gradients here).
      let sq = tf.sum(tf.square(grads[names[0]]));
      for (const n of names.slice(1)) sq = sq.add(tf.sum(tf.square(grads[n])));
      const norm = tf.sqrt(sq);
      const scale = tf.minimum(1, tf.div(this.cfg.clipNorm, norm.add(1e-6)));
      const clipped: tf.NamedTensorMap = {};
      for (const n of names) clipped[n] = grads[n].mul(scale);
      this.opt.applyGradients(clipped);
      for (const [name, v] of this.vars) {
        const e = this.emaVars.get(name)!;
        e.assign(e.mul(this.cfg.ema).add(v.mul(1 - this.cfg.ema)));
      }
      // Something that depends on the last update, to wait for the whole step.
      return tf.stack([value, tf.sum([...this.emaVars.values()].at(-1)!)]);
    });
    const out = await fence.data();
    fence.dispose();
    return out[0];
  }
}

function silu(x: tf.Tensor): tf.Tensor {
  return x.mul(tf.sigmoid(x));
}

/** 2×2 average pooling as reshape + mean (no AvgPoolGrad needed). */
function avgpool2x(x: tf.Tensor4D): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  return x.reshape([B, H / 2, 2, W / 2, 2, C]).mean([2, 4]) as tf.Tensor4D;
}

/** Nearest-neighbour 2× upsampling as a broadcast multiply (gradient: a sum; TF.js has no
 * rank-6 Tile gradient, which broadcastTo would need). */
function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  return x
    .reshape([B, H, 1, W, 1, C])
    .mul(tf.ones([1, 1, 2, 1, 2, 1]))
    .reshape([B, 2 * H, 2 * W, C]) as tf.Tensor4D;
}
