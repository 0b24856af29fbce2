// Command-line parsing on node:util's parseArgs, with errors phrased for people.
import { statSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { DEVICE_CHOICES, type DeviceChoice, isDeviceChoice } from "../runtime/device.ts";

export class UsageError extends Error {}
/** `cldc CMD --help` / `-h`: the message is the command's usage, printed to stdout (exit 0). */
export class HelpRequest extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** `usage` goes with errors; `help` (default: usage) is what --help prints. */
export function parse<T extends Options>(argv: string[], options: T, usage: string, help = usage) {
  // Before the options are checked, so `cldc sample --help` is help, not "unknown option".
  const end = argv.indexOf("--");
  const own = end < 0 ? argv : argv.slice(0, end);
  if (own.includes("--help") || own.includes("-h")) throw new HelpRequest(help);
  try {
    return parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>({
      args: argv,
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const msg = (e as Error).message
      .replace(/^Unknown option/, "unknown option")
      .replace(/\. To specify a positional argument.*$/, "");
    throw new UsageError(`${msg}\n${usage}`);
  }
}

/** `--set a=1 --set b=x` -> Map. */
export function settings(list: string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of list ?? []) {
    const m = /^([A-Za-z_]\w*)=(.*)$/.exec(s);
    if (!m) throw new UsageError(`--set expects name=value, got '${s}'`);
    out.set(m[1], m[2]);
  }
  return out;
}

export function intOption(v: string | undefined, name: string, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`${name} expects an integer, got '${v}'`);
  const n = Number(v);
  if (n < min) throw new UsageError(`${name} must be >= ${min}, got ${n}`);
  return n;
}

/** The input file of a command, checked before any work (a GPU is not opened for a typo). */
export function inputFile(path: string): string {
  let ok = false;
  try {
    ok = statSync(path).isFile();
  } catch {
    // reported below
  }
  if (!ok) throw new UsageError(`no such file: ${path}`);
  return path;
}

/** `--device auto|gpu|cpu|lavapipe` (default: $CLD_DEVICE, else Dawn's adapter as before). */
export function deviceOption(v: string | undefined): DeviceChoice {
  const s = v ?? process.env.CLD_DEVICE ?? "lavapipe";
  if (!isDeviceChoice(s))
    throw new UsageError(`--device expects one of ${DEVICE_CHOICES.join(", ")}, got '${s}'`);
  return s;
}
