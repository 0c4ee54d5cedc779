/**
 * BINARY_FETCH=boot (src/boot/boot-fetch.ts) as Heroku runs it: the real bin/compile on a fixture app, a release
 * served from loopback by a scriptable server, a fresh copy of the moved slug for every dyno (a dyno starts
 * from the slug, never from what the last one left), started by bash in a clean environment without Node.js.
 * At boot the release server serves a newer release, is down, answers 404, or stalls mid-body.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, nodeOnPath, processCommand, startDyno } from "../../src/ctl/local-heroku.js";
import type { BuildResult } from "../../src/ctl/local-heroku.js";
import { INSTALL_NODE_FLAGS } from "../../src/install/node-flags.js";
import { ok, stall, startFaultServer, status } from "../helpers/fault-server.js";
import type { FaultServer } from "../helpers/fault-server.js";
import { probeBinary, readProbeReport } from "../helpers/probe.js";
import { file, zip } from "../helpers/release-archives.js";
import { offlineNpm } from "./helpers/build-env.js";
import { watchDyno } from "./helpers/dyno.js";
import { noStackTrace } from "./helpers/assertions.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/boot-fetch-app");
const RELEASE = "/app/releases/latest/app_linux_amd64.zip";

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A loopback URL where nothing listens: a release server that is down. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}${RELEASE}`;
}

describe("BINARY_FETCH=boot, end to end", () => {
  let workDir: string;
  let server: FaultServer;
  let stackPath: string;
  let build: BuildResult;
  // The release at build time, and the one published since: another path in the archive, another SHA-256
  // (the same probe with bytes after its last section, which the loader ignores).
  const built = { entry: "probe_1.0.0_linux_amd64/probe", binary: Buffer.alloc(0) };
  const published = { entry: "probe_1.1.0_linux_amd64/probe-next", binary: Buffer.alloc(0) };
  let dynoCount = 0;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-boot-fetch-"));
    built.binary = readFileSync(probeBinary());
    published.binary = Buffer.concat([built.binary, Buffer.from("\0execpack test release 1.1.0\n")]);
    server = await startFaultServer({ [RELEASE]: [ok(await zip([file(built.entry, built.binary)]))] });
    stackPath = makeStackPath(workDir);
    build = await buildApp({
      buildpackDir: REPO,
      appDir: FIXTURE_APP,
      workDir,
      configVars: { BINARY_URL: server.url(RELEASE), BINARY_FETCH: "boot" },
      buildEnv: {
        // Node.js comes from PATH, as when heroku/nodejs runs first; the dyno's PATH (stackPath) has none.
        PATH: makeStackPath(workDir, [nodeOnPath(workDir)]),
        HOME: join(workDir, "home"),
        ...offlineNpm(),
      },
    });
    // From here on the server has the newer release at the same URL.
    server.script(RELEASE, [ok(await zip([file(published.entry, published.binary)]))]);
  });

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** A dyno on a fresh copy of the slug; resolves once the binary printed "ready" or the dyno exited. */
  async function boot(configVars: Record<string, string>, prepare?: (slugDir: string) => void, onStarted?: (pid: number) => void) {
    dynoCount += 1;
    const slugDir = join(workDir, `dyno-${dynoCount}`);
    cpSync(build.slugDir!, slugDir, { recursive: true });
    prepare?.(slugDir);
    const report = join(workDir, `report-${dynoCount}`);
    // The dyno's own temporary directory: boot-time fetches write there, never into the slug.
    const tmp = join(slugDir, "..", `dyno-${dynoCount}-tmp`);
    mkdirSync(tmp);
    const started = Date.now();
    const dyno = startDyno({
      slugDir,
      command: processCommand(slugDir, build.release!.stdout)!,
      configVars: { ...configVars, PROBE_REPORT: report, TMPDIR: tmp },
      path: stackPath,
      port: 5200 + dynoCount,
      execCommand: true,
    });
    const { exited, readyOrExited, output } = watchDyno(dyno);
    onStarted?.(dyno.pid!);
    await readyOrExited;
    const readyAfterMs = Date.now() - started;
    return { dyno, slugDir, tmp, report, exited, readyAfterMs, output };
  }

  /** The process really running: the file it was exec'd from, and its SHA-256. */
  function runningBinary(pid: number): { path: string; sha256: string } {
    const path = readlinkSync(`/proc/${pid}/exe`);
    return { path, sha256: sha256(readFileSync(path)) };
  }

  async function stopWithSigterm(started: Awaited<ReturnType<typeof boot>>): Promise<void> {
    started.dyno.kill("SIGTERM");
    const [code] = await started.exited;
    expect(code).toBe(42);
    expect(started.output().stdout).toBe("ready\nsigterm\n");
  }

  it("still downloads while compiling, so the slug holds a binary to fall back on, and records fetch: boot", () => {
    expect(build.compile?.status, build.compile?.stderr).toBe(0);
    expect(build.compile!.stdout).toContain(built.entry);
    const slug = build.slugDir!;
    expect(sha256(readFileSync(join(slug, ".execpack/binary/probe")))).toBe(sha256(built.binary));
    expect(JSON.parse(readFileSync(join(slug, ".execpack/binary.json"), "utf8"))).toMatchObject({ name: "probe", fetch: "boot" });
  });

  it("downloads the release published since the build and execs it in place: same PID, binary.env, SIGTERM → 42", async () => {
    const started = await boot({ BINARY_URL: server.url(RELEASE), BINARY_FETCH: "boot", APP_MODE: "staging" });
    const { dyno, slugDir, tmp } = started;
    const report = readProbeReport(started.report);
    expect(report.pid).toBe(dyno.pid);
    // In a directory of this boot's own, named by the PID that execs it.
    expect(runningBinary(dyno.pid!)).toEqual({ path: join(tmp, `execpack-${process.getuid!()}/boot-binary/${dyno.pid}/binary/probe-next`), sha256: sha256(published.binary) });
    expect(existsSync(join(slugDir, ".execpack/boot-binary"))).toBe(false); // nothing written into the slug
    expect(report.argv).toEqual(["probe-next", "serve", "--wait"]);
    expect(report.env).toMatchObject({ APP_LISTEN: `0.0.0.0:${5200 + dynoCount}`, APP_MODE: "staging" });
    expect(server.requests(RELEASE)).toHaveLength(1);
    // Boot-time output goes to stderr: stdout belongs to the binary.
    const { stderr } = started.output();
    expect(stderr).toContain(`execpack: Downloading ${server.url(RELEASE)}`);
    expect(stderr).toContain(`Installed '${published.entry}' from the zip archive`);
    expect(stderr).toContain(sha256(published.binary));
    await stopWithSigterm(started);
  });

  it("keeps V8's code for the fetch's bundle in the slug: accepted where the slug moved to, unchanged by a boot", async () => {
    const cacheDir = (slugDir: string) => join(slugDir, ".execpack/compile-cache");
    const listing = (slugDir: string) => readdirSync(cacheDir(slugDir), { recursive: true, encoding: "utf8" }).sort().map((name) => `${name} ${statSync(join(cacheDir(slugDir), name)).mtimeMs}`);
    let before: string[] = [];
    const started = await boot({ BINARY_URL: server.url(RELEASE), BINARY_FETCH: "boot" }, (slugDir) => (before = listing(slugDir)));
    expect(before.some((line) => /^v\d+\.\d+\.\d+-/.test(line))).toBe(true); // Node.js's folder for its version
    expect(listing(started.slugDir)).toEqual(before);
    // The slug's Node.js, asked to say what it does with the cache, accepts the code for the bundle at its new path,
    // run with the flags the boot gives it (V8 refuses code made under other flags).
    const node = join(started.slugDir, ".execpack/node/bin/node");
    const debug = spawnSync(node, [...INSTALL_NODE_FLAGS, join(started.slugDir, ".execpack/bootstrapper/boot-fetch.cjs"), "--compile-cache-only"], {
      env: { NODE_COMPILE_CACHE: cacheDir(started.slugDir), NODE_COMPILE_CACHE_PORTABLE: "1", NODE_DEBUG_NATIVE: "COMPILE_CACHE" }, encoding: "utf8",
    });
    expect(debug.status).toBe(0);
    expect(debug.stderr).toMatch(/V8 code cache for CommonJS \S*dyno-\d+\/\.execpack\/bootstrapper\/boot-fetch\.cjs was accepted/);
    await stopWithSigterm(started);
  });

  it("boots the build-time binary with a warning naming the error when the release server is down", async () => {
    const url = await closedPortUrl();
    const started = await boot({ BINARY_URL: url, BINARY_FETCH: "boot" });
    const { dyno, slugDir } = started;
    expect(readProbeReport(started.report).pid).toBe(dyno.pid);
    expect(runningBinary(dyno.pid!)).toEqual({ path: join(slugDir, ".execpack/binary/probe"), sha256: sha256(built.binary) });
    const { stderr } = started.output();
    expect(stderr).toContain("Could not download BINARY_URL: the connection failed [download.network]");
    expect(stderr).toContain("ECONNREFUSED");
    expect(stderr).toContain("attempts: 5");
    expect(stderr).toContain(`Booting the binary installed at build time instead (sha256 ${sha256(built.binary)})`);
    expect(stderr).toMatch(/^ ! {5}/m);
    noStackTrace(stderr);
    await stopWithSigterm(started);
  });

  it("fails clearly when the download fails and the slug holds no binary from the build", async () => {
    const missing = "/app/releases/v9.9.9/app_linux_amd64.zip";
    server.script(missing, [status(404)]);
    const started = await boot({ BINARY_URL: server.url(missing), BINARY_FETCH: "boot" }, (slugDir) => {
      rmSync(join(slugDir, ".execpack/binary/probe"));
    });
    const [code] = await started.exited;
    expect(code).toBe(1);
    const { stdout, stderr } = started.output();
    expect(stdout).toBe("");
    expect(stderr).toContain("The release file was not found (HTTP 404 Not Found) [download.not-found]");
    expect(stderr).toContain(server.url(missing));
    expect(stderr).not.toContain("Booting the binary installed at build time");
    expect(stderr).not.toContain("internal error");
    noStackTrace(stderr);
    expect(existsSync(started.report)).toBe(false);
  });

  it("gives up after BINARY_FETCH_TIMEOUT when the body stalls, and boots the build-time binary", async () => {
    const stalled = "/app/releases/stalled/app_linux_amd64.zip";
    const body = await zip([file(published.entry, published.binary)]);
    server.script(stalled, [stall(body, body.length >> 1)]);
    const started = await boot({ BINARY_URL: server.url(stalled), BINARY_FETCH: "boot", BINARY_FETCH_TIMEOUT: "2" });
    const { dyno, slugDir } = started;
    expect(runningBinary(dyno.pid!)).toEqual({ path: join(slugDir, ".execpack/binary/probe"), sha256: sha256(built.binary) });
    // The deadline, not the 60 s idle timeout of a download, ended the wait.
    expect(started.readyAfterMs).toBeGreaterThanOrEqual(2_000);
    expect(started.readyAfterMs).toBeLessThan(6_000);
    const { stderr } = started.output();
    expect(stderr).toContain("The download could not finish before the deadline [download.deadline]");
    expect(stderr).toContain("Booting the binary installed at build time instead");
    noStackTrace(stderr);
    await stopWithSigterm(started);
  });

  it("follows BINARY_FETCH as it is at boot: unset now, the build-time binary starts and nothing is fetched", async () => {
    const before = server.requests(RELEASE).length;
    const started = await boot({ BINARY_URL: server.url(RELEASE) });
    expect(runningBinary(started.dyno.pid!)).toEqual({ path: join(started.slugDir, ".execpack/binary/probe"), sha256: sha256(built.binary) });
    expect(server.requests(RELEASE)).toHaveLength(before);
    expect(started.output().stderr).toBe("");
    await stopWithSigterm(started);
  });

  it("falls back with a warning, not a failed dyno, when a config var is bad at boot", async () => {
    const started = await boot({ BINARY_URL: server.url(RELEASE), BINARY_FETCH: "boot", BINARY_FETCH_TIMEOUT: "soon" });
    expect(runningBinary(started.dyno.pid!)).toEqual({ path: join(started.slugDir, ".execpack/binary/probe"), sha256: sha256(built.binary) });
    const { stderr } = started.output();
    expect(stderr).toContain("[config.invalid-fetch-timeout]");
    expect(stderr).toContain("Booting the binary installed at build time instead");
    noStackTrace(stderr);
    await stopWithSigterm(started);
  });

  it("leaves the build-time binary untouched when the boot-time fetch succeeds", async () => {
    const started = await boot({ BINARY_URL: server.url(RELEASE), BINARY_FETCH: "boot" });
    expect(sha256(readFileSync(join(started.slugDir, ".execpack/binary/probe")))).toBe(sha256(built.binary));
    expect(JSON.parse(readFileSync(join(started.slugDir, ".execpack/binary.json"), "utf8"))).toMatchObject({ name: "probe" });
    await stopWithSigterm(started);
  });

  it("falls back to the build-time binary when the fetched one could not start (linked for musl's loader)", async () => {
    const musl = join(workDir, "musl-probe");
    execFileSync("cc", ["-O2", "-o", musl, fileURLToPath(new URL("../fixtures/probe/probe.c", import.meta.url)), "-Wl,--dynamic-linker=/lib/ld-musl-x86_64.so.1"]);
    const path = "/app/releases/musl/app_linux_amd64.zip";
    server.script(path, [ok(await zip([file("app_linux_amd64/app", readFileSync(musl))]))]);
    const started = await boot({ BINARY_URL: server.url(path), BINARY_FETCH: "boot" });
    expect(runningBinary(started.dyno.pid!)).toEqual({ path: join(started.slugDir, ".execpack/binary/probe"), sha256: sha256(built.binary) });
    const { stderr } = started.output();
    expect(stderr).toContain("[boot.binary-wrong-format]");
    expect(stderr).toContain("/lib/ld-musl-x86_64.so.1");
    expect(stderr).toContain("Booting the binary installed at build time instead");
    expect(existsSync(join(started.tmp, `execpack-${process.getuid!()}/boot-cache/${started.dyno.pid}/release-cache`))).toBe(false);
    await stopWithSigterm(started);
  });

  /** The processes whose parent is `pid`, from /proc. */
  function childrenOf(pid: number): number[] {
    return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid ? [Number(name)] : [];
      } catch {
        return []; // gone meanwhile
      }
    });
  }

  it.each(["SIGABRT", "SIGSEGV", "SIGKILL"] as const)("boots the build-time binary when the fetching process dies of %s mid-download", async (signal) => {
    const path = `/app/releases/crash-${signal}/app_linux_amd64.zip`;
    const body = await zip([file(published.entry, published.binary)]);
    server.script(path, [stall(body, body.length >> 1)]);
    let dynoPid = 0;
    const booting = boot({ BINARY_URL: server.url(path), BINARY_FETCH: "boot", BINARY_FETCH_TIMEOUT: "20" }, undefined, (pid) => (dynoPid = pid));
    // The dyno's process is execpack's Node.js (bash exec'd it); the fetch is its only child. Wait for the request.
    let fetcher: number | undefined;
    for (let tries = 0; tries < 200 && fetcher === undefined; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      if (server.requests(path).length > 0) fetcher = childrenOf(dynoPid)[0];
    }
    expect(fetcher).toBeDefined();
    process.kill(fetcher!, signal);
    const started = await booting;
    expect(readProbeReport(started.report).pid).toBe(started.dyno.pid);
    expect(runningBinary(started.dyno.pid!)).toEqual({ path: join(started.slugDir, ".execpack/binary/probe"), sha256: sha256(built.binary) });
    const { stderr } = started.output();
    expect(stderr).toContain(`execpack: internal error: the boot-time fetch was killed by ${signal} [internal.crashed]`);
    noStackTrace(stderr);
    expect(stderr).toContain("Please report it with the lines above");
    expect(stderr).toContain(`Booting the binary installed at build time instead (sha256 ${sha256(built.binary)})`);
    expect(started.readyAfterMs).toBeLessThan(10_000); // the fallback came at the crash, not at the deadline
    await stopWithSigterm(started);
  });

  it("two boot-time fetches at once in one dyno each install and exec the new release, nothing shared", async () => {
    const slugDir = join(workDir, "shared-dyno");
    cpSync(build.slugDir!, slugDir, { recursive: true });
    for (let round = 0; round < 2; round++) {
      const dynos = [0, 1].map((index) => {
        const report = join(workDir, `shared-report-${round}-${index}`);
        const dyno = startDyno({
          slugDir, command: "execpack --exit 0", configVars: { BINARY_URL: server.url(RELEASE), BINARY_FETCH: "boot", PROBE_REPORT: report }, path: stackPath, execCommand: true,
        });
        return { dyno, report, watched: watchDyno(dyno) };
      });
      for (const { dyno, report, watched } of dynos) {
        const [code] = await watched.exited;
        expect(code, watched.output().stderr).toBe(0);
        expect(watched.output().stderr).not.toContain("Booting the binary installed at build time");
        expect(readProbeReport(report).argv[0]).toBe("probe-next");
        expect(readProbeReport(report).pid).toBe(dyno.pid);
      }
    }
  });

  it.each([
    ["fetched", (url: string) => url, "boot-binary/PID/binary/probe-next"],
    ["fallen back to the build's", () => "ftp://127.0.0.1/down.zip", "SLUG/.execpack/binary/probe"],
  ])("$BINARY_HOME in a Procfile line of several commands (the shell forks, another PID) names the release that ran: %s", async (_, url, expected) => {
    dynoCount += 1;
    const slugDir = join(workDir, `dyno-${dynoCount}`);
    cpSync(build.slugDir!, slugDir, { recursive: true });
    const tmp = join(workDir, `dyno-${dynoCount}-tmp`);
    mkdirSync(tmp);
    const report = join(workDir, `report-${dynoCount}`);
    // $BINARY_HOME is expanded before execpack runs, as in `release: promtool check config $BINARY_HOME/x.yml && ...`.
    const dyno = startDyno({
      slugDir,
      command: 'execpack --exit 0 "$BINARY_HOME" && readlink -f "$BINARY_HOME"/probe*',
      configVars: { BINARY_URL: url(server.url(RELEASE)), BINARY_FETCH: "boot", BINARY_FETCH_TIMEOUT: "5", PROBE_REPORT: report, TMPDIR: tmp },
      path: stackPath,
    });
    const watched = watchDyno(dyno);
    const [code] = await watched.exited;
    expect(code, watched.output().stderr).toBe(0);
    const probe = readProbeReport(report);
    expect(probe.pid).not.toBe(dyno.pid); // the shell forked: the release went into the folder of execpack's own PID
    expect(probe.argv[probe.argv.length - 1]).toBe(join(tmp, `execpack-${process.getuid!()}/boot-binary/${dyno.pid}/binary`));
    const where = expected.replace("PID", String(probe.pid)).replace("SLUG", slugDir);
    expect(watched.output().stdout.trim()).toBe(where.startsWith("/") ? where : join(tmp, `execpack-${process.getuid!()}`, where));
  });
});
