// Version-table files (the built-in ones in assembly/tables/ and users' plugins): read, checked
// for shape (JSON, types, known names), and handed to the core field by field; the core checks
// meaning (required fields, offsets inside struct sizes). Errors name the file and the field.
// Must not know: which fields a version needs or what they mean (the core's fields.ts does).
// Source of truth: the format "wspy-version-table/1" documented in README ("Version tables").

import { readdirSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { WspyError } from "../errors.js";
import { readInputFile, quoteText, jsonProblem } from "../io/files.js";
import { Core, PACKAGE_ROOT, ST_OK } from "./core.js";
import { traceMark } from "../trace.js";

export const TABLE_FORMAT = "wspy-version-table/1";
const TOP_KEYS = ["format", "versions", "source", "python", "capabilities", "offsets"];
const REQUIRED_TOP = ["format", "versions", "source", "offsets", "capabilities"];

export interface TableInfo {
  id: number;
  file: string;
  plugin: boolean;
  min: string;
  max: string;
  source: string;
  python?: string;
}

/** Field names of the core, as "section.field" -> field id (the same for every core: read once). */
let fieldIndexCache: Map<string, number> | null = null;
function fieldIndex(core: Core): Map<string, number> {
  if (fieldIndexCache) return fieldIndexCache;
  const m = (fieldIndexCache = new Map<string, number>());
  for (let i = 0, n = core.x.fieldCount(); i < n; i++) {
    m.set(`${core.str(core.x.fieldSection(i))}.${core.str(core.x.fieldName(i))}`, i);
  }
  return m;
}

let capIndexCache: Map<string, { id: number; values: string[] }> | null = null;
function capIndex(core: Core): Map<string, { id: number; values: string[] }> {
  if (capIndexCache) return capIndexCache;
  const m = (capIndexCache = new Map<string, { id: number; values: string[] }>());
  for (let i = 0, n = core.x.capCount(); i < n; i++) {
    const values = core.str(core.x.capValues(i));
    m.set(core.str(core.x.capName(i)), { id: i, values: values ? values.split("|") : [] });
  }
  return m;
}

/** Table id's value of the capability `name` as the format names it (a value's name, or a number); undefined for an unknown name. */
export function tableCapability(core: Core, id: number, name: string): string | number | undefined {
  const c = capIndex(core).get(name);
  if (!c) return undefined;
  const v = core.x.tableCap(id, c.id);
  return c.values.length ? c.values[v] : v;
}

/** "3.8" / "3.8.5" -> PY_VERSION_HEX range bounds. */
export function versionBounds(v: string, upper: boolean): number | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(v);
  if (!m) return null;
  const major = +m[1], minor = +m[2];
  if (major > 255 || minor > 255) return null;
  if (m[3] === undefined) return ((major << 24) | (minor << 16) | (upper ? 0xffff : 0)) >>> 0;
  const micro = +m[3];
  if (micro > 255) return null;
  return ((major << 24) | (minor << 16) | (micro << 8) | (upper ? 0xff : 0)) >>> 0;
}

/** A name from the file, fit for a message: printable ASCII as it is, anything else quoted and escaped. */
function named(s: string): string {
  return /^[\x21-\x7e]{1,80}$/.test(s) ? s : quoteText(s);
}

function bad(file: string, where: string, what: string): never {
  throw new WspyError("BAD_TABLE", `version table ${file}: ${where}: ${what}`,
    "fix the file (format in README, section \"Version tables\"), or check it with `wspy tables check FILE`");
}

const PROBLEMS: Record<number, string> = {
  1: "is missing (the table's capabilities need it)",
  2: "lies past its struct's size",
  3: "has a value out of range",
  4: "is missing",
  5: "has no size in its section, so it cannot be checked",
};

/** Loads one table file into the core. Returns its info. Throws BAD_TABLE naming file and field. */
export function loadTableFile(core: Core, file: string, plugin: boolean): TableInfo {
  let text: string;
  try {
    // bounded, regular files only (host/io/files.ts): /dev/zero or a link to it is refused
    text = readInputFile(file, { kind: "version table", what: `version table ${file}` }).toString("utf8");
  } catch (e) {
    if (e instanceof WspyError && (e.code === "BAD_INPUT" || e.code === "PERMISSION")) throw new WspyError("BAD_TABLE", e.message, e.hint);
    throw e;
  }
  return loadTableText(core, text, file, plugin);
}

