// koffi, the FFI that calls libc (process_vm_readv, ptrace, waitpid): loaded once, on first use.
// koffi's package entry also loads its installer's tools, which require node:https (and so tls,
// net, http and streams): about 15 ms of every start. The entry only picks the prebuilt native
// module for this platform and wraps it (deprecated aliases wspy does not use), so it is loaded
// here as the entry would load it, checked against the package's version, and the entry is used
// whenever that fails (another platform, another layout of the package).
// Must not know: what is called through it (reader.ts, ptrace.ts).
// Source of truth: node_modules/koffi/index.js (its init: build/koffi/<platform>_<arch>/koffi.node).

import { createRequire } from "node:module";
import type koffiType from "koffi";

let koffi: typeof koffiType | null = null;

/** koffi's architecture names for Node's process.arch, where they differ by more than case. */
const KOFFI_ARCH: Record<string, string> = { x64: "x64", arm64: "arm64", ia32: "ia32", arm: "armhf", riscv64: "riscv64d", loong64: "loong64" };

export function loadKoffi(): typeof koffiType {
  if (koffi) return koffi;
  const req = createRequire(import.meta.url);
  const arch = KOFFI_ARCH[process.arch];
  if (arch && process.platform === "linux") {
    try {
      const native = req(`koffi/build/koffi/linux_${arch}/koffi.node`) as typeof koffiType & { version?: string };
      const pkg = req("koffi/package.json") as { version?: string };
      if (native && native.version === pkg.version && typeof native.load === "function") return (koffi = native);
    } catch {
      // musl, or a package laid out otherwise: koffi's entry finds its module itself
    }
  }
  return (koffi = req("koffi") as typeof koffiType);
}
