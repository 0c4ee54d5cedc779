/**
 * What the binary inherits through `execpack`, compared with bash's `exec "$@"` on the same slug: fds 0-2 in
 * blocking mode and nothing else, every log line through a reader that starts late, the app's NODE_*
 * variables unchanged (and none of them applied to execpack's own Node.js), and an environment too large for
 * execve stopped with a code instead of an abort. One real bin/compile of a fixture app whose binary is the
 * stdio probe (test/fixtures/stdio-probe), booted with bash in a clean environment.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, processCommand, startDyno } from "../../src/ctl/local-heroku.js";
import type { BuildResult } from "../../src/ctl/local-heroku.js";
import { file, tarGz } from "../helpers/release-archives.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";
import { O_NONBLOCK, parseFdFlags, stdioProbeBinary } from "../helpers/stdio-probe.js";
import { offlineNpm } from "./helpers/build-env.js";
import { nodeMirror } from "./helpers/node-mirror.js";
import { noStackTrace } from "./helpers/assertions.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/stdio-app");

describe("the exec hand-off, end to end", () => {
  let workDir: string;
  let mirror: StaticServer;
  let stackPath: string;
  let built: BuildResult;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-handoff-"));
    const release = join(workDir, "stdio-probe_linux_amd64.tar.gz");
    // A second program of the release is a companion command: `companion` on the dyno's PATH.
    const probeBytes = readFileSync(stdioProbeBinary());
    writeFileSync(release, tarGz([file("stdio-probe_linux_amd64/stdio-probe", probeBytes), file("stdio-probe_linux_amd64/companion", probeBytes)]));
    mirror = await serveDirectory(nodeMirror());
    stackPath = makeStackPath(workDir);
    built = await buildApp({
      buildpackDir: REPO,
      appDir: FIXTURE_APP,
      workDir,
      configVars: { BINARY_URL: pathToFileURL(release).href, NODEJS_ORG_MIRROR: mirror.url },
      buildEnv: { PATH: stackPath, HOME: join(workDir, "home"), STACK: "heroku-24", ...offlineNpm() },
    });
    expect(built.compile?.status, built.compile?.stderr).toBe(0);
  });

  afterAll(async () => {
    await mirror?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** Runs COMMAND (bash syntax) in a dyno of the built slug, with only fds 0-2 open, and collects its output. */
  async function run(command: string, configVars: Record<string, string> = {}) {
    const dyno = startDyno({ slugDir: built.slugDir!, command, configVars, path: stackPath });
    let stdout = "";
    let stderr = "";
    dyno.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    dyno.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    // A hung boot (the bug NODE_COMPILE_CACHE=/proc/nope caused) must not outlive the test as an orphan.
    const timer = setTimeout(() => dyno.kill("SIGKILL"), 20_000);
    const [code] = (await once(dyno, "exit")) as [number | null];
    clearTimeout(timer);
    return { code, stdout, stderr };
  }

  const probe = () => join(built.slugDir!, ".execpack/binary/stdio-probe");

  it.each([
    ["the web process", "web"],
    ["the release phase", "release"],
    ["a companion command", "companion"],
  ])("hands %s fds 0-2 in blocking mode, exactly as bash's exec does, and no other fd", async (_, type) => {
    const command = type === "companion" ? "companion --fds" : processCommand(built.slugDir!, built.release!.stdout, type)!;
    // Pipes on both sides, as Heroku's log router gives a dyno: the output goes through `| cat`.
    const viaBash = await run(`: | (exec ${probe()} --fds) | cat`);
    const viaExecpack = await run(`: | (${command}) | cat`);
    expect(viaExecpack.code, viaExecpack.stderr).toBe(0);
    const expected = parseFdFlags(viaBash.stdout);
    const flags = parseFdFlags(viaExecpack.stdout);
    // What bash's exec passes on: 0-2 (and whatever the test runner itself inherited), none of Node's own.
    expect([...flags.keys()]).toEqual([...expected.keys()]);
    expect([...flags.keys()].slice(0, 3)).toEqual([0, 1, 2]);
    for (const fd of [0, 1, 2]) {
      expect(flags.get(fd)! & O_NONBLOCK, `fd ${fd} is non-blocking`).toBe(0);
      expect(flags.get(fd), `fd ${fd}`).toBe(expected.get(fd));
    }
  });

  it("delivers every one of 30000 log lines to a reader that starts a second late", async () => {
    const { code, stdout, stderr } = await run('set -o pipefail; execpack --lines 30000 | { sleep 1; wc -l; }');
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout.trim()).toBe("30000");
  });

  it("keeps the app's NODE_* variables from execpack's own Node.js and hands them to the binary unchanged", async () => {
    const appVars = {
      NODE_OPTIONS: "--require /app/no-such-preload.js",
      NODE_COMPILE_CACHE: "/proc/nope",
      NODE_DEBUG: "module,fs,net",
      NODE_PATH: "/app/lib",
      NODE_EXTRA_CA_CERTS: "/app/no-such-ca.pem",
      // Names a launcher could have used for its own variables: they reach the binary untouched too.
      root: "app-root",
      name: "app-name",
    };
    const names = Object.keys(appVars);
    for (const command of ["execpack --env", "bash -c 'exec execpack --env \"$@\"' bash"]) {
      const { code, stdout, stderr } = await run(`${command} ${names.join(" ")}`, appVars);
      expect(stderr, command).toBe(""); // no NODE_DEBUG trace, no failed --require, no certificate warning
      expect(code).toBe(0);
      expect(stdout).toBe(Object.entries(appVars).map(([name, value]) => `${name}=${value}\n`).join(""));
    }
    const ctl = await run("execpackctl env", appVars);
    expect(ctl.code, ctl.stderr).toBe(0);
    expect(ctl.stderr).toBe("");
    expect(ctl.stdout).toContain("NODE_DEBUG='module,fs,net'");
  });

  it("stops with boot.environment-too-large, naming the largest variables, when execve would fail with E2BIG", async () => {
    // The dyno's own environment fits; binary.env copying a certificate twenty times does not.
    const binaryEnv = join(built.slugDir!, "binary.env");
    const original = readFileSync(binaryEnv, "utf8");
    writeFileSync(binaryEnv, Array.from({ length: 20 }, (_, i) => `CERT_COPY_${i}=\${TLS_CERT}\n`).join(""));
    try {
      const { code, stdout, stderr } = await run("execpack --env CERT_COPY_0", { TLS_CERT: "c".repeat(120_000) });
      expect(code).toBe(1);
      expect(stdout).toBe("");
      expect(stderr).toContain("[boot.environment-too-large]");
      expect(stderr).toMatch(/limit here is \d+ KiB/);
      expect(stderr).toMatch(/(CERT_COPY_\d+|TLS_CERT): 118 KiB/);
      expect(stderr).not.toContain("cccc");
      expect(stderr).not.toContain("Argument list too long"); // the launcher's fast path left it to the Node.js path
      noStackTrace(stderr);
    } finally {
      writeFileSync(binaryEnv, original);
    }
  });
});