/** Loads a table from its text (file: how errors name it, e.g. a snapshot holding it). */
export function loadTableText(core: Core, text: string, file: string, plugin: boolean): TableInfo {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    bad(file, "JSON", jsonProblem(e));
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) bad(file, "top level", "must be a JSON object");
  const t = doc as Record<string, unknown>;
  for (const k of Object.keys(t)) if (!TOP_KEYS.includes(k)) bad(file, named(k), "unknown key");
  for (const k of REQUIRED_TOP) if (!(k in t)) bad(file, k, "is missing");
  if (t.format !== TABLE_FORMAT) bad(file, "format", `must be "${TABLE_FORMAT}"`);
  if (typeof t.source !== "string" || !t.source) bad(file, "source", "must be a non-empty string (where the numbers came from)");
  if (t.python !== undefined && typeof t.python !== "string") bad(file, "python", "must be a string");
  const versions = t.versions as Record<string, unknown>;
  if (typeof versions !== "object" || versions === null) bad(file, "versions", "must be an object {min, max}");
  for (const k of Object.keys(versions)) if (k !== "min" && k !== "max") bad(file, `versions.${named(k)}`, "unknown key");
  if (typeof versions.min !== "string") bad(file, "versions.min", "must be a version string like \"3.8\" or \"3.8.5\"");
  if (typeof versions.max !== "string") bad(file, "versions.max", "must be a version string like \"3.8\" or \"3.8.5\"");
  const minHex = versionBounds(versions.min, false);
  const maxHex = versionBounds(versions.max, true);
  if (minHex === null) bad(file, "versions.min", `${quoteText(versions.min)} is not a version like "3.8" or "3.8.5"`);
  if (maxHex === null) bad(file, "versions.max", `${quoteText(versions.max)} is not a version like "3.8" or "3.8.5"`);
  if (minHex > maxHex) bad(file, "versions", "min is after max");

  const id = core.x.tableNew(minHex, maxHex, plugin ? 1 : 0);
  const caps = capIndex(core);
  const capsDoc = t.capabilities as Record<string, unknown>;
  if (typeof capsDoc !== "object" || capsDoc === null || Array.isArray(capsDoc)) bad(file, "capabilities", "must be an object");
  for (const [k, v] of Object.entries(capsDoc)) {
    const c = caps.get(k);
    if (!c) bad(file, `capabilities.${named(k)}`, `unknown capability (known: ${[...caps.keys()].join(", ")})`);
    let value: number;
    if (c.values.length === 0) {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0) bad(file, `capabilities.${k}`, "must be a non-negative integer");
      value = v;
    } else {
      if (typeof v !== "string" || !c.values.includes(v)) bad(file, `capabilities.${k}`, `must be one of ${c.values.map((s) => `"${s}"`).join(", ")}`);
      value = c.values.indexOf(v);
    }
    core.x.tableSetCap(id, c.id, value);
  }
  const fields = fieldIndex(core);
  const offsets = t.offsets as Record<string, unknown>;
  if (typeof offsets !== "object" || offsets === null || Array.isArray(offsets)) bad(file, "offsets", "must be an object of sections");
  const sections = new Set([...fields.keys()].map((k) => k.split(".")[0]));
  for (const [section, body] of Object.entries(offsets)) {
    if (!sections.has(section)) bad(file, `offsets.${named(section)}`, `unknown section (known: ${[...sections].join(", ")})`);
    if (typeof body !== "object" || body === null || Array.isArray(body)) bad(file, `offsets.${section}`, "must be an object of field offsets");
    for (const [field, value] of Object.entries(body as Record<string, unknown>)) {
      const fid = fields.get(`${section}.${field}`);
      if (fid === undefined) bad(file, `offsets.${section}.${named(field)}`, "unknown field");
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
        bad(file, `offsets.${section}.${field}`, "must be a non-negative integer");
      }
      core.x.tableSetField(id, fid, value);
    }
  }
  if (core.x.tableValidate(id) !== ST_OK) {
    const detail = core.x.lastErrorDetail();
    const problem = Math.floor(detail / 1000);
    const what = detail % 1000;
    let where: string;
    if (what >= 900) where = `capabilities.${core.str(core.x.capName(what - 900))}`;
    else where = `offsets.${core.str(core.x.fieldSection(what))}.${core.str(core.x.fieldName(what))}`;
    bad(file, where, PROBLEMS[problem] ?? "is invalid");
  }
  return { id, file, plugin, min: versions.min, max: versions.max, source: t.source, python: t.python as string | undefined };
}

