/** `execpackctl check` and `env` on an app directory: what they print, computed as the boot would. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkApp, showEnvironment } from "../../src/ctl/inspect.js";

const BINARY_URL = "https://github.com/owner/app/releases/download/v1/app_linux_amd64.zip";

let appDir: string;
beforeEach(() => {
  appDir = mkdtempSync(join(tmpdir(), "execpack-inspect-"));
});
afterEach(() => rmSync(appDir, { recursive: true, force: true }));

function withBinaryEnv(lines: readonly string[]): string {
  writeFileSync(join(appDir, "binary.env"), `${lines.join("\n")}\n`);
  return appDir;
}

/** The FAIL lines of a report, in order. */
function failures(text: string): string[] {
  return text.split("\n").filter((line) => line.startsWith("FAIL")).map((line) => line.replace(/^FAIL +/, ""));
}

describe("execpackctl check", () => {
  it("reports every problem of binary.env in one run, in the order of its lines", () => {
    const secret = "pg-S3cr3t";
    const dir = withBinaryEnv([
      "SERVER_KEY=${SIGNING_KEY}", // defined nowhere
      "PLAIN=ok",
      "API_HOST=${API_HOST_NAME:?set API_HOST_NAME to the API's host}",
      "bad line",
      "DB=${DATABASE_HOST}", // the URL below is malformed
      "LATER=${ALSO_MISSING:?}",
    ]);
    const report = checkApp(dir, { BINARY_URL, DATABASE_URL: `postgres://u:${secret}@db.internal:99999/app` });

    expect(report.ok).toBe(false);
    expect(failures(report.text)).toEqual([
      "env.undefined-reference",
      "env.required",
      "env.binary-env-syntax",
      "env.invalid-url",
      "env.required",
    ]);
    expect(report.text).toContain("binary.env line 1 uses ${SIGNING_KEY}");
    expect(report.text).toContain("set API_HOST_NAME to the API's host");
    expect(report.text).toContain("binary.env line 5 needs DATABASE_HOST");
    expect(report.text).toContain("ALSO_MISSING is empty or not set, and binary.env line 6 requires it");
    expect(report.text).toContain("5 problems found.");
    expect(report.text).not.toContain(secret);
  });

  it.each([
    ["a mistyped scheme", "postgress://admin:S3cretPW@db.internal:5432/d", 'its scheme "postgress" is not a database'],
    ["no scheme at all", "db.internal:5432/d", 'it is not a URL (no "scheme://" at its start)'],
  ])("names the add-on URL behind an undefined derived name when it holds %s, never its value", (_, value, why) => {
    const report = checkApp(withBinaryEnv(["DB=${DATABASE_HOST}", "OTHER=${SIGNING_KEY}"]), { BINARY_URL, DATABASE_URL: value });
    expect(failures(report.text)).toEqual(["env.undefined-reference", "env.undefined-reference"]);
    expect(report.text).toContain(`binary.env line 1 uses \${DATABASE_HOST}, which is not set anywhere: DATABASE_URL is set, but derives nothing, because ${why}`);
    expect(report.text).toContain("heroku config:get DATABASE_URL");
    expect(report.text).toContain("binary.env line 2 uses ${SIGNING_KEY}, which is not set anywhere");
    expect(report.text).not.toContain("S3cretPW");
    expect(report.text).not.toContain("db.internal:5432/d");
  });

  it("reports every bad BINARY_* setting in one run, beside binary.env's problems", () => {
    const report = checkApp(withBinaryEnv(["A=${MISSING:?}"]), {
      BINARY_URL,
      BINARY_SHA256: "xyz",
      BINARY_FETCH: "sometimes",
      BINARY_FETCH_TIMEOUT: "120",
      BINARY_BODY_TIMEOUT: "soon",
      BINARY_MAX_SIZE: "lots",
    });
    expect(failures(report.text)).toEqual([
      "config.invalid-sha256",
      "config.invalid-fetch",
      "config.invalid-fetch-timeout",
      "config.invalid-number",
      "config.invalid-number",
      "env.required",
    ]);
    expect(report.text).toContain("BINARY_BODY_TIMEOUT must be");
    expect(report.text).toContain("BINARY_MAX_SIZE must be");
    expect(report.text).toContain("6 problems found.");
  });

  it("reports a missing BINARY_URL and still checks binary.env", () => {
    const report = checkApp(withBinaryEnv(["A=${MISSING:?}"]), {});
    expect(failures(report.text)).toEqual(["config.missing-binary-url", "env.required"]);
  });

  it("reports a broken URL nothing uses once, as a warning", () => {
    const report = checkApp(withBinaryEnv(["A=1"]), { BINARY_URL, DATABASE_URL: "postgres://u:p@db.internal:99999/app" });
    expect(failures(report.text)).toEqual(["env.invalid-url"]);
  });

  it.each([
    ["a token with a raw /", "https://Ab3xTOKPART1/TOKPART2@release.example.org/app.tar.gz", "download.ambiguous-credentials"],
    ["a token with a raw ?", "https://TOKPART1?TOKPART2@release.example.org/app.tar.gz", "download.ambiguous-credentials"],
    ["a token with a raw #", "https://TOKPART1#TOKPART2@release.example.org/app.tar.gz", "download.ambiguous-credentials"],
    ["a password with a raw ? (its first part reads as a port)", "https://deploy:TOKPART1?TOKPART2@release.example.org/app.tar.gz", "download.ambiguous-credentials"],
  ])("refuses a BINARY_URL the build would refuse (%s), masked", (_case, url, code) => {
    const report = checkApp(withBinaryEnv(["A=1"]), { BINARY_URL: url });
    expect(report.ok).toBe(false);
    expect(failures(report.text)).toEqual([code]);
    expect(report.text).not.toMatch(/TOKPART/);
    expect(showEnvironment(appDir, { BINARY_URL: url }, { reveal: false })).not.toMatch(/TOKPART/);
  });

  it("passes a configuration without problems", () => {
    const report = checkApp(withBinaryEnv(["A=${DATABASE_HOST}"]), { BINARY_URL, DATABASE_URL: "postgres://u:p@db.internal/app" });
    expect(report).toMatchObject({ ok: true });
    expect(report.text).toContain("All checks passed.");
  });
});

