// Member access `a.b`: fields of a data batch or record, an adapter's slots, a model's
// parameter (`text.tok`), a data source's compile-time constants, a tensor's shape.
import type { Expr } from "../../grammar/ast.ts";
import { didYouMean } from "../diagnostics.ts";
import type { Graph } from "../ir.ts";
import type { AdapterSlot } from "./adapters.ts";
import { describe, fail, int, type Value } from "./values.ts";

export function evalMember(
  g: Graph,
  slots: Map<string, AdapterSlot[]>,
  obj: Value,
  e: Extract<Expr, { kind: "Member" }>,
): Value {
  if (obj.kind === "batch") {
    const v = obj.fields.get(e.member.name);
    if (v) return v;
    return fail(
      `the data source '${obj.source.name.name}' has no field '${e.member.name}'${didYouMean(e.member.name, obj.fields.keys())}; fields: ${[...obj.fields.keys()].join(", ")}`,
      e.member,
    );
  }
  if (obj.kind === "record") {
    const v = obj.fields.get(e.member.name);
    if (v) return v;
    return fail(
      `no field '${e.member.name}'${didYouMean(e.member.name, obj.fields.keys())}; fields: ${[...obj.fields.keys()].join(", ")}`,
      e.member,
    );
  }
  if (obj.kind === "adapter") {
    if (e.member.name !== "slots")
      return fail(
        `adapter '${obj.name}' has no member '${e.member.name}' (did you mean 'slots'?)`,
        e.member,
      );
    const list = slots.get(obj.name) ?? [];
    if (list.length === 0)
      return fail(
        `adapter '${obj.name}' has no slots yet: call the adapted model before using '${obj.name}.slots'`,
        e,
      );
    return {
      kind: "list",
      items: list.map((sl) => ({
        kind: "record",
        fields: new Map<string, Value>([
          ["w", { kind: "tensor", id: sl.w }],
          ["a", { kind: "tensor", id: sl.a }],
          ["b", { kind: "tensor", id: sl.b }],
          ["past", { kind: "tensor", id: sl.past }],
        ]),
      })),
    };
  }
  if (obj.kind === "block" && obj.scope) {
    const full = `${obj.scope}.${memberPath(e)}`;
    const node = g.nodes.find((n) => n.op === "param" && n.name === full);
    if (node) return { kind: "tensor", id: node.id };
    return fail(
      `model '${obj.scope}' has no parameter '${memberPath(e)}' in this step (call the model first; names look like ${obj.scope}.h.w)`,
      e.member,
    );
  }
  if (obj.kind === "data") {
    const c = obj.constants[e.member.name];
    if (c !== undefined) return int(c);
    return fail(
      `data source '${obj.name}' has no constant '${e.member.name}'${didYouMean(e.member.name, Object.keys(obj.constants))}`,
      e.member,
    );
  }
  if (obj.kind === "tensor" && e.member.name === "shape") {
    return { kind: "list", items: g.shape(obj.id).map(int) };
  }
  return fail(`${describe(obj)} has no member '${e.member.name}'`, e.member);
}

/** The parameter path below a model, e.g. `tok` in `text.tok`. */
function memberPath(e: Extract<Expr, { kind: "Member" }>): string {
  return e.member.name;
}
