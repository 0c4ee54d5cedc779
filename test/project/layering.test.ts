/**
 * The layout is the architecture: src/ has one folder per stage a release travels through, and imports only
 * go down the pipeline (a later stage may use an earlier one, never the reverse), with no cycle between files.
 * Each folder's README.md says what it owns; this test keeps the rule it states.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src", import.meta.url));

/** The stages in the order a release travels, after what they all share; an import may only go leftwards. */
export const LAYERS = ["common", "fetch", "archive", "install", "environment", "boot", "ctl", "cli"] as const;

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [relative(SRC, join(dir, entry.name))] : [],
  );
}

/** Relative imports of a module, static and dynamic, as paths under src/. */
export function importsOf(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)"(\.{1,2}\/[^"]+)"/gm)].map((match) => match[1] as string);
  return specifiers.map((specifier) => posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, ".ts"));
}

const layerOf = (file: string) => LAYERS.indexOf(file.split("/")[0] as (typeof LAYERS)[number]);

const files = sourceFiles();
const graph = new Map(files.map((file) => [file, importsOf(file, readFileSync(join(SRC, file), "utf8"))]));

describe("src/ layout", () => {
  it("has every module in a stage folder, and each folder says what it owns", () => {
    expect(files.filter((file) => layerOf(file) < 0)).toEqual([]);
    expect(LAYERS.filter((layer) => !existsSync(join(SRC, layer, "README.md")))).toEqual([]);
  });

  it("resolves every relative import to a module that exists", () => {
    const missing = [...graph].flatMap(([file, targets]) => targets.filter((target) => !graph.has(target)).map((target) => `${file} -> ${target}`));
    expect(missing).toEqual([]);
  });

  it("imports only down the pipeline: no stage uses a later one", () => {
    const upward = [...graph].flatMap(([file, targets]) =>
      targets.filter((target) => layerOf(target) > layerOf(file)).map((target) => `${file} -> ${target}`),
    );
    expect(upward).toEqual([]);
  });

  it("has no import cycle between files", () => {
    const state = new Map<string, "open" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        cycles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
        return;
      }
      state.set(file, "open");
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, "done");
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it.each([
    ["an upward import", "archive/zip.ts", 'import { boot } from "../boot/boot.js";', ["boot/boot.ts"]],
    ["a dynamic import", "boot/boot.ts", 'await import("./boot-fetch.js");', ["boot/boot-fetch.ts"]],
    ["a type import", "fetch/download.ts", 'import type { X } from "./session.js";', ["fetch/session.ts"]],
  ])("reads %s", (_name, file, text, expected) => {
    expect(importsOf(file, text)).toEqual(expected);
    expect(dirname(file)).not.toBe("");
  });
});
