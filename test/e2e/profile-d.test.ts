/**
 * Add-on values in the dyno's shell (issue 10, item 7): .profile.d's profile step exports the derived variables,
 * so a Procfile line and `heroku run bash` see them, and leaves a record that lets `execpack` exec the binary
 * without a second Node.js start. Built by the real bin/compile, the slug moved, each process started like a
 * dyno (clean environment, .profile.d sourced by bash, the command run by bash). The slug's Node.js is wrapped
 * to count its starts: ordinary add-on URLs take the profile step's shell path and the launcher's fast path, and
 * start it not at all; a start the shell path leaves to Node.js starts it once (the profile step), and a
 * launcher that cannot use the record once more.
 */
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ZipFile } from "yazl";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, startDyno } from "../../src/ctl/local-heroku.js";
import { probeBinary, readProbeReport } from "../helpers/probe.js";
import type { ProbeReport } from "../helpers/probe.js";
import { serveDirectory } from "../helpers/static-server.js";
import { nodeMirror } from "./helpers/node-mirror.js";
import { offlineNpm } from "./helpers/build-env.js";
import { watchDyno } from "./helpers/dyno.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** A password that a shell would run if it ever evaluated it: $(...), backticks, both quotes, a newline. */
const HOSTILE_PASSWORD = "a$(touch MARKER)b`touch MARKER`c'd\"e\nf $HOME";