/** The folder of built-in tables. */
export const BUILTIN_TABLES_DIR = path.join(PACKAGE_ROOT, "assembly", "tables");

function jsonFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** The user's plugin folders: $WSPY_VERSION_TABLES, then the config folder. */
export function pluginDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.WSPY_VERSION_TABLES) dirs.push(process.env.WSPY_VERSION_TABLES);
  const config = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), ".config");
  dirs.push(path.join(config, "wspy", "version-tables"));
  return dirs;
}

/**
 * Loads every table: built-ins (unless WSPY_NO_BUILTIN_TABLES=1, for tests), plugin folders,
 * and explicit files (later ones win). Returns what was loaded. For `wspy tables`; attaching
 * loads the plugins only, and the one built-in table a version needs (loadBuiltinFor).
 */
export function loadAllTables(core: Core, extraFiles: string[] = []): TableInfo[] {
  const out: TableInfo[] = [];
  if (process.env.WSPY_NO_BUILTIN_TABLES !== "1") {
    for (const f of jsonFilesIn(BUILTIN_TABLES_DIR)) out.push(loadTableFile(core, f, false));
  }
  out.push(...loadPluginTables(core, extraFiles));
  return out;
}

/** Loads the plugin tables: plugin folders, then explicit files (later ones win). */
export function loadPluginTables(core: Core, extraFiles: string[] = []): TableInfo[] {
  const out: TableInfo[] = [];
  for (const dir of pluginDirs()) {
    if (existsSync(dir)) for (const f of jsonFilesIn(dir)) out.push(loadTableFile(core, f, true));
  }
  for (const f of extraFiles) out.push(loadTableFile(core, f, true));
  traceMark("tables");
  return out;
}

/** The built-in table file of a version: each covers one minor version, cpython-X.Y.json. */
export function builtinTableFile(versionHex: number): string {
  return path.join(BUILTIN_TABLES_DIR, `cpython-${versionHex >>> 24}.${(versionHex >>> 16) & 0xff}.json`);
}

/**
 * Loads the built-in table of versionHex into core, unless it is in tables already or there is
 * none (3.13+: the target's own debug offsets; WSPY_NO_BUILTIN_TABLES=1). Appends it to tables.
 * A version's table is read when a target of that version needs it, not at every start.
 */
export function loadBuiltinFor(core: Core, versionHex: number, tables: TableInfo[]): void {
  if (process.env.WSPY_NO_BUILTIN_TABLES === "1") return;
  const file = builtinTableFile(versionHex);
  if (tables.some((t) => t.file === file) || !existsSync(file)) return;
  tables.push(loadTableFile(core, file, false));
}

/**
 * A plugin file's content for table id: every field present and every capability, named as
 * the format names them. For a final release the table covers the whole minor version
 * (`_Py_DebugOffsets` is stable across its patch releases); for a pre-release, that one release.
 */
export function exportTable(core: Core, id: number, versionHex: number, source: string, python: string): string {
  const major = versionHex >>> 24, minor = (versionHex >>> 16) & 0xff, micro = (versionHex >>> 8) & 0xff;
  const final = (versionHex & 0xf0) === 0xf0;
  const range = final ? `${major}.${minor}` : `${major}.${minor}.${micro}`;
  const capabilities: Record<string, string | number> = {};
  for (const name of capIndex(core).keys()) capabilities[name] = tableCapability(core, id, name)!;
  const offsets: Record<string, Record<string, number>> = {};
  for (let f = 0, n = core.x.fieldCount(); f < n; f++) {
    const v = core.x.tableField(id, f);
    if (v < 0) continue;
    const section = core.str(core.x.fieldSection(f));
    (offsets[section] ??= {})[core.str(core.x.fieldName(f))] = v;
  }
  const doc = { format: TABLE_FORMAT, versions: { min: range, max: range }, source, python, capabilities, offsets };
  return JSON.stringify(doc, null, 2) + "\n";
}
