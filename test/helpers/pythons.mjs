// The Python interpreters this machine has, for tests that run real targets.
// Each candidate is run once (`-c` printing its version) and kept only if that works.
// Sources:
//   pyenv builds     $PYENV_ROOT/versions/*/bin/python (PYENV_ROOT, else ~/.pyenv)   "pyenv 3.8.18"
//   Debian's python  /usr/bin/python3.11                                              "debian 3.11"
//   provisioned      $WSPY_PYTHONS_DIR/root/usr/bin/python3.1[45]
//                    (WSPY_PYTHONS_DIR, else ~/.cache/wspy-pythons)                   "provisioned 3.14.10"
//   free-threaded    $WSPY_PYTHONS_DIR/ft/3.Xt/bin/python3.Xt (built by provision-pythons
//                    with WSPY_PYTHON_VERSIONS="... 3.13t")                          "provisioned 3.13.15t"
//                    (version "3.13.15", freeThreaded true: a label ending in t asks for one)
// The result is computed once per process and cached.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Labels a fully provisioned machine of this kind has (prefix match on the version). */
const ALL_EXPECTED = [
  "pyenv 2.7", "pyenv 3.6", "pyenv 3.7", "pyenv 3.8", "pyenv 3.9", "pyenv 3.10",
  "pyenv 3.11", "pyenv 3.12", "pyenv 3.13", "debian 3.11", "provisioned 3.14",
  "provisioned 3.15", "provisioned 3.13t",
];
// WSPY_TEST_PYTHONS="provisioned 3.13t,pyenv 3.12" narrows every test to those interpreters (a
// developer's shortcut; CI never sets it, so there every interpreter runs)
const ONLY = (process.env.WSPY_TEST_PYTHONS || "").split(",").map((x) => x.trim()).filter(Boolean);
export const EXPECTED_PYTHONS = ONLY.length ? ALL_EXPECTED.filter((l) => ONLY.includes(l)) : ALL_EXPECTED;

/** The free-threaded builds provision-pythons is asked for (.ci/run passes the same list). */
export const FREE_THREADED_MINORS = ["3.13"];

const PROBE = "import sys, sysconfig; sys.stdout.write('%d.%d.%d' % tuple(sys.version_info[:3]) + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''))";

function pyenvRoot() {
  return process.env.PYENV_ROOT || join(homedir(), ".pyenv");
}

function pythonsDir() {
  return process.env.WSPY_PYTHONS_DIR || join(homedir(), ".cache", "wspy-pythons");
}

/** The interpreter's "X.Y.Z" ("X.Y.Zt" for a free-threaded build), or null when it does not run. */
function probe(path) {
  if (!existsSync(path)) return null;
  try {
    const out = execFileSync(path, ["-c", PROBE], {
      encoding: "utf8", timeout: 20000, stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    return /^\d+\.\d+\.\d+t?$/.test(out) ? out : null;
  } catch {
    return null;
  }
}

function versionKey(v) {
  return v.split(".").map(Number).reduce((acc, n) => acc * 1000 + n, 0);
}

let cached = null;

/**
 * @returns {{label: string, version: string, path: string, kind: "pyenv"|"debian"|"provisioned", freeThreaded: boolean}[]}
 */
export function findPythons() {
  if (cached) return cached;
  const found = [];

  const versionsDir = join(pyenvRoot(), "versions");
  let names = [];
  try {
    names = readdirSync(versionsDir);
  } catch {
    names = [];
  }
  for (const name of names) {
    const path = join(versionsDir, name, "bin", "python");
    const version = probe(path);
    if (version && !version.endsWith("t")) found.push({ label: `pyenv ${version}`, version, path, kind: "pyenv", freeThreaded: false });
  }
  found.sort((a, b) => versionKey(a.version) - versionKey(b.version));

  const debian = "/usr/bin/python3.11";
  const debVersion = probe(debian);
  if (debVersion) {
    const minor = debVersion.split(".").slice(0, 2).join(".");
    found.push({ label: `debian ${minor}`, version: debVersion, path: debian, kind: "debian", freeThreaded: false });
  }

  for (const minor of ["3.14", "3.15"]) {
    const path = join(pythonsDir(), "root", "usr", "bin", `python${minor}`);
    const version = probe(path);
    if (version && !version.endsWith("t")) found.push({ label: `provisioned ${version}`, version, path, kind: "provisioned", freeThreaded: false });
  }
  for (const minor of FREE_THREADED_MINORS) {
    const path = join(pythonsDir(), "ft", `${minor}t`, "bin", `python${minor}t`);
    const version = probe(path);
    if (version && version.endsWith("t")) {
      found.push({ label: `provisioned ${version}`, version: version.slice(0, -1), path, kind: "provisioned", freeThreaded: true });
    }
  }

  cached = ONLY.length ? found.filter((p) => ONLY.some((l) => matches(p, l))) : found;
  return cached;
}

/** The found interpreter matching an EXPECTED_PYTHONS label ("pyenv 3.8"), or undefined. */
export function findByLabel(expected) {
  return findPythons().find((p) => matches(p, expected));
}

/** Does interpreter p answer label ("pyenv 3.8", "provisioned 3.13t")? */
function matches(p, label) {
  const [kind, wanted] = label.split(" ");
  const ft = wanted.endsWith("t");
  const minor = ft ? wanted.slice(0, -1) : wanted;
  return p.kind === kind && p.freeThreaded === ft && (p.version === minor || p.version.startsWith(minor + "."));
}

/**
 * Why the interpreter for `minor` ("3.8", or a full label such as "debian 3.11") is missing,
 * for t.skip messages. Returns null when it is present.
 */
export function missingReason(minor) {
  const label = String(minor);
  let kind;
  let ver = label;
  if (label.includes(" ")) [kind, ver] = label.split(" ");
  else if (ver === "3.14" || ver === "3.15" || ver.endsWith("t")) kind = "provisioned";
  else kind = "pyenv";
  if (findByLabel(`${kind} ${ver}`)) return null;
  switch (kind) {
    case "pyenv":
      return `no working pyenv build of Python ${ver} under ${join(pyenvRoot(), "versions")}`
        + ` (install it with \`pyenv install ${ver}\`)`;
    case "debian":
      return `no working /usr/bin/python${ver} (install Debian's python${ver} package)`;
    case "provisioned":
      if (ver.endsWith("t")) {
        return `no working free-threaded python${ver} under ${join(pythonsDir(), "ft", ver, "bin")}`
          + ` (build it with WSPY_PYTHON_VERSIONS="3.14 3.15 ${ver}" ../shared/tools/provision-pythons, about 10 minutes)`;
      }
      return `no working python${ver} under ${join(pythonsDir(), "root", "usr", "bin")}`
        + " (provision it into WSPY_PYTHONS_DIR, default ~/.cache/wspy-pythons)";
    default:
      return `no Python ${label} on this machine`;
  }
}
