/**
 * The buildpack as Heroku runs it: real bin/detect, bin/compile and bin/release on a copy of a fixture app,
 * a release zip with a real ELF (the probe) served from loopback, Node.js fetched from a loopback mirror of
 * the distribution site, the slug moved before boot, the servers stopped, and the web command started by
 * bash in a clean environment whose PATH has no Node.js.
 */
import { once } from "node:events";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ZipFile } from "yazl";
import { createWriteStream } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, processCommand, runScript, startDyno } from "../../src/ctl/local-heroku.js";
import type { BuildResult } from "../../src/ctl/local-heroku.js";
import { nodeMirror, pinnedNodeVersion } from "./helpers/node-mirror.js";
import { probeBinary, readProbeReport } from "../helpers/probe.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";
import { RUNTIME_CONFIG, RUNTIME_ENV_EXPECTED } from "./helpers/build-env.js";
import { watchDyno } from "./helpers/dyno.js";
import { noStackTrace } from "./helpers/assertions.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/web-app");

async function writeReleaseZip(file: string, probe: string): Promise<void> {
  const zip = new ZipFile();
  zip.addFile(probe, "probe_1.4.0_linux_amd64/probe", { mode: 0o100755 });
  zip.addBuffer(Buffer.from("# probe\nA server.\n"), "probe_1.4.0_linux_amd64/README.md");
  zip.addBuffer(Buffer.from("#!/bin/sh\necho install\n"), "probe_1.4.0_linux_amd64/install.sh", { mode: 0o100755 });
  zip.addBuffer(Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, ...new Array(60).fill(0)]), "probe_1.4.0_darwin_arm64/probe");
  zip.addBuffer(Buffer.concat([Buffer.from("MZ"), Buffer.alloc(126)]), "probe_1.4.0_windows_amd64/probe.exe");
  zip.end();
  await once(zip.outputStream.pipe(createWriteStream(file)), "close");
}

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

