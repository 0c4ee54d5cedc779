/**
 * Hostile and broken input through the real bin/compile and execpack: library errors (the HTTP parser, a
 * bad percent-escape, a token holding a line break) and credentials that read as a host name end in a
 * stable code with no stack trace and no secret, at build time and in a boot-time fetch; a Node.js mirror's
 * credentials never reach curl's command line and are refused when they would be misread.
 */
import { readFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { once } from "node:events";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, nodeOnPath, runScript, startDyno } from "../../src/ctl/local-heroku.js";
import type { BuildResult } from "../../src/ctl/local-heroku.js";
import { startRawServer } from "../helpers/raw-http-server.js";
import type { RawServer } from "../helpers/raw-http-server.js";
import { file, tarGz } from "../helpers/release-archives.js";
import { stdioProbeBinary } from "../helpers/stdio-probe.js";
import { offlineNpm } from "./helpers/build-env.js";
import { nodeMirror } from "./helpers/node-mirror.js";
import { noStackTrace } from "./helpers/assertions.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/stdio-app");
const SECRETS = /TOKPART|ghp_first|second_half|50%zz|m1rr0r/i;

describe("hostile input, end to end", () => {
  let workDir: string;
  let raw: RawServer;
  let release: string;
  let buildEnv: NodeJS.ProcessEnv;
  let good: BuildResult;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-hostile-"));
    release = join(workDir, "stdio-probe_linux_amd64.tar.gz");
    writeFileSync(release, tarGz([file("stdio-probe_linux_amd64/stdio-probe", readFileSync(stdioProbeBinary()))]));
    raw = await startRawServer({
      "/bad-chunk": (socket) => socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
      "/not-http": (socket) => socket.end("SSH-2.0-OpenSSH_9.6\r\n"),
      "/ok": (socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"),
      // One byte every 200 ms: never idle long enough for the body timeout, never done.
      "/trickle": (socket) => {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n");
        const timer = setInterval(() => socket.write("x"), 200);
        socket.on("close", () => clearInterval(timer));
      },
    });
    // heroku/nodejs ran first: its Node.js is reused, which keeps these builds quick.
    buildEnv = { PATH: makeStackPath(workDir, [nodeOnPath(workDir)]), HOME: join(workDir, "home"), ...offlineNpm() };
    good = await buildApp({ buildpackDir: REPO, appDir: FIXTURE_APP, workDir, configVars: { BINARY_URL: pathToFileURL(release).href }, buildEnv });
    expect(good.compile?.status, good.compile?.stderr).toBe(0);
  });

  afterAll(async () => {
    await raw?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  const cases: Array<[string, () => Record<string, string>, string]> = [
    ["a token with a raw / in BINARY_URL", () => ({ BINARY_URL: raw.url("/ok").replace("://", "://Ab3xTOKPART1/TOKPART2@") }), "download.ambiguous-credentials"],
    ["a password with a bad percent-escape", () => ({ BINARY_URL: raw.url("/ok").replace("://", "://deploy:50%zz@") }), "download.invalid-url"],
    ["BINARY_TOKEN holding a line break", () => ({ BINARY_URL: raw.url("/ok"), BINARY_TOKEN: "ghp_first\nsecond_half" }), "download.invalid-token"],
    ["a chunked body with a bad chunk size", () => ({ BINARY_URL: raw.url("/bad-chunk") }), "download.bad-response"],
    ["a server that does not speak HTTP", () => ({ BINARY_URL: raw.url("/not-http") }), "download.bad-response"],
  ];

  it.each(cases)("bin/compile stops on %s with its code, no stack trace and no secret", async (_, vars, code) => {
    const result = await buildApp({ buildpackDir: REPO, appDir: FIXTURE_APP, workDir, configVars: vars(), buildEnv });
    const { status, stdout, stderr } = result.compile!;
    expect(status, stdout).toBe(1);
    expect(stderr).toContain(`[${code}]`);
    expect(stderr).not.toContain("internal error");
    noStackTrace(stderr);
    expect(stdout + stderr).not.toMatch(SECRETS);
  });

  it("bin/compile gives up on a server trickling a byte at a time after BINARY_DOWNLOAD_TIMEOUT, not Heroku's 15 minutes", async () => {
    const result = await buildApp({ buildpackDir: REPO, appDir: FIXTURE_APP, workDir, configVars: { BINARY_URL: raw.url("/trickle"), BINARY_DOWNLOAD_TIMEOUT: "2" }, buildEnv });
    const { status, stdout, stderr } = result.compile!;
    expect(status, stdout).toBe(1);
    expect(stderr).toContain("[download.deadline]");
    expect(stderr).toContain("BINARY_DOWNLOAD_TIMEOUT");
    noStackTrace(stderr);
  });

  it.each(cases)("execpack's boot-time fetch falls back on %s, naming its code, with no stack trace and no secret", async (_, vars, code) => {
    const dyno = startDyno({ slugDir: good.slugDir!, command: "execpack --env BINARY_FETCH", configVars: { ...vars(), BINARY_FETCH: "boot" }, path: buildEnv.PATH! });
    let stdout = "";
    let stderr = "";
    dyno.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    dyno.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const [status] = (await once(dyno, "exit")) as [number | null];
    expect(status, stderr).toBe(0);
    expect(stdout).toBe("BINARY_FETCH=boot\n"); // the build-time binary ran
    expect(stderr).toContain(`[${code}]`);
    noStackTrace(stderr);
    expect(stdout + stderr).not.toMatch(SECRETS);
  });

  it("a boot-time fetch logs an entry name holding terminal escapes escaped, on the dyno's stderr", async () => {
    const hostile = join(workDir, "hostile-name.tar.gz");
    writeFileSync(hostile, tarGz([file("release/\u001b]0;pwned\u0007\u001b[31mred_linux_amd64", readFileSync(stdioProbeBinary()))]));
    const dyno = startDyno({ slugDir: good.slugDir!, command: "execpack --env BINARY_FETCH", configVars: { BINARY_URL: pathToFileURL(hostile).href, BINARY_FETCH: "boot" }, path: buildEnv.PATH! });
    let stdout = "";
    let stderr = "";
    dyno.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    dyno.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const [status] = (await once(dyno, "exit")) as [number | null];
    expect(status, stderr).toBe(0);
    expect(stdout).toBe("BINARY_FETCH=boot\n");
    expect(stderr).not.toContain("installed at build time"); // the fetched binary ran, with that name
    expect(stderr).toContain("Installed 'release/\\x1b]0;pwned\\x07\\x1b[31mred_linux_amd64'");
    expect(stderr).not.toMatch(/[\u001b\u0007]/);
  });
});

describe("names from a hostile archive", () => {
  it("reach the build log escaped, and the hint's command pastes the name as text without running it", async () => {
    const workDir = mkdtempSync(join(tmpdir(), "execpack-hostile-names-"));
    try {
      const marker = join(workDir, "pasted-command-ran");
      const elf = readFileSync(stdioProbeBinary());
      const dollarName = "$(touch pasted-command-ran)_linux_amd64"; // run in workDir, it would create the marker
      const archive = join(workDir, "release.tar.gz");
      writeFileSync(archive, tarGz([file(`release/\u001b]0;pwned\u0007\u001b[31mred_linux_amd64`, elf), file(`release/${dollarName}`, elf)]));
      const buildEnv = { PATH: makeStackPath(workDir, [nodeOnPath(workDir)]), HOME: join(workDir, "home"), ...offlineNpm() };
      const result = await buildApp({ buildpackDir: REPO, appDir: FIXTURE_APP, workDir, configVars: { BINARY_URL: pathToFileURL(archive).href }, buildEnv });
      const { status, stdout, stderr } = result.compile!;
      expect(status, stdout).toBe(1);
      expect(stderr).toContain("[archive.ambiguous]");
      expect(stdout + stderr).not.toMatch(/[\u001b\u0007]/);
      expect(stderr).toContain("\\x1b]0;pwned\\x07");
      const command = /heroku config:set BINARY_NAME=(.+?)(?: \(or |\. The other)/.exec(stderr)?.[1];
      expect(command).toBeDefined();
      // Pasted into bash as the hint shows it, with `heroku` standing in as a function that records its value.
      const pasted = spawnSync("bash", ["-c", `heroku() { printf '%s' "\${2#BINARY_NAME=}"; }; heroku config:set BINARY_NAME=${command}`], { encoding: "utf8", cwd: workDir });
      expect(pasted.stdout).toBe(dollarName);
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});

describe("a cut-off binary", () => {
  it("fails the build with archive.corrupt instead of passing it with a warning", async () => {
    const workDir = mkdtempSync(join(tmpdir(), "execpack-cut-off-"));
    try {
      const elf = readFileSync(stdioProbeBinary());
      const archive = join(workDir, "release.tar.gz");
      writeFileSync(archive, tarGz([file("app_linux_amd64/app", elf.subarray(0, Math.floor(elf.length / 2)))]));
      const buildEnv = { PATH: makeStackPath(workDir, [nodeOnPath(workDir)]), HOME: join(workDir, "home"), ...offlineNpm() };
      const result = await buildApp({ buildpackDir: REPO, appDir: FIXTURE_APP, workDir, configVars: { BINARY_URL: pathToFileURL(archive).href }, buildEnv });
      const { status, stdout, stderr } = result.compile!;
      expect(status, stdout).toBe(1);
      expect(stderr).toContain("[archive.corrupt]");
      expect(stderr).toContain("cut off");
      noStackTrace(stderr);
      expect(existsSync(join(result.buildDir, ".execpack"))).toBe(false);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});

describe("a Node.js mirror with credentials", () => {
  let workDir: string;
  let server: ReturnType<typeof createServer>;
  let mirrorUrl: string;
  const authorizations: string[] = [];
  const user = "mirror";
  const password = 'm1rr0r/"pw';

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-mirror-auth-"));
    const root = nodeMirror();
    const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    server = createServer((request, response) => {
      authorizations.push(request.headers.authorization ?? "");
      const path = join(root, normalize(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname).replace(/^\/dist/, "")));
      if (request.headers.authorization !== expected) return void response.writeHead(401).end();
      if (!path.startsWith(root) || !existsSync(path)) return void response.writeHead(404).end();
      response.writeHead(200).end(readFileSync(path));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    mirrorUrl = `http://${user}:${encodeURIComponent(password)}@127.0.0.1:${(server.address() as AddressInfo).port}/dist`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** A PATH whose curl records its arguments, as `ps` would show them, before running the real curl. */
  function recordingCurlPath(log: string): string {
    const dir = join(workDir, "curl-recorder");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "curl"), `#!/bin/bash\nprintf '%s\\n' "$*" >>'${log}'\nexec /usr/bin/curl "$@"\n`);
    chmodSync(join(dir, "curl"), 0o755);
    return makeStackPath(workDir, [dir]);
  }

  it("sends them to the mirror, never on curl's command line, and masks them in the log", async () => {
    const log = join(workDir, "curl-args");
    // lib/nodejs.sh's provisioning step alone, as bin/compile runs it (the rest of a build adds nothing here).
    const script = 'source lib/output.sh && source lib/nodejs.sh && nodejs::provision "$1/node" "$1/cache" "$2"';
    const result = await runScript("bash", ["-c", script, "bash", workDir, mirrorUrl], { PATH: recordingCurlPath(log), HOME: workDir }, undefined, REPO);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Downloading Node.js v/);
    expect(existsSync(join(workDir, "node/bin/node"))).toBe(true);
    expect(authorizations.length).toBeGreaterThanOrEqual(2);
    expect(authorizations.every((header) => header.startsWith("Basic "))).toBe(true);
    const args = readFileSync(log, "utf8");
    expect(args).toContain("127.0.0.1");
    expect(args).not.toMatch(/m1rr0r|mirror:/);
    expect(result.stdout + result.stderr).not.toMatch(/m1rr0r/);
  });

  it("refuses a password with a raw / before any request, showing it masked", async () => {
    const before = authorizations.length;
    const result = await buildApp({
      buildpackDir: REPO, appDir: FIXTURE_APP, workDir, cacheDir: join(workDir, "cache-2"),
      configVars: { BINARY_URL: pathToFileURL(join(REPO, "package.json")).href, NODEJS_ORG_MIRROR: mirrorUrl.replace(encodeURIComponent(password), "m1rr0r/pw") },
      buildEnv: { PATH: makeStackPath(workDir), HOME: join(workDir, "home"), ...offlineNpm() },
    });
    expect(result.compile?.status).toBe(1);
    expect(result.compile?.stderr).toContain("[node.mirror-ambiguous-credentials]");
    expect(result.compile?.stderr).toContain("http://*****@127.0.0.1:");
    expect(result.compile!.stdout + result.compile!.stderr).not.toMatch(/m1rr0r/);
    expect(authorizations.length).toBe(before);
  });
});
