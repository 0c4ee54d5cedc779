/**
 * `execpackctl env` and `check` print names and values from outside (config vars, binary.env): a control
 * character in them (an ANSI escape, a bell, a terminal title, U+2028) is shown escaped, never sent to the
 * terminal, and a line break inside a value never starts a line of its own that would read as another
 * variable. Values with line breaks alone stay in a form the parsers read back.
 */
import { parse } from "dotenv";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkApp, showEnvironment } from "../../src/ctl/inspect.js";

const RED = "\u001b[31mred\u001b[0m";
const TITLE = "\u001b]0;pwned\u0007";
// Whatever a terminal acts on: ESC, BEL, C1's 8-bit CSI, a line separator, a bidirectional override.
const TERMINAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

let appDir: string;
beforeEach(() => {
  appDir = mkdtempSync(join(tmpdir(), "execpack-inspect-escaping-"));
});
afterEach(() => rmSync(appDir, { recursive: true, force: true }));

describe("execpackctl env", () => {
  const vars = {
    BANNER: `${RED} ${TITLE}`,
    MOTD: "first line\nFAKE_VAR=injected",
    CSI8: "a\u009b2Jb",
    BIDI: "admin\u202eresu",
    [`EVIL${RED}`]: "x",
    PEM: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
  };

  it.each([["masked", false], ["with --reveal", true]])("%s: no control character reaches the output, every one is shown escaped", (_mode, reveal) => {
    const text = showEnvironment(appDir, vars, { reveal });
    expect(text).not.toMatch(TERMINAL);
    expect(text).toContain(`BANNER="\\x1b[31mred\\x1b[0m \\x1b]0;pwned\\x07" # config var; control characters shown escaped`);
    expect(text).toContain(`CSI8="a\\x9b2Jb"`);
    expect(text).toContain(`BIDI="admin\\u202eresu"`);
    expect(text).toContain(`EVIL\\x1b[31mred\\x1b[0m=`);
  });

  it("a line break in a value never starts a line of its own, and the value still parses back", () => {
    const text = showEnvironment(appDir, vars, { reveal: true });
    const lines = text.split("\n");
    expect(lines.some((line) => line.startsWith("FAKE_VAR"))).toBe(false);
    expect(lines.some((line) => line.startsWith("MIIB"))).toBe(false);
    expect(lines).toContain('MOTD="first line\\nFAKE_VAR=injected" # config var');
    const parsed = parse(text);
    expect(parsed.MOTD).toBe(vars.MOTD);
    expect(parsed.PEM).toBe(vars.PEM);
    expect(parsed.FAKE_VAR).toBeUndefined();
  });
});

describe("execpackctl check", () => {
  it("shows a binary.env line's control characters escaped", () => {
    writeFileSync(join(appDir, "binary.env"), `GREETING=\${MISSING:?${RED} please set it}\n`);
    const report = checkApp(appDir, { BINARY_URL: "https://example.org/app_linux_amd64.tar.gz" });
    expect(report.text).not.toMatch(TERMINAL);
    expect(report.text).toContain("\\x1b[31mred\\x1b[0m please set it");
  });
});
