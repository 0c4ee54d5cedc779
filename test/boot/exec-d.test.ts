/**
 * boot/exec-d.ts: the TOML the exec.d program hands the CNB launcher. Each value is read back with the stand-in
 * launcher's strict TOML reader (test/e2e/helpers/cnb-launcher.ts), which refuses raw control characters and
 * unknown escapes as the lifecycle's decoder does.
 */
import { describe, expect, it } from "vitest";
import { execDToml, tomlString } from "../../src/boot/exec-d.js";
import type { ProfileRecord } from "../../src/boot/profile-record.js";
import { parseExecDToml } from "../e2e/helpers/cnb-launcher.js";

function record(derived: Record<string, string>): ProfileRecord {
  const none = new Map<string, string>();
  return { fast: true, root: "/r", home: "/h", libraryPrefix: "", main: "/h/m", commandsDir: "/r/commands", urlCount: 1, inputs: none, results: none, commands: none, derived: new Map(Object.entries(derived)) };
}

describe("tomlString", () => {
  it.each([
    ["plain", "db.internal", '"db.internal"'],
    ["quote and backslash", 'a"b\\c', '"a\\"b\\\\c"'],
    ["newline, tab, NUL-free control and DEL as \\uXXXX", "a\nb\tc\u0001d\u007f", '"a\\u000Ab\\u0009c\\u0001d\\u007F"'],
    ["shell text stays text", "$(touch MARKER)`id` $HOME 'x'", "\"$(touch MARKER)`id` $HOME 'x'\""],
    ["non-ASCII as it is", "pässwörd 😀", '"pässwörd 😀"'],
  ])("%s", (_, value, expected) => {
    expect(tomlString(value)).toBe(expected);
    expect(parseExecDToml(`A = ${tomlString(value)}`).get("A")).toBe(value);
  });
});

describe("execDToml", () => {
  const derived = { DATABASE_HOST: "db.internal", DATABASE_PASSWORD: "a$(b)\"c\\d\ne" };

  it("gives every derived variable and the record's path, read back exactly", () => {
    const parsed = parseExecDToml(execDToml(record(derived), "/tmp/execpack-0/profile-7", true));
    expect(Object.fromEntries(parsed)).toEqual({ ...derived, EXECPACK_INTERNAL_PROFILE: "/tmp/execpack-0/profile-7" });
  });

  it("names no record that was not written, and is empty when nothing was derived", () => {
    expect(Object.fromEntries(parseExecDToml(execDToml(record(derived), "/tmp/x", false)))).toEqual(derived);
    expect(execDToml(record({}), "/tmp/x", false)).toBe("");
  });
});
