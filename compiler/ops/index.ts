// Registers every op. Import this module (for its side effects) before building graphs.
import "./source.ts";
import "./elementwise.ts";
import "./view.ts";
import "./reduce.ts";
import "./matmul.ts";
import "./conv.ts";
import "./gather.ts";
import "./attention.ts";
export { allOps, getOp, type OpDef, type Tensor64 } from "./registry.ts";
