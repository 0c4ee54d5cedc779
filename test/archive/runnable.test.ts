/**
 * What is checked before execve, since a failing execve aborts Node 24 with status 134 instead of throwing.
 * Real files: the probe ELF, a copy linked against musl's loader, scripts, a macOS header.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecpackError } from "../../src/common/errors.js";
import { assertExecutable } from "../../src/archive/runnable.js";
import { probeBinary } from "../helpers/probe.js";

const PROBE_SOURCE = fileURLToPath(new URL("../fixtures/probe/probe.c", import.meta.url));

function failure(file: string): ExecpackError {
  try {
    assertExecutable(file);
  } catch (error) {
    if (error instanceof ExecpackError) return error;
    throw error;
  }
  throw new Error(`${file} passed the checks`);
}

describe("assertExecutable", () => {
  let dir: string;
  const file = (name: string, content: string | Buffer, mode = 0o755) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    chmodSync(path, mode);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "exec-checks-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ["a script for /bin/sh", "#!/bin/sh\necho hi\n"],
    ["a script through env", "#!/usr/bin/env bash\necho hi\n"],
    ["a script with interpreter arguments", "#! /bin/sh -e\necho hi\n"],
  ])("accepts %s", (name, content) => {
    expect(() => assertExecutable(file(name.replace(/[^a-z]+/g, "-"), content))).not.toThrow();
  });

  it("accepts the real probe ELF, whose glibc loader exists", () => {
    expect(() => assertExecutable(probeBinary())).not.toThrow();
  });

  it.each([
    ["missing", undefined, "boot.binary-missing", "expected:"],
    ["not executable", () => file("plain", "#!/bin/sh\n", 0o644), "boot.binary-not-executable", "0755"],
    ["a macOS binary", () => file("macos", Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0, 0, 1, ...new Array(56).fill(0)])), "boot.binary-wrong-format", "Mach-O"],
    ["text", () => file("text", "hello, world\n"), "boot.binary-wrong-format", "BINARY_URL"],
    ["a script for a missing interpreter", () => file("ruby", "#!/no/such/ruby\nputs 1\n"), "boot.binary-wrong-format", '"/no/such/ruby"'],
    ["a script with Windows line endings", () => file("crlf", "#!/bin/sh\r\necho hi\r\n"), "boot.binary-wrong-format", "Windows line endings"],
  ])("refuses %s", (_case, make: (() => string) | undefined, code, words) => {
    const error = failure(make ? make() : join(dir, "does-not-exist"));
    expect(error.code).toBe(code);
    expect([error.message, ...error.seen, error.hint].join("\n")).toContain(words);
  });

  it("refuses an ELF linked for musl's loader, which the stack does not have, naming the loader", () => {
    const musl = join(dir, "musl-probe");
    execFileSync("cc", ["-O2", "-o", musl, PROBE_SOURCE, "-Wl,--dynamic-linker=/lib/ld-musl-x86_64.so.1"]);
    const error = failure(musl);
    expect(error.code).toBe("boot.binary-wrong-format");
    expect(error.seen.join("\n")).toContain('"/lib/ld-musl-x86_64.so.1"');
    expect(error.hint).toContain("static or glibc build");
  });

  it.each([
    ["its first 100 bytes", (probe: Buffer) => probe.subarray(0, 100)],
    ["its first half", (probe: Buffer) => probe.subarray(0, probe.length >> 1)],
    ["a program header table offset past the end", (probe: Buffer) => {
      const copy = Buffer.from(probe);
      copy.writeBigUInt64LE(0xfffffffffffffff0n, 32);
      return copy;
    }],
  ])("refuses a cut-off or damaged ELF (%s) with an error, not an abort", (_case, cut: (probe: Buffer) => Buffer) => {
    const error = failure(file("damaged", cut(readFileSync(probeBinary()))));
    expect(error.code).toBe("boot.binary-wrong-format");
    expect(error.hint).toContain("BINARY_SHA256");
  });

  it("reads the loader from the program headers, not from a fixed place (a copy elsewhere still passes)", () => {
    const copy = join(dir, "copied-probe");
    copyFileSync(probeBinary(), copy);
    chmodSync(copy, 0o755);
    expect(() => assertExecutable(copy)).not.toThrow();
  });
});