describe(".profile.d: derived variables in the dyno's shell, and at most one Node.js start per boot", () => {
  let workDir: string;
  let slug: string;
  let stackPath: string;
  let counter: string;
  let marker: string;

  const binaryEnv = "APP_DB=${DATABASE_HOST}:${DATABASE_PORT}\nAPP_MODE=${APP_MODE:-production}\n";
  const config = (extra: Record<string, string> = {}): Record<string, string> => ({
    DATABASE_URL: "postgres://app:s3cret@db.internal:5432/app",
    REDIS_URL: "redis://h:redis-pass@cache.internal:6380",
    ...extra,
  });

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-profile-d-"));
    marker = join(workDir, "MARKER");
    const zip = new ZipFile();
    zip.addFile(probeBinary(), "probe_1.4.0_linux_amd64/probe", { mode: 0o100755 });
    zip.addFile(probeBinary(), "probe_1.4.0_linux_amd64/probectl", { mode: 0o100755 });
    zip.end();
    await once(zip.outputStream.pipe(createWriteStream(join(workDir, "probe_1.4.0_linux_amd64.zip"))), "close");
    const releases = await serveDirectory(workDir);
    const mirror = await serveDirectory(nodeMirror());
    stackPath = makeStackPath(workDir);
    const appDir = join(workDir, "app");
    mkdirSync(appDir);
    writeFileSync(join(appDir, "binary.env"), binaryEnv);
    writeFileSync(join(appDir, "Procfile"), "web: execpack\n");
    const built = await buildApp({
      buildpackDir: REPO,
      appDir,
      workDir,
      configVars: { BINARY_URL: `${releases.url}/probe_1.4.0_linux_amd64.zip`, BINARY_NAME: "probe", NODEJS_ORG_MIRROR: mirror.url },
      buildEnv: { PATH: stackPath, HOME: join(workDir, "home"), STACK: "heroku-24", ...offlineNpm() },
    });
    await releases.close();
    await mirror.close();
    expect(built.compile?.status, `${built.compile?.stdout}\n${built.compile?.stderr}`).toBe(0);
    slug = built.slugDir!;
    // Every start of the slug's Node.js leaves a line in the counter file.
    counter = join(workDir, "node-starts");
    const node = join(slug, ".execpack/node/bin/node");
    renameSync(node, `${node}.real`);
    writeFileSync(node, `#!/bin/bash\necho "$$" >>'${counter}'\nexec -a "$0" '${node}.real' "$@"\n`);
    chmodSync(node, 0o755);
  }, 120_000);

  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** Runs one process like a dyno and returns its outcome, the probe's report (if it ran) and the Node.js starts. */
  async function dyno(command: string, configVars: Record<string, string>, execCommand = /^(execpack|probectl) /.test(command)) {
    writeFileSync(counter, "");
    const report = join(workDir, `report-${Math.random().toString(36).slice(2)}`);
    const started = startDyno({ slugDir: slug, command, configVars: { ...configVars, PROBE_REPORT: report }, path: stackPath, execCommand });
    const watched = watchDyno(started);
    const [status] = await watched.exited;
    const probe: ProbeReport | undefined = existsSync(report) ? readProbeReport(report) : undefined;
    const nodeStarts = readFileSync(counter, "utf8").split("\n").filter(Boolean).length;
    return { status, pid: started.pid, probe, nodeStarts, ...watched.output() };
  }

  it("a Procfile line's $DATABASE_HOST and $REDIS_PASSWORD reach the binary's argv; Node.js never started, the binary has the shell's PID", async () => {
    const run = await dyno("execpack --db-host $DATABASE_HOST --requirepass $REDIS_PASSWORD --exit 0", config());
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.probe?.argv).toEqual(["probe", "--db-host", "db.internal", "--requirepass", "redis-pass", "--exit", "0"]);
    expect(run.probe?.pid).toBe(run.pid);
    expect(run.probe?.env).toMatchObject({ APP_DB: "db.internal:5432", APP_MODE: "production", BINARY_HOME: join(slug, ".execpack/binary"), DATABASE_PASSWORD: "s3cret" });
    expect(Object.keys(run.probe!.env).filter((name) => name.startsWith("EXECPACK_INTERNAL_"))).toEqual([]);
    expect(run.probe?.env.PATH?.split(":").slice(-2)).toEqual([join(slug, ".execpack/binary"), join(slug, ".execpack/commands")]);
    expect(run.nodeStarts).toBe(0);
  }, 60_000);

  it("the fast path gives the binary the same environment as the Node.js path", async () => {
    const fast = await dyno("execpack --exit 0", config());
    const slow = await dyno("EXECPACK_INTERNAL_PROFILE= execpack --exit 0", config());
    expect([fast.nodeStarts, slow.nodeStarts]).toEqual([0, 1]);
    const comparable = (report: ProbeReport | undefined) => {
      const { _: _ignored, PROBE_REPORT: _report, ...env } = report!.env;
      return { argv: report!.argv, env };
    };
    expect(comparable(fast.probe)).toEqual(comparable(slow.probe));
  }, 60_000);

  it("a companion command takes the fast path too, as itself", async () => {
    const run = await dyno("probectl --exit 0", config());
    expect(run.status, run.stderr).toBe(0);
    expect(run.probe?.argv[0]).toBe("probectl");
    expect(run.probe?.env.APP_DB).toBe("db.internal:5432");
    expect(run.nodeStarts).toBe(0);
  }, 60_000);

  it("a password holding $(...), backticks, quotes and a newline arrives byte for byte, and nothing runs", async () => {
    const url = `postgres://app:${encodeURIComponent(HOSTILE_PASSWORD)}@db.internal:5432/app`;
    const run = await dyno('execpack --password "$DATABASE_PASSWORD" --exit 0', { ...config(), DATABASE_URL: url });
    expect(run.status, run.stderr).toBe(0);
    expect(run.probe?.argv.slice(1, 3)).toEqual(["--password", HOSTILE_PASSWORD]);
    expect(run.probe?.env.DATABASE_PASSWORD).toBe(HOSTILE_PASSWORD);
    expect(run.nodeStarts).toBe(1); // a newline in a password is the Node.js step's; the launcher still uses its record
    const shell = await dyno("bash -c 'printf %s \"$DATABASE_PASSWORD\"'", { ...config(), DATABASE_URL: url });
    expect(shell.stdout).toBe(HOSTILE_PASSWORD);
    expect(existsSync(marker) || existsSync(join(slug, "MARKER"))).toBe(false);
  }, 60_000);

  it("`heroku run bash`: a shell after .profile.d sees DATABASE_HOST and friends, not binary.env's variables", async () => {
    const run = await dyno(`bash -c 'echo "$DATABASE_HOST $DATABASE_PORT $REDIS_ADDRESS $BINARY_HOME [\${APP_DB-}]"'`, config());
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe(`db.internal 5432 cache.internal:6380 ${join(slug, ".execpack/binary")} []\n`);
  }, 60_000);

  it("`heroku run execpackctl env` shows the shell's derived variables as derived, and derives them again from a changed URL", async () => {
    const run = await dyno("execpackctl env; DATABASE_URL=postgres://u:pw@replica.internal/app execpackctl env", config());
    expect(run.status, run.stderr).toBe(0);
    const [before, after] = run.stdout.split(/^(?=DATABASE_ADDRESS=)/m).slice(1);
    expect(before).toMatch(/^DATABASE_HOST='db\.internal' # derived from DATABASE_URL$/m);
    expect(after).toMatch(/^DATABASE_HOST='replica\.internal' # derived from DATABASE_URL$/m);
  }, 60_000);

  it.each([
    ["a malformed DATABASE_URL", { DATABASE_URL: "postgres://app:pa ss@db.internal:5432/app" }, "DATABASE_URL", "[env.invalid-url]"],
    ["a JawsDB placeholder", { JAWSDB_URL: "mysql://user:jaws-secret@changeme:3306/db" }, "JAWSDB_URL", "[env.url-placeholder]"],
  ])("%s: one warning line naming the variable, and a process that is not execpack's runs with status 0", async (_, vars, name, code) => {
    const run = await dyno("echo still running; echo \"[${DATABASE_HOST-}]\"", { ...config(), ...vars });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`still running\n[${"DATABASE_URL" in vars ? "" : "db.internal"}]\n`);
    const lines = run.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
    expect(lines[0]).toContain(code);
    expect(run.stderr).not.toMatch(/pa ss|jaws-secret/);
  }, 60_000);

  it("falls back to Node.js when a Procfile prefix changes an input, and the binary gets the new values", async () => {
    const mode = await dyno("APP_MODE=canary execpack --exit 0", config({ APP_MODE: "staging" }));
    expect(mode.probe?.env.APP_MODE).toBe("canary");
    expect(mode.nodeStarts).toBe(1);
    const url = await dyno("DATABASE_URL=postgres://other:pw@replica.internal:5433/app execpack --exit 0", config());
    expect(url.probe?.env).toMatchObject({ DATABASE_HOST: "replica.internal", DATABASE_PORT: "5433", APP_DB: "replica.internal:5433" });
    expect(url.nodeStarts).toBe(1);
    const added = await dyno("REPORTS_URL=mysql://r:pw@reports.internal/r execpack --exit 0", config());
    expect(added.probe?.env).toMatchObject({ REPORTS_HOST: "reports.internal" });
    expect(added.nodeStarts).toBe(1);
    const own = await dyno("DATABASE_HOST=override.internal execpack --exit 0", config());
    expect(own.probe?.env).toMatchObject({ DATABASE_HOST: "override.internal", APP_DB: "override.internal:5432" });
  }, 60_000);

  it("a failing ${X:?message} in binary.env: the Node.js path reports the coded error and the binary never starts; other processes run", async () => {
    const file = join(slug, "binary.env");
    writeFileSync(file, `${binaryEnv}APP_KEY=\${APP_SECRET_KEY:?set APP_SECRET_KEY first}\n`);
    try {
      const run = await dyno("execpack --exit 0", config());
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("[env.required]");
      expect(run.stderr).toContain("set APP_SECRET_KEY first");
      expect(run.probe).toBeUndefined();
      expect(run.nodeStarts).toBe(2);
      const other = await dyno("echo fine", config());
      expect([other.status, other.stdout, other.stderr]).toEqual([0, "fine\n", ""]);
    } finally {
      writeFileSync(file, binaryEnv);
    }
  }, 60_000);
});
