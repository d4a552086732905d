// Writing results: atomically (a temp file in the same folder, then rename), so a profile is
// either whole or absent, whatever interrupts wspy.
// Must not know: formats or the core.
// Source of truth: rename(2) is atomic within one file system.

import { writeFileSync, renameSync, unlinkSync, accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { WspyError } from "./errors.js";

/** Fails early (before sampling) when the output cannot be written. */
export function checkWritable(file: string): void {
  const dir = path.dirname(path.resolve(file));
  try {
    if (!statSync(dir).isDirectory()) throw new Error("not a folder");
    accessSync(dir, constants.W_OK);
  } catch {
    throw new WspyError("BAD_INPUT", `cannot write ${file}: the folder ${dir} does not exist or is not writable`, "choose another path with -o");
  }
  try {
    if (statSync(file).isDirectory()) throw new WspyError("BAD_INPUT", `cannot write ${file}: it is a folder`, "choose a file name with -o");
  } catch (e) {
    if (e instanceof WspyError) throw e;
  }
}

export function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* not created */ }
    throw new WspyError("BAD_INPUT", `cannot write ${file}: ${(e as Error).message}`, "check free space and permissions");
  }
}
