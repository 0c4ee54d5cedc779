/**
 * The profile step (src/boot/profile.ts) and its record (src/boot/profile-record.ts) on a slug laid out on disk:
 * what the shell gets, which variables the launcher must find unchanged, when the fast path is off, and how the
 * Node.js path tells the profile's derived variables from the user's own.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { profile } from "../../src/boot/profile.js";
import { PROFILE_VARIABLE, formatRecord, parseRecord, withoutProfileDerived } from "../../src/boot/profile-record.js";
import { slugPaths } from "../../src/install/slug.js";
import type { SlugPaths } from "../../src/install/slug.js";

describe("the profile step", () => {
  let dir: string;
  let paths: SlugPaths;
  let record: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "execpack-profile-"));
    paths = slugPaths(join(dir, "app"));
    mkdirSync(join(paths.binaryDir, "bin"), { recursive: true });
    const manifest = { name: "server", path: "bin/server", commands: { server: "bin/server", ctl: "bin/ctl" }, libraryPath: ["lib"], entry: "x", size: 1, sha256: "0", source: "s", format: "zip", fetch: "build" };
    writeFileSync(paths.manifest, JSON.stringify(manifest));
    writeFileSync(join(paths.appDir, "binary.env"), "APP_DB=${DATABASE_HOST}\nAPP_MODE=${APP_MODE:-production}\nLOG_LEVEL=info\n");
    mkdirSync(join(dir, "scratch"), { mode: 0o700 });
    record = join(dir, "scratch", "profile-1");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const env = (extra: Record<string, string> = {}) => ({ DATABASE_URL: "postgres://u:pw@db.internal:5432/app", PATH: "/usr/bin:/bin", LOG_LEVEL: "debug", ...extra });

  it("derives for the shell, records binary.env's results and every input, and writes the record 0600", () => {
    const { record: written, written: ok, warnings } = profile(paths, env(), record);
    expect(ok).toBe(true);
    expect(warnings).toEqual([]);
    expect(statSync(record).mode & 0o777).toBe(0o600);
    expect(written.fast).toBe(true);
    expect(written.derived.get("DATABASE_HOST")).toBe("db.internal");
    expect([...written.results]).toEqual([["APP_DB", "db.internal"], ["APP_MODE", "production"]]); // LOG_LEVEL: the config var wins
    expect(Object.fromEntries(written.inputs)).toEqual({
      BINARY_FETCH: undefined,
      DATABASE_URL: "postgres://u:pw@db.internal:5432/app",
      DATABASE_HOST: "db.internal", // read by binary.env, as the shell will hold it
      APP_DB: undefined,
      APP_MODE: undefined,
      LOG_LEVEL: "debug",
    });
    expect(written.urlCount).toBe(2); // DATABASE_URL and the derived DATABASE_JDBC_URL
    expect(written.main).toBe(join(paths.binaryDir, "bin/server"));
    expect(written.commands.get("ctl")).toBe(join(paths.binaryDir, "bin/ctl"));
    expect(written.libraryPrefix).toBe(join(paths.binaryDir, "lib"));
    expect(parseRecord(readFileSync(record, "utf8"))).toEqual(written);
  });

  it.each([
    ["binary.env requires a variable that is not set", { APP_MODE: "x" }, "APP_KEY=${APP_SECRET:?set it}\n"],
    ["BINARY_FETCH=boot", { BINARY_FETCH: "boot" }, undefined],
    ["a URL variable bash cannot name", { "my-db_URL": "redis://h:p@cache.internal:6379" }, undefined],
    ["a derived value holding a NUL", { DATABASE_URL: "postgres://u:p%00w@db.internal/app" }, undefined],
    ["an environment near execve's limit", { BIG: "x".repeat(120_000) }, undefined],
  ])("leaves the launcher to Node.js when %s, and still derives for the shell", (_, extra, binaryEnv) => {
    if (binaryEnv !== undefined) writeFileSync(join(paths.appDir, "binary.env"), binaryEnv);
    const { record: written, written: ok } = profile(paths, env(extra), record);
    expect(ok).toBe(true);
    expect(written.fast).toBe(false);
    expect(written.derived.get("DATABASE_HOST")).toBe("db.internal");
  });

  it("warns in one line per URL that derives nothing, naming the variable and never the password", () => {
    const { warnings, record: written } = profile(paths, env({ JAWSDB_URL: "mysql://u:hunter2@changeme:3306/db", REDIS_URL: "redis://h:s3cret@cache internal:6379" }), record);
    expect(warnings).toHaveLength(2);
    expect(warnings.find((line) => line.includes("JAWSDB_URL"))).toContain("[env.url-placeholder]");
    expect(warnings.find((line) => line.includes("REDIS_URL"))).toContain("[env.invalid-url]");
    expect(warnings.join("\n")).not.toMatch(/hunter2|s3cret|\n.*\n.*\n/);
    expect(written.derived.has("JAWSDB_HOST")).toBe(false);
  });

  it("refuses a scratch folder that is not private (group or other bits), and writes nothing there", () => {
    const open = join(dir, "open");
    mkdirSync(open, { mode: 0o777 });
    expect(profile(paths, env(), join(open, "profile-1")).written).toBe(false);
    expect(() => statSync(join(open, "profile-1"))).toThrow();
  });

  it("the Node.js path drops a derived variable that still holds the profile's value, and keeps one the user changed", () => {
    profile(paths, env(), record);
    const vars = { ...env(), [PROFILE_VARIABLE]: record, DATABASE_HOST: "db.internal", DATABASE_PORT: "6000" };
    const seen = withoutProfileDerived(vars);
    expect(seen.DATABASE_HOST).toBeUndefined();
    expect(seen.DATABASE_PORT).toBe("6000");
  });

  it("reads back what it writes, whatever the values hold", () => {
    const tricky = "a$(touch x)`b`'c\"\nd=e";
    const written = { fast: true, root: "/r", home: "/h", libraryPrefix: "", main: "/h/m", commandsDir: "/r/commands", urlCount: 1, inputs: new Map([["A_URL", tricky], ["B", undefined]]), results: new Map([["C", tricky]]), commands: new Map([["m", "/h/m"]]), derived: new Map([["A_HOST", tricky]]) };
    expect(parseRecord(formatRecord(written))).toEqual(written);
  });
});
