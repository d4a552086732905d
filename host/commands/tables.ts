// `wspy tables`: list, show and check version tables.
// Must not know: CPython layouts (the core validates, tables.ts loads).
// Source of truth: README "Version tables".

import { readInputFile } from "../io/files.js";
import { Command } from "commander";
import { Core } from "../core/core.js";
import { loadAllTables, loadTableFile, versionBounds, exportTable } from "../core/tables.js";
import { Target } from "../target/attach.js";
import { checkWritable, writeOutput } from "../io/output.js";
import { WspyError } from "../errors.js";
import { escapeText, stderrLine } from "../io/escape.js";

export function tablesCommand(): Command {
  const tables = new Command("tables").description("list, show and check version tables").exitOverride();
  tables
    .command("list")
    .description("every version table known: built-in and plugins")
    .option("--version-table <file>", "also load this plugin file (repeatable)", (v: string, p: string[] = []) => [...p, v], [])
    .action((o) => {
      const core = new Core();
      for (const t of loadAllTables(core, o.versionTable)) {
        process.stdout.write(`${t.min === t.max ? t.min : `${t.min}–${t.max}`}\t${t.plugin ? "plugin" : "built-in"}\t${escapeText(t.python ?? "")}\t${escapeText(t.file)}\n`);
      }
      process.stdout.write("3.13+\tbuilt-in\tfrom the target's own _Py_DebugOffsets (3.13, 3.14, 3.15 layouts)\n");
    });
  tables
    .command("show")
    .argument("<version>", "a version like 3.8 or 3.8.18")
    .description("the table that would be used for a version")
    .action((version: string) => {
      const hex = versionBounds(version, false);
      if (hex === null) throw new WspyError("BAD_INPUT", `not a version: ${JSON.stringify(version)}`, "e.g. wspy tables show 3.12");
      const core = new Core();
      const all = loadAllTables(core);
      const id = core.x.registrySelect(hex, 1) >= 0 ? core.x.registrySelect(hex, 1) : core.x.registrySelect(hex, 0);
      const t = all.find((x) => x.id === id);
      if (!t) {
        if (core.x.versionHasDebugOffsets(hex)) {
          process.stdout.write(`Python ${version}: offsets come from the target's own _Py_DebugOffsets at attach time\n`);
          return;
        }
        throw new WspyError("UNSUPPORTED", `no version table for Python ${version}`, "see README, \"Version tables\"");
      }
      process.stdout.write(`${escapeText(t.file)}\n`);
      // a plugin file's text, line by line escaped (it may hold anything)
      process.stdout.write(readInputFile(t.file, { kind: "version table" }).toString("utf8").split("\n").map(escapeText).join("\n"));
    });
  tables
    .command("check")
    .argument("<file>", "a version-table file")
    .description("validate a version-table file")
    .action((file: string) => {
      const core = new Core();
      const t = loadTableFile(core, file, true);
      process.stdout.write(`${escapeText(file)}: valid, Python ${t.min === t.max ? t.min : `${t.min} to ${t.max}`}\n`);
    });
  tables
    .command("export")
    .description("write a version-table plugin from a live 3.13+ process's own _Py_DebugOffsets")
    .requiredOption("-p, --pid <pid>", "process id of a running Python 3.13+ program", (v: string) => {
      if (!/^\d+$/.test(v)) throw new WspyError("BAD_INPUT", `not a process id: ${JSON.stringify(v)}`, "");
      return Number(v);
    })
    .requiredOption("-o, --output <file>", "the plugin file to write")
    .action(async (o) => {
      checkWritable(o.output);
      const target = await Target.attach(o.pid, { notice: stderrLine });
      try {
        const { tableId, versionHex, version, binary, tableSource } = target.info;
        const source = tableSource.startsWith("_Py_DebugOffsets")
          ? `_Py_DebugOffsets of Python ${version} (${binary}), exported by wspy tables export on ${new Date().toISOString().slice(0, 10)}`
          : `copied from ${tableSource} by wspy tables export`;
        writeOutput(o.output, exportTable(target.core, tableId, versionHex, source, version), { what: "version table" });
        stderrLine(`wspy: wrote the version table of Python ${version} to ${o.output}`);
      } finally {
        target.close();
      }
    });
  return tables;
}

