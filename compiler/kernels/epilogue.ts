// Epilogues: elementwise work fused into a kernel's store (an unfused elementwise pass
// costs as much as a JS loop on lavapipe, so bias/activation ride along with the GEMM).

/**
 * WGSL spliced into a kernel. `fn` must define `fn epilogue(v: f32, i: u32) -> f32`, where
 * `i` is the flat index of the output element (batch included). Names declared by `decls`
 * should start with `ep_` to stay clear of the kernel's own names.
 */
export interface Epilogue {
  /** Binding declarations, numbered from `firstBinding` in group 0. */
  decls: (firstBinding: number) => string;
  fn: string;
  /** How many bindings `decls` declares (the caller binds them after the kernel's own). */
  bindings: number;
}

export const identityEpilogue: Epilogue = {
  decls: () => "",
  fn: "fn epilogue(v: f32, i: u32) -> f32 { return v; }",
  bindings: 0,
};

export type Activation = "none" | "relu";

/**
 * Adds `bias[(i / inner) % count]`, then an optional activation. Bindings: firstBinding =
 * bias (array<f32>), firstBinding + 1 = uniform vec4<u32>(inner, count, 0, 0) built by
 * `biasEpilogueUniforms`. Bias over the last axis of a matmul: inner = 1, count = N;
 * per-channel bias of an NCHW conv output: inner = Ho * Wo, count = O.
 */
export function biasEpilogue(opts: { activation?: Activation } = {}): Epilogue {
  const act = opts.activation ?? "none";
  const body = act === "relu" ? "max(v + b, 0.0)" : "v + b";
  return {
    decls: (first) =>
      [
        `@group(0) @binding(${first}) var<storage, read> ep_bias: array<f32>;`,
        `@group(0) @binding(${first + 1}) var<uniform> ep_shape: vec4<u32>;`,
      ].join("\n"),
    fn: [
      "fn epilogue(v: f32, i: u32) -> f32 {",
      "  let b = ep_bias[(i / ep_shape.x) % ep_shape.y];",
      `  return ${body};`,
      "}",
    ].join("\n"),
    bindings: 2,
  };
}

export function biasEpilogueUniforms(inner: number, count: number): Uint32Array {
  return new Uint32Array([inner, count, 0, 0]);
}

/** Only an activation, no extra bindings. */
export function activationEpilogue(act: Activation): Epilogue {
  if (act === "none") return identityEpilogue;
  return {
    decls: () => "",
    fn: "fn epilogue(v: f32, i: u32) -> f32 { return max(v, 0.0); }",
    bindings: 0,
  };
}
