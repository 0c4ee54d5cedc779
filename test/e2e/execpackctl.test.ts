/**
 * execpackctl run as a person runs it locally (`npm run execpackctl -- env|check`, through tsx) against an
 * app directory and a .env file of config vars, and `try` building and booting an app like Heroku.
 * execpackctl inside a dyno is tested on a real slug in test/buildpack.test.ts.
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ZipFile } from "yazl";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tryApp } from "../../src/ctl/try.js";
import { probeBinary, readProbeReport } from "../helpers/probe.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/web-app");
const TSX = join(REPO, "node_modules/.bin/tsx");
const SECRETS = { password: "pg-pass-9f2c", token: "tok-4b1e-secret" };

function execpackctl(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TSX, [join(REPO, "src/cli/execpackctl.ts"), ...args], { cwd: REPO }, (error, stdout, stderr) => {
      resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The probe as a release zip (`probe_linux_amd64/probe`) in `workDir`, served from loopback as `${url}/probe.zip`. */
async function serveProbeRelease(workDir: string): Promise<StaticServer> {
  const zip = new ZipFile();
  zip.addFile(probeBinary(), "probe_linux_amd64/probe", { mode: 0o100755 });
  zip.end();
  await once(zip.outputStream.pipe(createWriteStream(join(workDir, "probe.zip"))), "close");
  return serveDirectory(workDir);
}

describe("execpackctl env and check, locally", () => {
  let dir: string;
  const envFile = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "execpackctl-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const goodVars = [
    `DATABASE_URL=postgres://app:${SECRETS.password}@db.internal:5432/app_db`,
    `API_TOKEN=${SECRETS.token}`,
    "PORT=5000",
    "BINARY_URL=https://github.com/owner/app/releases/download/v1/app_linux_amd64.zip",
  ].join("\n");

  it("prints the environment the binary would get, with origins and without secrets", async () => {
    const { status, stdout } = await execpackctl(["env", "--app", FIXTURE_APP, "--env-file", envFile("good.env", goodVars)]);
    expect(status).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines).toContain("DATABASE_HOST='db.internal' # derived from DATABASE_URL");
    expect(lines).toContain("APP_DB_HOST='db.internal' # binary.env:2");
    expect(lines).toContain("APP_DB_PASSWORD='*****' # binary.env:5");
    expect(lines).toContain("API_TOKEN='*****' # config var");
    expect(lines).toContain("DATABASE_URL='postgres://app:*****@db.internal:5432/app_db' # config var");
    expect(stdout).not.toContain(SECRETS.password);
    expect(stdout).not.toContain(SECRETS.token);
  });

  it("shows the secrets with --reveal", async () => {
    const { stdout } = await execpackctl(["env", "--reveal", "--app", FIXTURE_APP, "--env-file", envFile("good.env", goodVars)]);
    expect(stdout).toContain(`APP_DB_PASSWORD='${SECRETS.password}' # binary.env:5`);
    expect(stdout).toContain(`API_TOKEN='${SECRETS.token}' # config var`);
  });

  it("passes check on a good configuration", async () => {
    const { status, stdout } = await execpackctl(["check", "--app", FIXTURE_APP, "--env-file", envFile("good.env", goodVars)]);
    expect(stdout).toContain("All checks passed.");
    expect(status).toBe(0);
  });

  it("fails check with every problem, by code, and no password", async () => {
    const bad = [`DATABASE_URL=postgres://app:${SECRETS.password}@db.internal:notaport/app_db`, `REDIS_URL=redis://h:${SECRETS.password}@/0`].join("\n");
    const { status, stdout } = await execpackctl(["check", "--app", FIXTURE_APP, "--env-file", envFile("bad.env", bad)]);
    expect(status).toBe(1);
    expect(stdout).toMatch(/^FAIL {3}config\.missing-binary-url$/m);
    expect(stdout).toMatch(/^FAIL {3}env\.invalid-url$/m);
    expect(stdout).toContain("heroku config:set BINARY_URL=");
    expect(stdout).toMatch(/\d+ problems? found\./);
    expect(stdout).not.toContain(SECRETS.password);
  });

  it("reports references to variables defined nowhere", async () => {
    const appDir = join(dir, "app-undefined");
    rmSync(appDir, { recursive: true, force: true });
    mkdirSync(appDir);
    writeFileSync(join(appDir, "binary.env"), "SERVER_KEY=${SIGNING_KEY}\n");
    const { status, stdout } = await execpackctl(["check", "--app", appDir, "--env-file", envFile("good.env", goodVars)]);
    expect(status).toBe(1);
    expect(stdout).toMatch(/^FAIL {3}env\.undefined-reference$/m);
    expect(stdout).toContain("SIGNING_KEY");
  });

  it.each([
    [["frobnicate"], "Unknown command"],
    [["env", "--bogus"], "--bogus"],
    [["env", "stray"], "stray"],
    [["try", "--port", "abc"], "--port"],
  ])("says how to use it for %j, without a stack trace", async (args, words) => {
    const { status, stderr } = await execpackctl(args);
    expect(status).toBe(1);
    expect(stderr).toContain("[ctl.usage]");
    expect(stderr).toContain(words);
    expect(stderr).toContain("execpackctl <command>");
    expect(stderr).not.toContain("internal error");
  });
});

