/**
 * bin/detect and bin/compile on bad input, run for real: each failure names its stable code, says what was
 * seen and what to do, shows no stack trace, leaks no password, and leaves nothing half-installed.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ZipFile } from "yazl";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, nodeOnPath } from "../../src/ctl/local-heroku.js";
import { probeBinary } from "../helpers/probe.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";
import { offlineNpm } from "./helpers/build-env.js";
import { stall, startFaultServer } from "../helpers/fault-server.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/web-app");
const PASSWORD = "zip-secret-4711";

async function writeZip(file: string, entries: Array<[string, string | Buffer]>): Promise<void> {
  const zip = new ZipFile();
  for (const [name, content] of entries) {
    if (typeof content === "string") zip.addFile(content, name, { mode: 0o100755 });
    else zip.addBuffer(content, name);
  }
  zip.end();
  await once(zip.outputStream.pipe(createWriteStream(file)), "close");
}

describe("bin/compile on bad input", () => {
  let workDir: string;
  let server: StaticServer;
  let buildEnv: NodeJS.ProcessEnv;
  let url: (file: string) => string;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-e2e-errors-"));
    const probe = probeBinary();
    await writeZip(join(workDir, "docs-only.zip"), [
      ["README.md", Buffer.from("# read me\n")],
      ["app.exe", Buffer.concat([Buffer.from("MZ"), Buffer.alloc(100)])],
    ]);
    await writeZip(join(workDir, "two-servers.zip"), [
      ["bin/server", probe],
      ["bin/worker", probe],
    ]);
    await writeZip(join(workDir, "good.zip"), [["probe", probe]]);
    server = await serveDirectory(workDir);
    url = (file) => `${server.url.replace("http://", `http://ci:${PASSWORD}@`)}/${file}`;
    // heroku/nodejs ran first: its Node.js is reused, which keeps these builds quick.
    buildEnv = {
      PATH: makeStackPath(workDir, [nodeOnPath(workDir)]),
      HOME: join(workDir, "home"),
      ...offlineNpm(),
    };
  });

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function compileFails(configVars: Record<string, string>) {
    const result = await buildApp({ buildpackDir: REPO, appDir: FIXTURE_APP, workDir, configVars, buildEnv });
    expect(result.detect.status).toBe(0);
    const compile = result.compile!;
    expect(compile.status, compile.stdout).toBe(1);
    expect(compile.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(compile.stdout + compile.stderr).not.toContain(PASSWORD);
    expect(existsSync(join(result.buildDir, ".execpack"))).toBe(false);
    expect(existsSync(join(result.buildDir, ".profile.d/execpack.sh"))).toBe(false);
    return compile.stderr;
  }

  it.each([
    ["BINARY_URL is missing", {}, "config.missing-binary-url", ["heroku config:set BINARY_URL="]],
    ["the URL answers 404", { BINARY_URL: "missing.zip" }, "download.not-found", ["404", `http://*****@127.0.0.1:`]],
    ["the checksum does not match", { BINARY_URL: "good.zip", BINARY_SHA256: "a".repeat(64) }, "download.checksum-mismatch", ["a".repeat(64)]],
    ["the archive holds no Linux binary", { BINARY_URL: "docs-only.zip" }, "archive.no-linux-binary", ["README.md", "app.exe"]],
    ["two binaries qualify", { BINARY_URL: "two-servers.zip" }, "archive.ambiguous", ["bin/server", "bin/worker", "BINARY_NAME"]],
    ["BINARY_SHA256 is not a checksum", { BINARY_URL: "good.zip", BINARY_SHA256: "abc" }, "config.invalid-sha256", ["64"]],
    ["the archive has more entries than BINARY_MAX_ENTRIES", { BINARY_URL: "two-servers.zip", BINARY_MAX_ENTRIES: "1" }, "archive.too-large", ["1"]],
    ["a timeout is not a number", { BINARY_URL: "good.zip", BINARY_CONNECT_TIMEOUT: "soon" }, "config.invalid-number", ["BINARY_CONNECT_TIMEOUT"]],
  ])("fails clearly when %s", async (_case, vars: Record<string, string>, code, words) => {
    const configVars = { ...vars };
    if (configVars.BINARY_URL) configVars.BINARY_URL = url(configVars.BINARY_URL);
    const stderr = await compileFails(configVars);
    expect(stderr).toContain(`[${code}]`);
    for (const word of words) expect(stderr).toContain(word);
  });

  it("fails clearly when Node.js cannot be fetched, without printing the mirror's credentials", async () => {
    const result = await buildApp({
      buildpackDir: REPO,
      appDir: FIXTURE_APP,
      workDir,
      configVars: { BINARY_URL: url("good.zip"), NODEJS_ORG_MIRROR: `http://mirror:${PASSWORD}@127.0.0.1:9/dist` },
      buildEnv: { ...buildEnv, PATH: makeStackPath(workDir) },
      cacheDir: join(workDir, "no-node-cache"),
    });
    expect(result.compile?.status).toBe(1);
    expect(result.compile?.stderr).toContain("[node.download-failed]");
    expect(result.compile?.stderr).toContain("http://*****@127.0.0.1:9/dist/v");
    expect(result.compile!.stdout + result.compile!.stderr).not.toContain(PASSWORD);
    expect(existsSync(join(result.buildDir, ".execpack"))).toBe(false);
  });

  it("builds with BINARY_NAME choosing among several binaries, reusing Node.js from PATH", async () => {
    const result = await buildApp({
      buildpackDir: REPO,
      appDir: FIXTURE_APP,
      workDir,
      configVars: { BINARY_URL: url("two-servers.zip"), BINARY_NAME: "bin/worker" },
      buildEnv,
    });
    expect(result.compile?.status, result.compile?.stderr).toBe(0);
    expect(result.compile?.stdout).toMatch(/Using Node.js v\d+\.\d+\.\d+ found on PATH/);
    expect(result.compile?.stdout).toContain("'bin/worker'");
    expect(existsSync(join(result.slugDir!, ".execpack/binary/worker"))).toBe(true);
  });

  it("warns in the build log when the binary is linked for a loader the stack lacks (musl)", async () => {
    const musl = join(workDir, "musl-probe");
    execFileSync("cc", ["-O2", "-o", musl, fileURLToPath(new URL("../fixtures/probe/probe.c", import.meta.url)), "-Wl,--dynamic-linker=/lib/ld-musl-x86_64.so.1"]);
    await writeZip(join(workDir, "musl.zip"), [["app_linux_amd64/app", musl]]);
    const result = await buildApp({ buildpackDir: REPO, appDir: FIXTURE_APP, workDir, configVars: { BINARY_URL: url("musl.zip") }, buildEnv });
    expect(result.compile?.status, result.compile?.stderr).toBe(0);
    expect(result.compile?.stderr).toContain("[boot.binary-wrong-format]");
    expect(result.compile?.stderr).toContain("/lib/ld-musl-x86_64.so.1");
    expect(result.compile?.stderr).toContain("The build goes on");
  });

  it("warns in the build log, naming the line and code, when binary.env has a syntax error; builds, and warns again on a rebuild", async () => {
    const appDir = join(workDir, "broken-binary-env-app");
    mkdirSync(appDir, { recursive: true });
    writeFileSync(join(appDir, "Procfile"), "web: execpack\n");
    writeFileSync(join(appDir, "binary.env"), "GOOD=${PORT}\nAPP_KEY='never closed\nAPP_DB=${DATABASE_HOST\n");
    const cacheDir = join(workDir, "broken-binary-env-cache");
    for (const build of ["first", "rebuild"]) {
      const result = await buildApp({ buildpackDir: REPO, appDir, workDir, configVars: { BINARY_URL: url("good.zip") }, buildEnv, cacheDir });
      expect(result.compile?.status, `${build}: ${result.compile?.stderr}`).toBe(0);
      const stderr = result.compile!.stderr;
      expect(stderr, build).toContain(" !     binary.env line 2 opens a quote for APP_KEY that is never closed [env.binary-env-syntax]");
      expect(stderr, build).toMatch(/ ! {5}binary\.env line 3 .*APP_DB.*\[env\.binary-env-syntax\]/);
      expect(stderr, build).toContain("heroku run execpackctl check");
    }
  });

  it("rebuilds from the build cache after a conditional request answered 304 Not Modified", async () => {
    const build = () =>
      buildApp({ buildpackDir: REPO, appDir: FIXTURE_APP, workDir, configVars: { BINARY_URL: url("good.zip") }, buildEnv, cacheDir: join(workDir, "rebuild-cache") });
    const first = await build();
    expect(first.compile?.status, first.compile?.stderr).toBe(0);
    const before = server.conditions.length;
    // bin/compile asks with curl, and on the 304 copies the kept install: no Node.js step.
    const second = await build();
    expect(second.compile?.status, second.compile?.stderr).toBe(0);
    expect(second.compile?.stdout).toContain("Reusing the release the last build installed: BINARY_URL answered 304 Not Modified");
    expect(server.conditions.slice(before)).toEqual([expect.stringMatching(/^".+"$/)]);
    expect(readFileSync(join(second.slugDir!, ".execpack/binary/probe"))).toEqual(readFileSync(join(first.slugDir!, ".execpack/binary/probe")));

    // A kept install changed since it was kept is not used: the install step asks and reuses the kept archive.
    writeFileSync(join(workDir, "rebuild-cache/execpack/installed/slug/binary/probe"), "damaged");
    const third = await build();
    expect(third.compile?.status, third.compile?.stderr).toBe(0);
    expect(third.compile?.stdout).toContain("Using cached archive (304 Not Modified)");
    expect(readFileSync(join(third.slugDir!, ".execpack/binary/probe"))).toEqual(readFileSync(join(first.slugDir!, ".execpack/binary/probe")));

    // A release changed upstream answers 200 to curl: the install step downloads it.
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(workDir, "good.zip"), later, later);
    const fourth = await build();
    expect(fourth.compile?.status, fourth.compile?.stderr).toBe(0);
    expect(fourth.compile?.stdout).not.toContain("Reusing the release");
    expect(fourth.compile?.stdout).toMatch(/Release: .*\(downloaded\)/);
  });

  it("says internal error with the report link, and installs nothing, when the install step dies mid-download", async () => {
    const stalling = await startFaultServer({ "/stall.zip": [stall(readFileSync(join(workDir, "good.zip")), 200)] });
    let killed = false;
    const watcher = setInterval(() => {
      if (killed || stalling.requests("/stall.zip").length === 0) return;
      // The install step: the bootstrapper's compile.cjs, whose command line names this test's directory.
      for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
        let cmdline = "";
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        } catch {
          continue; // gone meanwhile
        }
        if (cmdline.includes("compile.cjs") && cmdline.includes(workDir)) {
          process.kill(Number(pid), "SIGABRT");
          killed = true;
        }
      }
    }, 50);
    try {
      const result = await buildApp({
        buildpackDir: REPO, appDir: FIXTURE_APP, workDir, configVars: { BINARY_URL: stalling.url("/stall.zip"), BINARY_BODY_TIMEOUT: "20" }, buildEnv,
      });
      expect(killed).toBe(true);
      const compile = result.compile!;
      expect(compile.status).not.toBe(0);
      expect(compile.stderr).toContain("execpack: internal error: the install step died with signal ABRT (status 134) [internal.crashed]");
      expect(compile.stderr).toContain("Please report it with the lines above: https://github.com/execpack/execpack/issues");
      expect(compile.stderr).toContain("The build failed; nothing was installed.");
      expect(existsSync(join(result.buildDir, ".execpack"))).toBe(false);
      expect(existsSync(join(result.buildDir, ".profile.d/execpack.sh"))).toBe(false);
    } finally {
      clearInterval(watcher);
      await stalling.close();
    }
  });

  it("never caches a damaged download: after a corrupt body with an ETag, the next build fetches in full instead of trusting a 304", async () => {
    const good = readFileSync(join(workDir, "good.zip"));
    const damaged = Buffer.from(good);
    damaged.fill(0x55, 40, good.length - 200); // the entry's compressed bytes, headers intact
    const conditions: string[] = [];
    let served = 0;
    // Sends the damaged body once (a proxy mangled it), then behaves: 304 to its ETag, the good body otherwise.
    const origin = createServer((request, response) => {
      conditions.push(request.headers["if-none-match"] ?? "");
      if (request.headers["if-none-match"] === '"v1"') return void response.writeHead(304, { etag: '"v1"' }).end();
      const body = served++ === 0 ? damaged : good;
      response.writeHead(200, { etag: '"v1"', "content-length": body.length, "content-type": "application/zip" }).end(body);
    });
    await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
    const releaseUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/app.zip`;
    try {
      const build = () => buildApp({ buildpackDir: REPO, appDir: FIXTURE_APP, workDir, configVars: { BINARY_URL: releaseUrl }, buildEnv, cacheDir: join(workDir, "corrupt-cache") });
      const first = await build();
      expect(first.compile?.status).toBe(1);
      expect(first.compile?.stderr).toContain("[archive.corrupt]");
      const second = await build();
      expect(second.compile?.status, second.compile?.stderr).toBe(0);
      expect(conditions).toEqual(["", ""]); // the second build trusted nothing from the first
      const third = await build();
      expect(third.compile?.status, third.compile?.stderr).toBe(0);
      expect(third.compile?.stdout).toContain("BINARY_URL answered 304 Not Modified");
      expect(conditions).toEqual(["", "", '"v1"']);
    } finally {
      origin.closeAllConnections();
      await new Promise((resolve) => origin.close(resolve));
    }
  });

  it("is not detected for an app without binary.env, execpack Procfile or app.json asking for BINARY_URL", async () => {
    const appDir = join(workDir, "unrelated-app");
    mkdirSync(appDir, { recursive: true });
    writeFileSync(join(appDir, "Procfile"), "web: ./server\n");
    const result = await buildApp({ buildpackDir: REPO, appDir, workDir, configVars: {}, buildEnv });
    expect(result.detect.status).toBe(1);
    expect(result.detect.stderr).toContain("binary.env");
    expect(result.compile).toBeUndefined();
  });
});