describe("classic buildpack, end to end", () => {
  let workDir: string;
  let releases: StaticServer;
  let mirror: StaticServer;
  let stackPath: string;
  let buildEnv: NodeJS.ProcessEnv;
  let probe: string;
  let good: BuildResult;
  const buildPassword = "build-time-pass";

  function build(configVars: Record<string, string>, appDir = FIXTURE_APP): Promise<BuildResult> {
    return buildApp({ buildpackDir: REPO, appDir, workDir, configVars, buildEnv, cacheDir: join(workDir, "cache") });
  }

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-e2e-"));
    probe = probeBinary();
    await writeReleaseZip(join(workDir, "probe_1.4.0.zip"), probe);
    releases = await serveDirectory(workDir);
    mirror = await serveDirectory(nodeMirror());
    stackPath = makeStackPath(workDir);
    buildEnv = {
      PATH: stackPath,
      HOME: join(workDir, "home"),
      STACK: "heroku-24",
    };
    // A tarball of an older pin, as a build before a Node.js bump would have left in the cache.
    mkdirSync(join(workDir, "cache/execpack/node"), { recursive: true });
    writeFileSync(join(workDir, "cache/execpack/node/node-v1.0.0-linux-x64.tar.gz"), "old");
    good = await build({
      BINARY_URL: `${releases.url.replace("http://", `http://deploy:${buildPassword}@`)}/probe_1.4.0.zip`,
      BINARY_SHA256: sha256(join(workDir, "probe_1.4.0.zip")),
      NODEJS_ORG_MIRROR: mirror.url,
      DATABASE_URL: `postgres://builder:${buildPassword}@build-host:5432/build_db`,
    });
  });

  afterAll(async () => {
    await releases?.close();
    await mirror?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("detects the app by its binary.env and Procfile", () => {
    expect(good.detect).toMatchObject({ status: 0, stdout: "execpack\n" });
  });

  it("compiles with Heroku-style output naming the masked URL, the entry, its size and SHA-256", () => {
    const { status, stdout, stderr } = good.compile!;
    expect(status, stderr).toBe(0);
    expect(stdout).toMatch(/^-----> Installing Node.js/m);
    expect(stdout).toContain(`Downloading Node.js v`);
    expect(stdout).toContain(`http://*****@127.0.0.1:`);
    expect(stdout).toContain("probe_1.4.0_linux_amd64/probe");
    expect(stdout).toContain(sha256(probe));
    expect(stdout + stderr).not.toContain(buildPassword);
    expect(stdout).toMatch(/^ {7}\S/m);
  });

  it("leaves a slug with Node.js, the bundled bootstrapper without any node_modules, and no build path", () => {
    const slug = good.slugDir!;
    expect(existsSync(join(slug, ".execpack/node/bin/node"))).toBe(true);
    const bundles = readdirSync(join(slug, ".execpack/bootstrapper"));
    expect(bundles).toEqual(expect.arrayContaining(["boot-fetch.cjs", "compile.cjs", "execpack.cjs", "execpackctl.cjs"]));
    expect(bundles.filter((file) => !file.endsWith(".cjs"))).toEqual([]);
    expect(execFileSync("find", [slug, "-name", "node_modules"], { encoding: "utf8" })).toBe("");
    expect(sha256(join(slug, ".execpack/binary/probe"))).toBe(sha256(probe));
    const profile = readFileSync(join(slug, ".profile.d/execpack.sh"), "utf8");
    expect(profile).toContain("${HOME}/.execpack/bin");
    expect(profile).not.toContain(good.buildDir);
    expect(readFileSync(join(slug, ".execpack/binary.json"), "utf8")).not.toContain(good.buildDir);
  });

  it("leaves no build path anywhere in the slug", () => {
    const grep = spawnSync("grep", ["-rlF", good.buildDir, good.slugDir!], { encoding: "utf8" });
    expect(grep.stdout).toBe("");
    expect(grep.status).toBe(1); // grep's "no match", not an error
  });

  it("keeps the build cache lean: the verified node of the pinned release and its SHA-256, no tarball, no stray download", () => {
    const cache = join(workDir, "cache/execpack");
    // An earlier pin's tarball, left by a build before a Node.js bump, went with this build.
    expect(existsSync(join(cache, "node/node-v1.0.0-linux-x64.tar.gz"))).toBe(false);
    const kept = `node-v${pinnedNodeVersion()}-linux-x64`;
    expect(readdirSync(join(cache, "node")).sort()).toEqual([kept, `${kept}.sha256`, `${kept}.stamp`]);
    expect(readdirSync(join(cache, "node", kept), { recursive: true }).sort()).toEqual(["bin", "bin/node"]);
    expect(readFileSync(join(cache, "node", `${kept}.sha256`), "utf8").trim()).toBe(sha256(join(cache, "node", kept, "bin/node")));
    expect(existsSync(join(cache, "release.download"))).toBe(false);
    // The install, kept for a rebuild that changes nothing (its warnings file moved into it, the download's validators copied).
    expect(readdirSync(join(cache, "installed")).sort()).toEqual(["archive.json", "key", "slug", "stamp", "warnings"]);
    expect(readdirSync(join(cache, "installed/slug")).sort()).toEqual(["binary", "binary.json", "commands"]);
    expect(existsSync(join(cache, "install-warnings.txt"))).toBe(false);
  });

  it("needs no npm, no registry and no esbuild: the bootstrapper comes from the buildpack's dist/", () => {
    expect(good.compile!.stdout).toMatch(/Installed \d+ bundles from the buildpack's dist\//);
    expect(good.compile!.stdout + good.compile!.stderr).not.toMatch(/npm|dependencies/i);
    // What the build asked the release host and the Node.js mirror for, and nothing else.
    expect(releases.requests).toEqual(["/probe_1.4.0.zip"]);
    expect(mirror.requests).toEqual([`/v${pinnedNodeVersion()}/SHASUMS256.txt`, `/v${pinnedNodeVersion()}/node-v${pinnedNodeVersion()}-linux-x64.tar.gz`]);
  });

  it("offers web: execpack as the default process type", () => {
    expect(good.release!.status).toBe(0);
    expect(good.release!.stdout).toMatch(/^default_process_types:\n {2}web: execpack$/m);
  });

  it("starts the dynos below with no Node.js on PATH, as on a stack image", async () => {
    const check = await runScript("bash", ["-c", "command -v node || echo none"], { PATH: stackPath });
    expect(check.stdout.trim()).toBe("none");
  });

  async function bootWeb(configVars: Record<string, string>, options: { execCommand: boolean; after?: string }) {
    const report = join(workDir, `report-${Math.random()}`);
    const dyno = startDyno({
      slugDir: good.slugDir!,
      command: `${processCommand(good.slugDir!, good.release!.stdout)} 'two words' ''${options.after ?? ""}`,
      configVars: { ...configVars, PROBE_REPORT: report },
      path: stackPath,
      port: 5123,
      execCommand: options.execCommand,
    });
    const { exited, readyOrExited, output } = watchDyno(dyno);
    await readyOrExited;
    return { dyno, report, exited, output };
  }

  const runtimeConfig = RUNTIME_CONFIG;

  it("execs the binary in place: same PID, ARGS untouched, runtime credentials, SIGTERM and exit status", async () => {
    await releases.close(); // Nothing may be fetched at boot in the default mode.
    const { dyno, report, exited, output } = await bootWeb(runtimeConfig, { execCommand: true });
    const probeReport = readProbeReport(report);
    expect(probeReport.pid).toBe(dyno.pid);
    expect(probeReport.argv).toEqual(["probe", "serve", "--wait", "two words", ""]);
    expect(probeReport.cwd).toBe(good.slugDir);
    expect(probeReport.ignoredSignals).toBe("0000000000000000"); // Node's ignored SIGPIPE must not leak through

    expect(probeReport.env).toMatchObject({
      ...RUNTIME_ENV_EXPECTED,
      HOME: good.slugDir,
    });
    expect(Object.keys(probeReport.env).filter((name) => name.startsWith("EXECPACK"))).toEqual([]);

    dyno.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(42);
    expect(output().stdout).toBe("ready\nsigterm\n");
  });

  it("rebuilds with every server stopped: the pinned release and Node.js come from the build cache, checked locally", async () => {
    await mirror.close(); // the release host is already down (above)
    const settings = {
      BINARY_URL: `${releases.url.replace("http://", `http://deploy:${buildPassword}@`)}/probe_1.4.0.zip`,
      BINARY_SHA256: sha256(join(workDir, "probe_1.4.0.zip")),
      NODEJS_ORG_MIRROR: mirror.url,
    };
    // Nothing changed: the install the last build made is copied from the cache, no Node.js step runs.
    const codeCache = join(workDir, "cache/execpack/profile-code-cache/profile-code-cache");
    const codeCacheTime = statSync(codeCache).mtimeMs;
    const reused = await build(settings);
    expect(reused.compile?.status, reused.compile?.stderr).toBe(0);
    expect(reused.compile!.stdout).toContain(`Using cached Node.js v${pinnedNodeVersion()} (linux-x64), unchanged since its SHA-256 was checked`);
    expect(reused.compile!.stdout).toContain("Reusing the release the last build installed");
    expect(reused.compile!.stdout).toContain(`Installed 'probe_1.4.0_linux_amd64/probe' (sha256 ${sha256(probe)})`);
    expect(reused.compile!.stdout).not.toContain("Downloading");
    expect(sha256(join(reused.slugDir!, ".execpack/binary/probe"))).toBe(sha256(probe));
    expect(readdirSync(join(reused.slugDir!, ".execpack/commands"))).toContain("probe");
    // The profile step's V8 code cache comes from the build cache too (nothing that makes it changed): not made again.
    expect(readFileSync(join(reused.slugDir!, ".execpack/profile-code-cache"))).toEqual(readFileSync(codeCache));
    expect(statSync(codeCache).mtimeMs).toBe(codeCacheTime);

    // A setting that changed (BINARY_NAME, even to the same choice) runs the install step: from the kept archive.
    const renamed = await build({ ...settings, BINARY_NAME: "probe_1.4.0_linux_amd64/probe" });
    expect(renamed.compile?.status, renamed.compile?.stderr).toBe(0);
    expect(renamed.compile!.stdout).not.toContain("Reusing the release");
    expect(renamed.compile!.stdout).toContain("Using cached archive (BINARY_SHA256 matches; nothing was fetched)");

    // A kept install changed since it was recorded is not used: the install step checks the kept archive instead.
    appendFileSync(join(workDir, "cache/execpack/installed/slug/binary/probe"), "damage");
    const checked = await build({ ...settings, BINARY_NAME: "probe_1.4.0_linux_amd64/probe" });
    expect(checked.compile?.status, checked.compile?.stderr).toBe(0);
    expect(checked.compile!.stdout).not.toContain("Reusing the release");
    expect(checked.compile!.stdout).toContain("Using cached archive (BINARY_SHA256 matches; nothing was fetched)");
    expect(sha256(join(checked.slugDir!, ".execpack/binary/probe"))).toBe(sha256(probe));
  });

  it("leaves no Node.js process between bash and the binary when bash forks for execpack", async () => {
    // A command after execpack keeps bash from exec'ing it: bash forks, and that child must become the binary.
    const { dyno, report, exited, output } = await bootWeb(runtimeConfig, { execCommand: false, after: '; echo "status $?"' });
    const probeReport = readProbeReport(report);
    expect(probeReport.ppid).toBe(dyno.pid);
    expect(readFileSync(`/proc/${probeReport.pid}/comm`, "utf8").trim()).toBe("probe");
    expect(readFileSync(`/proc/${dyno.pid}/comm`, "utf8").trim()).toBe("bash");
    process.kill(probeReport.pid, "SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(output().stdout).toBe("ready\nsigterm\nstatus 42\n");
  });

  it("hands the final exec to bash when the slug's Node.js cannot exec, keeping the PID and the environment", async () => {
    const viaExecve = await bootWeb(runtimeConfig, { execCommand: true });
    const expected = readProbeReport(viaExecve.report);
    viaExecve.dyno.kill("SIGTERM");
    await viaExecve.exited;

    writeFileSync(join(good.slugDir!, ".execpack/shell-handoff"), "");
    try {
      const { dyno, report, exited } = await bootWeb(runtimeConfig, { execCommand: true });
      const probeReport = readProbeReport(report);
      expect(probeReport.pid).toBe(dyno.pid);
      expect(probeReport.argv).toEqual(expected.argv);
      expect(Object.keys(probeReport.env).sort()).toEqual(Object.keys(expected.env).sort());
      expect(probeReport.env.APP_DB_PASSWORD).toBe("p@ss:w/rd");
      dyno.kill("SIGTERM");
      const [code] = await exited;
      expect(code).toBe(42);
    } finally {
      rmSync(join(good.slugDir!, ".execpack/shell-handoff"));
    }
  });

  it("runs the release phase command with the same environment and passes its exit status", async () => {
    const report = join(workDir, "release-report");
    const dyno = startDyno({
      slugDir: good.slugDir!,
      command: "execpack migrate --exit 7",
      configVars: { ...runtimeConfig, PROBE_REPORT: report },
      path: stackPath,
    });
    const [code] = (await once(dyno, "exit")) as [number | null];
    expect(code).toBe(7);
    expect(readProbeReport(report).env.APP_DB_PASSWORD).toBe("p@ss:w/rd");
  });

  it("runs execpackctl env in a dyno, like `heroku run execpackctl env`, with secrets masked", async () => {
    const dyno = startDyno({ slugDir: good.slugDir!, command: "execpackctl env", configVars: runtimeConfig, path: stackPath });
    let stdout = "";
    dyno.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    const [code] = (await once(dyno, "exit")) as [number | null];
    expect(code).toBe(0);
    expect(stdout).toContain("DATABASE_HOST='db.internal' # derived from DATABASE_URL");
    expect(stdout).toContain("APP_DB_PASSWORD='*****' # binary.env:5");
    expect(stdout).not.toContain("p@ss:w/rd");
    expect(stdout).not.toContain("p%40ss%3Aw%2Frd");
  });

  /** binary.env is read at every boot, so a test may swap it in the built slug; the original comes back after. */
  async function withBinaryEnv<T>(text: string, run: () => Promise<T>): Promise<T> {
    const file = join(good.slugDir!, "binary.env");
    const original = readFileSync(file, "utf8");
    writeFileSync(file, text);
    try {
      return await run();
    } finally {
      writeFileSync(file, original);
    }
  }

  async function bootOnce(command: string, configVars: Record<string, string>) {
    const report = join(workDir, `report-${Math.random()}`);
    const dyno = startDyno({ slugDir: good.slugDir!, command, configVars: { ...configVars, PROBE_REPORT: report }, path: stackPath, execCommand: true });
    let stderr = "";
    dyno.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const [code] = (await once(dyno, "exit")) as [number | null];
    return { code, stderr, report, pid: dyno.pid };
  }

  it("maps a JawsDB, a ClearDB, a rediss and a Postgres URL in one boot, as the binary sees them", async () => {
    const addons = {
      JAWSDB_URL: "mysql://jaws_user:j%40ws%3Apw@jaws.internal:3306/jaws_db",
      CLEARDB_DATABASE_URL: "mysql://clear_user:cl%2Fear@us-cdbr-east.cleardb.internal/heroku_abc123?reconnect=true",
      REDIS_URL: "rediss://:r%23dis@redis.internal:6380",
      DATABASE_URL: "postgres://pg_user:pg%25pw@pg.internal:5432/pg_db?sslmode=require",
    };
    const mapping = [
      "MYSQL_ADDRESS=${JAWSDB_ADDRESS}",
      "MYSQL_PASSWORD=${JAWSDB_PASSWORD}",
      "MYSQL_DSN=${JAWSDB_DSN}",
      "CLEAR_ADDRESS=${CLEARDB_DATABASE_ADDRESS}",
      "CLEAR_PASSWORD=${CLEARDB_DATABASE_PASSWORD}",
      "CLEAR_NAME=${CLEARDB_DATABASE_NAME}",
      "CACHE_ADDRESS=${REDIS_ADDRESS}",
      "CACHE_PASSWORD=${REDIS_PASSWORD}",
      "CACHE_TLS=${REDIS_TLS}",
      "PG_HOST=${DATABASE_HOST}",
      "PG_PASSWORD=${DATABASE_PASSWORD}",
      "PG_TLS=${DATABASE_TLS}",
    ].join("\n");
    const { code, report } = await withBinaryEnv(mapping, () => bootOnce("execpack --exit 0", addons));
    expect(code).toBe(0);
    expect(readProbeReport(report).env).toMatchObject({
      MYSQL_ADDRESS: "jaws.internal:3306",
      MYSQL_PASSWORD: "j@ws:pw",
      MYSQL_DSN: "jaws_user:j@ws:pw@tcp(jaws.internal:3306)/jaws_db",
      CLEAR_ADDRESS: "us-cdbr-east.cleardb.internal:3306",
      CLEAR_PASSWORD: "cl/ear",
      CLEAR_NAME: "heroku_abc123",
      CACHE_ADDRESS: "redis.internal:6380",
      CACHE_PASSWORD: "r#dis",
      CACHE_TLS: "true",
      PG_HOST: "pg.internal",
      PG_PASSWORD: "pg%pw",
      PG_TLS: "true",
    });
  });

  it("keeps the app's NODE_OPTIONS away from the bootstrapper's Node.js and hands it to the binary unchanged", async () => {
    const nodeOptions = "--require ./newrelic-preload.js --max-old-space-size=256";
    const { code, stderr, report } = await bootOnce("execpack --exit 0", { ...RUNTIME_CONFIG, NODE_OPTIONS: nodeOptions, "my.setting": "kept" });
    expect(code, stderr).toBe(0);
    const env = readProbeReport(report).env;
    expect(env.NODE_OPTIONS).toBe(nodeOptions);
    expect(env["my.setting"]).toBe("kept"); // a name that is no shell identifier survives the launcher too
    expect(Object.keys(env).filter((name) => name.startsWith("EXECPACK"))).toEqual([]);
  });

  it("stops before exec when a required ${VAR:?message} is unset, naming it and showing the message", async () => {
    const { code, stderr, report } = await withBinaryEnv("SIGNING_KEY=${APP_SIGNING_KEY:?generate one with: heroku config:set APP_SIGNING_KEY=$(openssl rand -hex 32)}\n", () =>
      bootOnce("execpack serve", RUNTIME_CONFIG),
    );
    expect(code).toBe(1);
    expect(stderr).toContain("[env.required]");
    expect(stderr).toContain("APP_SIGNING_KEY");
    expect(stderr).toContain("generate one with: heroku config:set APP_SIGNING_KEY=");
    noStackTrace(stderr);
    expect(existsSync(report)).toBe(false);
  });

  it("refuses to start the binary when binary.env needs a malformed DATABASE_URL, without echoing its password", async () => {
    const report = join(workDir, "bad-url-report");
    const dyno = startDyno({
      slugDir: good.slugDir!,
      command: "execpack serve",
      configVars: { DATABASE_URL: "postgres://user:hunter2secret@db.internal:notaport/db", PROBE_REPORT: report },
      path: stackPath,
    });
    let stderr = "";
    dyno.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const [code] = (await once(dyno, "exit")) as [number | null];
    expect(code).toBe(1);
    expect(stderr).toContain("env.invalid-url");
    expect(stderr).toContain("DATABASE_URL");
    expect(stderr).not.toContain("hunter2secret");
    noStackTrace(stderr);
    expect(existsSync(report)).toBe(false);
  });
});
