import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readBinarySettings, readEnvDir } from "../../src/common/config.js";
import { ExecpackError } from "../../src/common/errors.js";

const URL_ONLY = { BINARY_URL: "https://example.org/app.zip" };

function failure(vars: Record<string, string>): ExecpackError {
  try {
    readBinarySettings(vars);
  } catch (error) {
    if (error instanceof ExecpackError) return error;
    throw error;
  }
  throw new Error("readBinarySettings accepted the settings");
}

describe("readBinarySettings", () => {
  it("reads the defaults from BINARY_URL alone", () => {
    expect(readBinarySettings({ BINARY_URL: "  https://example.org/app.zip\n" })).toEqual({
      url: "https://example.org/app.zip",
      sha256: undefined,
      name: undefined,
      asset: undefined,
      githubApiUrl: undefined,
      fetch: "build",
      token: undefined,
      allowInsecureHttp: false,
      timeouts: { connectMs: undefined, headersMs: undefined, bodyMs: undefined },
      downloadTimeoutMs: 600_000,
      limits: { maxTotalBytes: undefined, maxEntries: undefined },
    });
  });

  it("reads BINARY_DOWNLOAD_TIMEOUT in seconds, and refuses what is no positive number", () => {
    expect(readBinarySettings({ ...URL_ONLY, BINARY_DOWNLOAD_TIMEOUT: "90" }).downloadTimeoutMs).toBe(90_000);
    expect(() => readBinarySettings({ ...URL_ONLY, BINARY_DOWNLOAD_TIMEOUT: "0" })).toThrow(expect.objectContaining({ code: "config.invalid-number" }));
  });

  it.each([
    [{}, "config.missing-binary-url", "heroku config:set BINARY_URL="],
    [{ BINARY_URL: "   " }, "config.missing-binary-url", "heroku config:set BINARY_URL="],
    [{ ...URL_ONLY, BINARY_SHA256: "abc" }, "config.invalid-sha256", "64 hexadecimal digits"],
    [{ ...URL_ONLY, BINARY_SHA256: "z".repeat(64) }, "config.invalid-sha256", "sha256sum"],
    [{ ...URL_ONLY, BINARY_FETCH: "sometimes" }, "config.invalid-fetch", "BINARY_FETCH=boot"],
    [{ ...URL_ONLY, BINARY_CONNECT_TIMEOUT: "ten" }, "config.invalid-number", "positive number of seconds"],
    [{ ...URL_ONLY, BINARY_BODY_TIMEOUT: "0" }, "config.invalid-number", "BINARY_BODY_TIMEOUT"],
    [{ ...URL_ONLY, BINARY_MAX_SIZE: "lots" }, "config.invalid-number", "4G"],
    [{ ...URL_ONLY, BINARY_MAX_ENTRIES: "1.5" }, "config.invalid-number", "whole number"],
  ])("rejects %j with %s", (vars, code, words) => {
    const error = failure(vars);
    expect(error.code).toBe(code);
    expect([error.message, ...error.seen, error.hint].join("\n")).toContain(words);
  });

  it("never echoes a URL password in an invalid value", () => {
    const error = failure({ ...URL_ONLY, BINARY_FETCH: "https://u:hunter2@example.org" });
    expect([error.message, ...error.seen, error.hint].join("\n")).not.toContain("hunter2");
  });

  it.each([
    ["sha256:" + "AB".repeat(32), "ab".repeat(32)],
    ["ab".repeat(32), "ab".repeat(32)],
  ])("accepts BINARY_SHA256 %s", (value, expected) => {
    expect(readBinarySettings({ ...URL_ONLY, BINARY_SHA256: value }).sha256).toBe(expected);
  });

  it.each([
    ["1", true],
    ["true", true],
    ["YES", true],
    ["0", false],
    ["", false],
  ])("reads BINARY_ALLOW_HTTP=%j as %s", (value, expected) => {
    expect(readBinarySettings({ ...URL_ONLY, BINARY_ALLOW_HTTP: value }).allowInsecureHttp).toBe(expected);
  });

  it("reads timeouts in seconds and sizes with binary suffixes", () => {
    const settings = readBinarySettings({
      ...URL_ONLY,
      BINARY_FETCH: "BOOT",
      BINARY_CONNECT_TIMEOUT: "2.5",
      BINARY_HEADERS_TIMEOUT: "40",
      BINARY_BODY_TIMEOUT: "120",
      BINARY_MAX_SIZE: "4G",
      BINARY_MAX_ENTRIES: "50000",
    });
    expect(settings.fetch).toBe("boot");
    expect(settings.timeouts).toEqual({ connectMs: 2500, headersMs: 40_000, bodyMs: 120_000 });
    expect(settings.limits).toEqual({ maxTotalBytes: 4 * 1024 ** 3, maxEntries: 50_000 });
    expect(readBinarySettings({ ...URL_ONLY, BINARY_MAX_SIZE: "800MiB" }).limits.maxTotalBytes).toBe(800 * 1024 ** 2);
    expect(readBinarySettings({ ...URL_ONLY, BINARY_MAX_SIZE: "1073741824" }).limits.maxTotalBytes).toBe(1024 ** 3);
  });
});

describe("readEnvDir", () => {
  it("reads one config var per file, skipping directories and names that are not variable names", () => {
    const dir = mkdtempSync(join(tmpdir(), "env-dir-"));
    try {
      writeFileSync(join(dir, "BINARY_URL"), "https://example.org/app.zip");
      writeFileSync(join(dir, "MULTI_LINE"), "a\nb\n");
      writeFileSync(join(dir, "not-a-name"), "x");
      mkdirSync(join(dir, "SUBDIR"));
      expect(readEnvDir(dir)).toEqual({ BINARY_URL: "https://example.org/app.zip", MULTI_LINE: "a\nb\n" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("treats a missing ENV_DIR as no config vars", () => {
    expect(readEnvDir(join(tmpdir(), "does-not-exist-execpack"))).toEqual({});
  });
});