describe("execpackctl env", () => {
  it("shows what the boot sets for the installed program alone: PATH as a shell runs it, LD_LIBRARY_PATH, BINARY_HOME", () => {
    const home = join(appDir, ".execpack/binary");
    const commands = join(appDir, ".execpack/commands");
    const program = { file: join(home, "bin/server"), home, libraryPath: ["lib"], commandsDir: commands };
    const configVars = { PATH: `/app/.execpack/bin:/usr/bin:/bin:${commands}`, LD_LIBRARY_PATH: "/opt/lib", BINARY_HOME: home };
    const text = showEnvironment(withBinaryEnv(["A=1"]), configVars, { reveal: false, program });
    expect(text).toContain(`PATH='/app/.execpack/bin:/usr/bin:/bin:${join(home, "bin")}:${commands}' # set by execpack for the binary`);
    expect(text).toContain(`LD_LIBRARY_PATH='${join(home, "lib")}:/opt/lib' # set by execpack for the binary`);
    expect(text).toContain(`BINARY_HOME='${home}' # set by the dyno`); // unchanged: the dyno's value is the program's
    expect(showEnvironment(appDir, configVars, { reveal: false })).toContain("PATH='/app/.execpack/bin:/usr/bin:/bin:");
  });

  it("masks secret names but not the shell's PWD or other names about a secret", () => {
    const configVars = { PWD: "/app", OLDPWD: "/", MYSQL_PWD: "hunter2", SSL_KEY_PATH: "/app/tls/key.pem", API_KEY: "k-123" };
    const text = showEnvironment(withBinaryEnv(["DB_PASS=${MYSQL_PWD}"]), configVars, { reveal: false });
    const lines = text.trim().split("\n");
    expect(lines).toEqual(expect.arrayContaining([
      "PWD='/app' # set by the dyno",
      "OLDPWD='/' # set by the dyno",
      "SSL_KEY_PATH='/app/tls/key.pem' # config var",
      "MYSQL_PWD='*****' # config var",
      "API_KEY='*****' # config var",
      "DB_PASS='*****' # binary.env:1",
    ]));
    expect(text).not.toContain("hunter2");
  });
});
