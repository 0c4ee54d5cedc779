/**
 * The record the profile step (profile.ts) leaves for the `execpack` launcher of the same dyno: what it derived
 * for the shell, and, when the launcher may exec the binary without starting Node.js again, everything that
 * exec needs and every variable the result depends on. It holds secrets (the URLs it derived from, binary.env's
 * values): mode 0600, in this user's 0700 scratch directory, named by the shell that sourced .profile.d, whose
 * EXECPACK_INTERNAL_PROFILE variable points at it.
 *
 * NUL-terminated fields, so bash reads it with `mapfile -d ''` (launchers/execpack) and no value is ever
 * parsed as shell text:
 *
 *   execpack-profile/1
 *   fast | slow                        slow: the launcher runs the Node.js boot (a recorded error, BINARY_FETCH=boot...)
 *   <root>                             the install root (.execpack): a launcher elsewhere ignores the record
 *   <BINARY_HOME>  <library prefix>  <main program>  <commands folder>
 *   <count of *_URL and *_URI variables the launcher must find>
 *   <n> then n × NAME=VALUE             the variables derived for the shell, which exports them in one `export`
 *   <n> then n × NAME=VALUE             binary.env's results, exported by the launcher the same way
 *   <n> then n × (name, "=value" | "-") inputs: the value each had (or "-": not exported) when resolved
 *   <n> then n × (name, program)        the release's commands, for EXECPACK_INTERNAL_COMMAND
 */
import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** Names the record of the shell that sourced .profile.d; exported by that shell, never given to the binary. */
export const PROFILE_VARIABLE = "EXECPACK_INTERNAL_PROFILE";
const MAGIC = "execpack-profile/1";

export interface ProfileRecord {
  fast: boolean;
  root: string;
  home: string;
  libraryPrefix: string;
  main: string;
  commandsDir: string;
  /** How many exported *_URL and *_URI variables there are, derived ones included: a new one means new derived values. */
  urlCount: number;
  /** Each variable the result depends on, with its value as the launcher must find it (undefined: not set). */
  inputs: ReadonlyMap<string, string | undefined>;
  results: ReadonlyMap<string, string>;
  commands: ReadonlyMap<string, string>;
  derived: ReadonlyMap<string, string>;
}

function pairs<T>(map: ReadonlyMap<string, T>, value: (v: T) => string): string[] {
  const fields = [String(map.size)];
  for (const [name, v] of map) fields.push(name, value(v));
  return fields;
}

function assignments(map: ReadonlyMap<string, string>): string[] {
  return [String(map.size), ...[...map].map(([name, value]) => `${name}=${value}`)];
}

export function formatRecord(record: ProfileRecord): string {
  const fields = [
    MAGIC,
    record.fast ? "fast" : "slow",
    record.root,
    record.home,
    record.libraryPrefix,
    record.main,
    record.commandsDir,
    String(record.urlCount),
    ...assignments(record.derived),
    ...assignments(record.results),
    ...pairs(record.inputs, (value) => (value === undefined ? "-" : `=${value}`)),
    ...pairs(record.commands, (value) => value),
  ];
  return `${fields.join("\0")}\0`;
}

export function parseRecord(text: string): ProfileRecord | undefined {
  const fields = text.split("\0");
  if (fields[0] !== MAGIC) return undefined;
  let at = 8;
  const assigned = (): Map<string, string> => {
    const count = Number(fields[at++]);
    const entries = fields.slice(at, (at += count));
    return new Map(entries.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
  };
  const paired = <T>(value: (field: string) => T): Map<string, T> => {
    const map = new Map<string, T>();
    const count = Number(fields[at++]);
    for (let i = 0; i < count; i++, at += 2) map.set(fields[at] ?? "", value(fields[at + 1] ?? ""));
    return map;
  };
  const [, mode = "", root = "", home = "", libraryPrefix = "", main = "", commandsDir = "", urls = ""] = fields;
  const derived = assigned();
  const results = assigned();
  const inputs = paired((field) => (field === "-" ? undefined : field.slice(1)));
  const commands = paired((field) => field);
  return { fast: mode === "fast", root, home, libraryPrefix, main, commandsDir, urlCount: Number(urls), inputs, results, commands, derived };
}

/** The record of the shell that sourced .profile.d, if it has one and it can be read. */
export function readRecord(path: string | undefined): ProfileRecord | undefined {
  if (!path) return undefined;
  try {
    return parseRecord(readFileSync(path, "utf8"));
  } catch {
    return undefined; // gone (a cleaned /tmp) or never written: the boot derives everything itself, as before
  }
}

/**
 * Writes the record where the sourcing shell asked (its scratch directory, named by its PID), or returns false
 * when that directory is not safely this user's alone (another user's, a link, group- or world-writable): the
 * shell then gets no derived variables and the launcher takes the Node.js path, which needs no record.
 * Written beside its name and renamed, so nobody ever reads half of it.
 */
export function writeRecord(record: ProfileRecord, path: string): boolean {
  const dir = dirname(path);
  const incoming = `${path}.${process.pid}`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = lstatSync(dir);
    if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o077) !== 0) return false;
    writeFileSync(incoming, formatRecord(record), { mode: 0o600 });
    renameSync(incoming, path);
    return true;
  } catch {
    // A full or read-only /tmp: no record, no fast path, nothing else changes.
    try {
      rmSync(incoming, { force: true });
    } catch {
      // Nothing was written, or nothing can be removed: either way no reader ever opens that name.
    }
    return false;
  }
}

/**
 * The dyno's variables as the boot must see them when the shell holds what the profile step derived: a
 * derived variable that still has the value the profile step gave it is the profile's doing, not a config var,
 * so it is left out and derived again from the URL as it is now (`DATABASE_URL=... execpack` in a Procfile
 * then gets the new host, and `execpackctl env` says "derived from DATABASE_URL"). One the Procfile line or
 * the user set to another value is theirs, and wins as any config var does.
 */
export function withoutProfileDerived(vars: Record<string, string | undefined>): Record<string, string | undefined> {
  const record = readRecord(vars[PROFILE_VARIABLE]);
  if (record === undefined) return vars;
  for (const [name, value] of record.derived) if (vars[name] === value) delete vars[name];
  return vars;
}