describe("execpackctl try", () => {
  it("builds an app like Heroku and boots its web process in place", async () => {
    const workDir = mkdtempSync(join(tmpdir(), "execpackctl-try-"));
    const server = await serveProbeRelease(workDir);
    const report = join(workDir, "report");
    // The compile's npm reads its settings from the caller's environment, as on a developer's machine.
    process.env.npm_config_offline = "true";
    const run = await tryApp({
      buildpackDir: REPO,
      appDir: FIXTURE_APP,
      extraConfigVars: { BINARY_URL: `${server.url}/probe.zip`, DATABASE_URL: "postgres://u:p@db.internal/d", PROBE_REPORT: report },
      port: 5321,
      stdio: "pipe",
      execCommand: true,
    });
    try {
      await server.close();
      let stdout = "";
      await new Promise<void>((resolve) => run.dyno.stdout!.on("data", (chunk: Buffer) => (stdout += chunk) && stdout.includes("ready") && resolve()));
      const probe = readProbeReport(report);
      expect(probe.pid).toBe(run.dyno.pid);
      expect(probe.argv).toEqual(["probe", "serve", "--wait"]);
      expect(probe.env).toMatchObject({ APP_DB_HOST: "db.internal", APP_LISTEN: "0.0.0.0:5321", HOME: run.slugDir });
      // The dyno's temporary files (the profile step's record holds the derived password) stay in try's directory.
      expect(probe.env.TMPDIR).toBe(`${run.slugDir}.tmp`);
      // (the shell path's record: launchers/execpack-profile-step)
      expect(readdirSync(probe.env.TMPDIR!).some((name) => name.startsWith(`execpack-${process.getuid!()}-profile-`))).toBe(true);
      expect(run.slugDir).not.toContain("build_");
      run.dyno.kill("SIGTERM");
      const [code] = await once(run.dyno, "exit");
      expect(code).toBe(42);
    } finally {
      delete process.env.npm_config_offline;
      run.cleanup();
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});

describe("execpackctl try --process", () => {
  it("runs another process type as its dyno: DYNO names it, and the command is that type's", async () => {
    const workDir = mkdtempSync(join(tmpdir(), "execpackctl-try-release-"));
    const server = await serveProbeRelease(workDir);
    const report = join(workDir, "report");
    process.env.npm_config_offline = "true";
    const run = await tryApp({
      buildpackDir: REPO, appDir: FIXTURE_APP, processType: "release", stdio: "pipe", execCommand: true,
      extraConfigVars: { BINARY_URL: `${server.url}/probe.zip`, PROBE_REPORT: report },
    }).finally(() => server.close());
    try {
      const [code] = await once(run.dyno, "exit");
      expect(code).toBe(0);
      const probe = readProbeReport(report);
      expect(probe.argv).toEqual(["probe", "migrate", "--exit", "0"]);
      expect(probe.env.DYNO).toBe("release.1");
    } finally {
      delete process.env.npm_config_offline;
      run.cleanup();
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});

/** An app folder `workDir/app` with this Procfile web line, whose .env points BINARY_URL at the probe release served here. */
async function probeApp(workDir: string, web: string, extraEnv = ""): Promise<{ appDir: string; server: StaticServer }> {
  const server = await serveProbeRelease(workDir);
  const appDir = join(workDir, "app");
  mkdirSync(appDir);
  writeFileSync(join(appDir, "Procfile"), `web: ${web}\n`);
  writeFileSync(join(appDir, ".env"), `BINARY_URL=${server.url}/probe.zip\n${extraEnv}`);
  return { appDir, server };
}

describe("execpackctl try, run as a person runs it", () => {
  it("says when web has not bound $PORT within the boot timeout, as Heroku's R10 would, and a relative APP_DIR is the caller's", async () => {
    const workDir = mkdtempSync(join(tmpdir(), "execpackctl-try-r10-"));
    try {
      const { server } = await probeApp(workDir, "execpack --wait"); // runs, never listens
      // As `npm run execpackctl -- try app` from the folder above the app: npm runs in the checkout, INIT_CWD is the caller's.
      const child = spawn(TSX, [join(REPO, "src/cli/execpackctl.ts"), "try", "app", "--port", "5323", "--boot-timeout", "1"], {
        cwd: REPO, env: { ...process.env, INIT_CWD: workDir },
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
      const exited = once(child, "exit");
      const deadline = Date.now() + 60_000;
      while (!stderr.includes("R10") && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      await server.close();
      expect(stderr).toContain("The web process has not bound PORT=5323 within 1 s");
      expect(stderr).toContain("Error R10 (Boot timeout)");
      child.kill("SIGTERM"); // try hands it to the dyno: the probe prints "sigterm" and exits 42
      const [code] = await exited;
      expect(code).toBe(42);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });

  it("Ctrl-C during the build: the build's processes end, then its folder goes, config vars and all; nothing starts", async () => {
    const workDir = mkdtempSync(join(tmpdir(), "execpackctl-try-int-"));
    try {
      const { appDir, server } = await probeApp(workDir, "execpack --wait", `DATABASE_URL=postgres://u:${SECRETS.password}@db.internal/d\n`);
      // Its own process group, as a terminal gives a foreground job: Ctrl-C reaches try and the build alike.
      const child = spawn(TSX, [join(REPO, "src/cli/execpackctl.ts"), "try", appDir, "--port", "5324"], { cwd: REPO, detached: true });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
      // Every process that holds the pipes has ended (tsx runs try in a child of its own, which may outlive it).
      const ended = Promise.all([once(child.stdout, "end"), once(child.stderr, "end")]);
      const deadline = Date.now() + 60_000;
      const buildSteps = () => stdout.split("----->").length - 1;
      while (buildSteps() < 2 && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      process.kill(-child.pid!, "SIGINT");
      await ended;
      await server.close();
      const folder = /\(in (\/[^)]+execpack-try-[^)]+)\)/.exec(stdout)?.[1];
      expect(folder, stdout).toBeDefined();
      expect(existsSync(folder!)).toBe(false);
      expect(stdout).not.toContain("starting web");
      expect(stderr).toContain("Stopped by SIGINT during the build [ctl.interrupted]");
      expect(stdout + stderr).not.toContain(SECRETS.password);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });

  it.each([0, 3])("says a web process that exits by itself (status %i) is a crash on Heroku, and ends with its status", async (exitStatus) => {
    const workDir = mkdtempSync(join(tmpdir(), "execpackctl-try-exit-"));
    try {
      const { appDir, server } = await probeApp(workDir, `execpack --exit ${exitStatus}`);
      const { status, stderr } = await execpackctl(["try", appDir, "--port", "5322"]).finally(() => server.close());
      expect(status).toBe(exitStatus);
      expect(stderr).toContain(`The web process exited by itself with status ${exitStatus}`);
      expect(stderr).toContain("crash");
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
