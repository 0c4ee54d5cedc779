/**
 * Heroku CI (the Testpack API) as Heroku runs it: the real bin/test-compile on a fixture app, a release with a
 * real ELF (the probe, which can listen on $PORT) served from loopback, then the real bin/test in the built
 * app with the CI app's config vars exported and .profile.d sourced, in a clean environment without Node.js.
 * bin/test prints TAP, one test per check, and its exit status is the verdict.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, nodeOnPath, runScript } from "../../src/ctl/local-heroku.js";
import type { BuildResult, ScriptResult } from "../../src/ctl/local-heroku.js";
import { probeBinary } from "../helpers/probe.js";
import { file, tarGz } from "../helpers/release-archives.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";
import { offlineNpm } from "./helpers/build-env.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/ci-app");
const DATABASE_URL = "postgres://ci_user:ci%40pass@ci-db.internal:5432/ci_db";

interface TapReport {
  plan: number;
  tests: Array<{ ok: boolean; number: number; description: string; skip: boolean }>;
}

/** Reads TAP the way a consumer does: test points, a plan, everything else ignored. */
function parseTap(stdout: string): TapReport {
  const lines = stdout.split("\n");
  expect(lines[0]).toBe("TAP version 13");
  const tests = lines.flatMap((line) => {
    const match = /^(not )?ok (\d+) - (.*?)( # SKIP .*)?$/.exec(line);
    return match ? [{ ok: !match[1], number: Number(match[2]), description: match[3]!, skip: match[4] !== undefined }] : [];
  });
  const plan = Number(/^1\.\.(\d+)$/m.exec(stdout)?.[1] ?? -1);
  expect(tests.map((test) => test.number)).toEqual(tests.map((_, index) => index + 1));
  expect(plan).toBe(tests.length);
  return { plan, tests };
}

describe("Heroku CI: bin/test-compile and bin/test, end to end", () => {
  let workDir: string;
  let releases: StaticServer;
  let stackPath: string;
  let build: BuildResult;
  let releaseSha256: string;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-ci-"));
    const releaseDir = join(workDir, "releases");
    mkdirSync(releaseDir);
    const archive = tarGz([file("probe_2.0.0_linux_amd64/probe", readFileSync(probeBinary())), file("probe_2.0.0_linux_amd64/LICENSE", "MIT\n", 0o644)]);
    writeFileSync(join(releaseDir, "probe.tar.gz"), archive);
    releaseSha256 = createHash("sha256").update(readFileSync(probeBinary())).digest("hex");
    releases = await serveDirectory(releaseDir);
    stackPath = makeStackPath(workDir);
    build = await buildApp({
      buildpackDir: REPO,
      appDir: FIXTURE_APP,
      workDir,
      compileScript: "test-compile",
      configVars: { BINARY_URL: `${releases.url}/probe.tar.gz` },
      // heroku/nodejs ran first in this CI app: its Node.js is reused, which keeps the build quick.
      buildEnv: { PATH: makeStackPath(workDir, [nodeOnPath(workDir)]), HOME: join(workDir, "home"), ...offlineNpm() },
    });
  });

  afterAll(async () => {
    await releases?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** bin/test as Heroku CI runs it: config vars exported, HOME at the app, .profile.d sourced, no Node.js on PATH. */
  function runTest(configVars: Record<string, string>, appDir = build.slugDir!): Promise<ScriptResult> {
    const profile = 'for f in "${HOME}"/.profile.d/*.sh; do [ -r "${f}" ] && . "${f}"; done; exec "$0" "$@"';
    // The test dyno's temporary files (the profile step's records hold derived passwords) stay in the test's folder.
    const tmp = `${appDir}.tmp`;
    mkdirSync(tmp, { recursive: true });
    const env = { BINARY_URL: `${releases.url}/probe.tar.gz`, TMPDIR: tmp, ...configVars, HOME: appDir, PATH: stackPath, LANG: "en_US.UTF-8" };
    return runScript("bash", ["-c", profile, join(REPO, "bin/test"), appDir, build.envDir], env);
  }

  function useProcfile(text: string): void {
    writeFileSync(join(build.slugDir!, "Procfile"), text);
  }

  it("bin/test-compile builds the app as bin/compile does", () => {
    expect(build.compile?.status, build.compile?.stderr).toBe(0);
    expect(build.compile?.stdout).toMatch(/^-----> Installing the release$/m);
    expect(build.slugDir).toBeDefined();
  });

  it("passes an app whose web process binds $PORT with the CI app's add-ons: five checks, exit 0", async () => {
    useProcfile("web: execpack serve --listen --wait\n");
    const result = await runTest({ DATABASE_URL });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    const tap = parseTap(result.stdout);
    expect(tap.tests.map(({ ok, description }) => [ok, description])).toEqual([
      [true, "the release binary 'probe' is installed and can start here"],
      [true, "the config vars and binary.env resolve (execpackctl check)"],
      [true, "web: `execpack serve --listen --wait` binds $PORT within 60 s"],
      [true, "web: the process bound is the release binary, exec'd in place (same PID)"],
      [true, "web: stops on SIGTERM within 30 s"],
    ]);
    expect(result.stdout).toContain(`# entry probe_2.0.0_linux_amd64/probe, sha256 ${releaseSha256}`);
    expect(result.stdout).toMatch(/^# exited with status 42$/m); // the probe's answer to SIGTERM
    expect(result.stderr).toContain("web: ready\nweb: sigterm\n"); // the server's own output, on stderr
    expect(result.stdout + result.stderr).not.toContain("ci@pass");
  });

  it("passes an app without web when BINARY_TEST_COMMAND exits 0 (config vars of environments.test)", async () => {
    useProcfile("worker: execpack work --wait\n");
    const result = await runTest({ DATABASE_URL, BINARY_TEST_COMMAND: "execpack migrate --exit 0" });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(parseTap(result.stdout).tests.map(({ ok, description }) => [ok, description])).toEqual([
      [true, "the release binary 'probe' is installed and can start here"],
      [true, "the config vars and binary.env resolve (execpackctl check)"],
      [true, "BINARY_TEST_COMMAND `execpack migrate --exit 0` exits 0"],
    ]);
  });

  it.each<[string, string, Record<string, string>, Array<[boolean, string, boolean?]>, string]>([
    [
      "the add-on binary.env requires is missing: the check fails, nothing is started",
      "web: execpack serve --listen --wait\n",
      {},
      [[true, "the release binary"], [false, "resolve (execpackctl check)"], [false, "binds $PORT", true], [false, "exec'd in place", true], [false, "SIGTERM", true]],
      "# FAIL   env.required",
    ],
    [
      "web never binds $PORT: fails at the deadline, and is still stopped",
      "web: execpack serve --wait\n",
      { DATABASE_URL, BINARY_TEST_TIMEOUT: "1" },
      [[true, "installed"], [true, "resolve"], [false, "binds $PORT within 1 s"], [false, "exec'd in place", true], [true, "stops on SIGTERM"]],
      "nothing listened on",
    ],
    [
      "web exits before binding: its status is named",
      "web: execpack serve --exit 4\n",
      { DATABASE_URL },
      [[true, "installed"], [true, "resolve"], [false, "binds $PORT"], [false, "exec'd in place", true], [false, "SIGTERM", true]],
      "it exited with status 4 before binding",
    ],
    [
      "no web process: BINARY_TEST_COMMAND fails",
      "worker: execpack work --wait\n",
      { DATABASE_URL, BINARY_TEST_COMMAND: "execpack migrate --exit 3" },
      [[true, "installed"], [true, "resolve"], [false, "BINARY_TEST_COMMAND"]],
      "# exited with status 3",
    ],
    [
      "no web process and no BINARY_TEST_COMMAND: says how to name one",
      "worker: execpack work --wait\n",
      { DATABASE_URL },
      [[true, "installed"], [true, "resolve"], [false, "there is something to start"]],
      '"environments": { "test": { "env": { "BINARY_TEST_COMMAND"',
    ],
  ])("fails when %s", async (_case, procfile, configVars, expected, diagnostic) => {
    useProcfile(procfile);
    const result = await runTest(configVars);
    expect(result.status, result.stdout + result.stderr).toBe(1);
    const tap = parseTap(result.stdout);
    expect(tap.tests.map((test) => [test.ok && !test.skip, test.skip])).toEqual(expected.map(([ok, , skip]) => [ok, skip ?? false]));
    tap.tests.forEach((test, index) => expect(test.description).toContain(expected[index]![1]));
    expect(result.stdout).toContain(diagnostic);
  });

  it("fails with its code when the app was not built by execpack", async () => {
    const bare = join(workDir, "not-built");
    mkdirSync(bare, { recursive: true });
    const result = await runTest({}, bare);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("[ci.not-built]");
    expect(result.stderr).toContain("bin/test-compile");
  });
});
