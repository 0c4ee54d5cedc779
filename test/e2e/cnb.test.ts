/**
 * The buildpack as Heroku's Fir generation runs it (Cloud Native Buildpacks, buildpack API 0.10): the real
 * bin/detect and bin/build under a stand-in lifecycle (test/helpers/cnb-lifecycle.ts) on a copy of the fixture
 * app, a release zip with a real ELF (the probe) served from loopback, Node.js from a loopback mirror, then the
 * image's processes started by a stand-in launcher (test/helpers/cnb-launcher.ts) in a clean environment whose
 * PATH has no Node.js. Rebuilds check that unchanged layers are reused and a changed BINARY_URL is fetched.
 * An arm64 image is built on this amd64 machine with the official arm64 Node.js and booted under qemu-user
 * (helpers/arm64-runtime.ts).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeStackPath, nodeOnPath, runScript } from "../../src/ctl/local-heroku.js";
import { applyEnvDirectory, launch, launchEnvironment, parseExecDToml, runExecD } from "./helpers/cnb-launcher.js";
import { CnbLifecycle, parseToml } from "./helpers/cnb-lifecycle.js";
import type { CnbBuildResult } from "./helpers/cnb-lifecycle.js";
import { pinnedNodeVersion, nodeMirror, nodeMirrorWithArm64 } from "./helpers/node-mirror.js";
import { officialArm64Node } from "./helpers/npm-packages.js";
import { aarch64BinfmtUnavailable, arm64Sysroot, viaAarch64Binfmt } from "./helpers/arm64-runtime.js";
import { watchDyno } from "./helpers/dyno.js";
import { probeBinary, readProbeReport } from "../helpers/probe.js";
import { arm64Executable, CROSS_COMPILER, QEMU_AARCH64 } from "../helpers/arm64.js";
import { readElfHeader } from "../../src/archive/elf.js";
import { file, tarGz, zip } from "../helpers/release-archives.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";
import { offlineNpm, RUNTIME_CONFIG, RUNTIME_ENV_EXPECTED } from "./helpers/build-env.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/web-app");

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

describe("buildpack.toml", () => {
  const tables = parseToml(readFileSync(join(REPO, "buildpack.toml"), "utf8"));
  const table = (name: string) => tables.filter((candidate) => candidate.table === name).map((candidate) => candidate.values);

  it("declares buildpack API 0.10, the package's version, and Linux on amd64 and arm64", () => {
    const packageJson = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
    expect(table("")[0]).toMatchObject({ api: "0.10" });
    expect(table("buildpack")[0]).toMatchObject({ id: "execpack/execpack", version: packageJson.version, name: "execpack", "clear-env": true });
    expect(table("targets")).toEqual([
      { os: "linux", arch: "amd64" },
      { os: "linux", arch: "arm64" },
    ]);
  });

  it("carries what a buildpack registry shows: homepage, description, keywords, licenses", () => {
    expect(table("buildpack")[0]).toMatchObject({
      homepage: "https://github.com/execpack/execpack",
      description: expect.stringContaining("BINARY_URL"),
      keywords: expect.arrayContaining(["binary", "release"]),
    });
    expect(table("buildpack.licenses")).toEqual([{ type: "MIT" }]);
  });

  it("is packaged from this directory by package.toml, for Linux", () => {
    const packageToml = parseToml(readFileSync(join(REPO, "package.toml"), "utf8"));
    expect(packageToml.find((candidate) => candidate.table === "buildpack")?.values).toEqual({ uri: "." });
    expect(packageToml.find((candidate) => candidate.table === "platform")?.values).toEqual({ os: "linux" });
  });

  it("leaves the Node.js version to lib/nodejs.sh", () => {
    expect(readFileSync(join(REPO, "buildpack.toml"), "utf8")).not.toContain(pinnedNodeVersion());
  });
});

describe("the launcher stand-in applies layer env files as the spec says", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "execpack-cnb-env-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ["no suffix overrides", { "A": "new" }, { A: "old" }, { A: "new" }],
    [".override overrides", { "A.override": "new" }, { A: "old" }, { A: "new" }],
    [".default keeps a set value", { "A.default": "new" }, { A: "old" }, { A: "old" }],
    [".default fills an unset value", { "A.default": "new" }, {}, { A: "new" }],
    [".append joins with .delim", { "A.append": "new", "A.delim": ":" }, { A: "old" }, { A: "old:new" }],
    [".prepend joins with .delim", { "A.prepend": "new", "A.delim": ":" }, { A: "old" }, { A: "new:old" }],
    [".append without .delim concatenates", { "A.append": "new" }, { A: "old" }, { A: "oldnew" }],
    [".prepend on an unset value sets it", { "A.prepend": "new", "A.delim": ":" }, {}, { A: "new" }],
    ["contents are taken as they are", { "A": " spaced $HOME\n" }, {}, { A: " spaced $HOME\n" }],
  ])("%s", (name, files: Record<string, string>, before: NodeJS.ProcessEnv, after: NodeJS.ProcessEnv) => {
    const envDir = join(dir, name.replaceAll(/\W+/g, "-"));
    mkdirSync(envDir, { recursive: true });
    for (const [file, content] of Object.entries(files)) writeFileSync(join(envDir, file), content);
    const env = { ...before };
    applyEnvDirectory(env, envDir);
    expect(env).toEqual(after);
  });

  it("puts bin/ on PATH, later buildpacks first and layers in name order, then env, env.launch, env.launch/<process>", () => {
    const first = join(dir, "first-buildpack");
    const second = join(dir, "second-buildpack");
    for (const bin of [join(first, "b/bin"), join(first, "a/bin"), join(second, "c/bin")]) mkdirSync(bin, { recursive: true });
    mkdirSync(join(first, "a/env.launch/web"), { recursive: true });
    mkdirSync(join(first, "a/env"), { recursive: true });
    writeFileSync(join(first, "a/env/MODE.default"), "env");
    writeFileSync(join(first, "a/env.launch/MODE"), "launch");
    writeFileSync(join(first, "a/env.launch/web/MODE.override"), "web");
    const env = launchEnvironment([first, second], { PATH: "/usr/bin" }, "web");
    expect(env.PATH).toBe([join(second, "c/bin"), join(first, "a/bin"), join(first, "b/bin"), "/usr/bin"].join(":"));
    expect(env.MODE).toBe("web");
    expect(launchEnvironment([first, second], { PATH: "/usr/bin" }, "worker").MODE).toBe("launch");
  });

  it("runs every layer's exec.d, then every layer's exec.d/<process>, in layer and file order: fd 3's TOML overrides, a failure stops the launch", () => {
    const layers = join(dir, "exec-d-buildpack");
    const program = (path: string, script: string) => {
      mkdirSync(join(path, ".."), { recursive: true });
      writeFileSync(path, `#!/bin/bash\n${script}\n`, { mode: 0o755 });
    };
    program(join(layers, "a/exec.d/1"), `echo "ORDER = \\"$ORDER a1\\"" >&3; echo a1 >&2`);
    program(join(layers, "a/exec.d/web/1"), `echo "ORDER = \\"$ORDER a-web\\"" >&3`);
    writeFileSync(join(dir, "answer.toml"), String.raw`TEXT = "q\"\\\u000a\U0001F600\t"` + "\n");
    program(join(layers, "b/exec.d/1"), `printf 'ORDER = "%s b1"\n' "$ORDER" >&3; cat ${join(dir, "answer.toml")} >&3`);
    const env: NodeJS.ProcessEnv = { PATH: "/usr/bin:/bin", ORDER: "env" };
    const output = runExecD([layers], env, "web", dir);
    expect(env).toMatchObject({ ORDER: "env a1 b1 a-web", TEXT: 'q"\\\n\u{1F600}\t' });
    expect(Buffer.concat(output.stderr).toString()).toBe("a1\n");
    program(join(layers, "b/exec.d/2"), "exit 3");
    expect(() => runExecD([layers], { PATH: "/usr/bin:/bin" }, "web", dir)).toThrow(/exec\.d .*b\/exec\.d\/2 failed \(status 3\)/);
  });

  it.each([
    ["a raw newline in a string", 'A = "x\ny"'],
    ["a raw control character", 'A = "x\u0001y"'],
    ["an unknown escape", 'A = "x\\qy"'],
    ["a literal string", "A = 'x'"],
    ["an unquoted value", "A = x"],
    ["a surrogate escape", 'A = "\\uD800"'],
    ["a repeated key", 'A = "x"\nA = "y"'],
  ])("refuses exec.d TOML with %s", (_, text) => {
    expect(() => parseExecDToml(text)).toThrow(/launcher: exec\.d output/);
  });
});

describe("Cloud Native Buildpack (Heroku Fir), end to end", () => {
  let workDir: string;
  let releases: StaticServer;
  let mirror: StaticServer;
  let stackPath: string;
  let buildEnv: NodeJS.ProcessEnv;
  let cnb: CnbLifecycle;
  let probe: Buffer;
  let first: CnbBuildResult;
  const buildPassword = "build-time-pass";
  let configVars: Record<string, string>;

  const releaseUrl = (name: string) => `${releases.url.replace("http://", `http://deploy:${buildPassword}@`)}/${name}`;
  const gets = (name: string) => releases.requests.filter((path) => path === `/${name}`).length;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-cnb-"));
    probe = readFileSync(probeBinary());
    const releaseDir = join(workDir, "releases");
    mkdirSync(releaseDir);
    writeFileSync(
      join(releaseDir, "probe_1.4.0.zip"),
      await zip([file("probe_1.4.0_linux_amd64/probe", probe), file("probe_1.4.0_linux_amd64/README.md", "# probe\n", 0o644)]),
    );
    writeFileSync(join(releaseDir, "probe_1.5.0.tar.gz"), tarGz([file("probe_1.5.0_linux_amd64/probe", probe)]));
    releases = await serveDirectory(releaseDir);
    mirror = await serveDirectory(nodeMirror());
    stackPath = makeStackPath(workDir);
    buildEnv = {
      PATH: stackPath,
      HOME: join(workDir, "home"),
      // npm installs the buildpack's dependencies from its cache only: the tests reach loopback alone.
      ...offlineNpm(),
    };
    cnb = new CnbLifecycle({ buildpackDir: REPO, workDir, buildEnv });
    cnb.useApp(FIXTURE_APP);
    configVars = {
      BINARY_URL: releaseUrl("probe_1.4.0.zip"),
      BINARY_SHA256: sha256(readFileSync(join(releaseDir, "probe_1.4.0.zip"))),
      NODEJS_ORG_MIRROR: mirror.url,
      DATABASE_URL: `postgres://builder:${buildPassword}@build-host:5432/build_db`,
    };
    cnb.setConfigVars(configVars);
    first = await cnb.build();
  });

  afterAll(async () => {
    await releases?.close();
    await mirror?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  describe("bin/detect", () => {
    it("passes with 0 on the fixture app, run with no arguments in the app directory", async () => {
      const result = await cnb.detect();
      expect(result.status, result.stderr).toBe(0);
    });

    it("fails with 100 on an app that is not execpack's, saying what it looked for", async () => {
      const other = new CnbLifecycle({ buildpackDir: REPO, workDir: join(workDir, "other"), buildEnv: { PATH: stackPath } });
      const appDir = join(workDir, "unrelated-app");
      mkdirSync(appDir, { recursive: true });
      writeFileSync(join(appDir, "Procfile"), "web: ./server\n");
      other.useApp(appDir);
      const result = await other.detect();
      expect(result.status).toBe(100);
      expect(result.stderr).toContain("binary.env");
    });

    it("passes with 0 on an app without execpack files when BINARY_URL is set in the platform's env", async () => {
      const other = new CnbLifecycle({ buildpackDir: REPO, workDir: join(workDir, "configured"), buildEnv: { PATH: stackPath } });
      const appDir = join(workDir, "bare-app");
      mkdirSync(appDir, { recursive: true });
      other.useApp(appDir);
      other.setConfigVars({ BINARY_URL: "https://example.com/app_linux_amd64.tar.gz" });
      expect((await other.detect()).status).toBe(0);
    });

    it("keeps the classic rules outside a CNB lifecycle: exit 1, no name", async () => {
      const result = await runScript(join(REPO, "bin/detect"), [join(workDir, "unrelated-app")], { PATH: stackPath });
      expect(result).toMatchObject({ status: 1, stdout: "" });
    });
  });

  describe("bin/build", () => {
    it("builds with Heroku-style output naming the masked URL, the entry and its SHA-256", () => {
      const { status, stdout, stderr } = first;
      expect(status, stderr).toBe(0);
      expect(stdout).toMatch(/^-----> Installing Node.js/m);
      expect(stdout).toContain(`Downloading Node.js v${pinnedNodeVersion()}`);
      expect(stdout).toContain("http://*****@127.0.0.1:");
      expect(stdout).toContain("probe_1.4.0_linux_amd64/probe");
      expect(stdout).toContain(sha256(probe));
      expect(stdout + stderr).not.toContain(buildPassword);
    });

    it("writes layers for Node.js, the bootstrapper and the binary, for launch and later buildpacks' builds and cached, a cache-only layer for downloads", () => {
      expect(cnb.layerToml("node")).toEqual({
        types: { launch: true, build: true, cache: true },
        metadata: { version: `v${pinnedNodeVersion()}`, platform: process.arch === "arm64" ? "linux-arm64" : "linux-x64" },
      });
      expect(cnb.layerToml("execpack")).toMatchObject({ types: { launch: true, build: true, cache: true } });
      expect(cnb.layerToml("execpack")!.metadata.bootstrapper).toMatch(/^[0-9a-f]{64}$/);
      expect(cnb.layerToml("binary")).toMatchObject({ types: { launch: true, build: true, cache: true } });
      expect(cnb.layerToml("cache")).toMatchObject({ types: { launch: false, build: false, cache: true } });
      expect(JSON.stringify([cnb.layerToml("binary"), cnb.layerToml("execpack")])).not.toContain(buildPassword);
    });

    it("lays the image out as the classic .execpack/ tree: the execpack layer links in Node.js and the binary", () => {
      const root = join(cnb.layersDir, "execpack");
      expect(readdirSync(cnb.layersDir).sort()).toEqual(["binary", "execpack", "node"]);
      expect(readlinkSync(join(root, "node"))).toBe("../node/node");
      expect(readlinkSync(join(root, "binary"))).toBe("../binary/binary");
      expect(readFileSync(join(root, "app-dir"), "utf8").trim()).toBe(cnb.appDir);
      expect(existsSync(join(root, "bin/execpack"))).toBe(true);
      expect(existsSync(join(root, "node/bin/node"))).toBe(true);
      expect(existsSync(join(cnb.layersDir, "node/bin"))).toBe(false); // Node.js stays off the app's PATH
      expect(sha256(readFileSync(join(root, "binary/probe")))).toBe(sha256(probe));
      expect(JSON.parse(readFileSync(join(root, "binary.json"), "utf8"))).toMatchObject({ entry: "probe_1.4.0_linux_amd64/probe" });
    });

    it("fails with the error's code and hint when BINARY_URL is missing, exporting nothing", async () => {
      const other = new CnbLifecycle({
        buildpackDir: REPO,
        workDir: join(workDir, "unconfigured"),
        // heroku/nodejs ran first: its Node.js is reused, which keeps this build quick.
        buildEnv: { ...buildEnv, PATH: makeStackPath(workDir, [nodeOnPath(workDir)]) },
      });
      other.useApp(FIXTURE_APP);
      other.setConfigVars({});
      const failed = await other.build();
      expect(failed.status).toBe(1);
      expect(failed.stdout).toMatch(/Using Node\.js v\d+\.\d+\.\d+ found on PATH/);
      expect(failed.stderr).toContain("[config.missing-binary-url]");
      expect(failed.stderr).toContain("BINARY_URL=");
      expect(failed.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      expect(other.processes()).toEqual([]);
    });

    it("makes `web: execpack` the default process and leaves the app directory as it was", () => {
      expect(cnb.processes()).toEqual([{ type: "web", command: ["execpack"], args: [], default: true, workingDir: undefined }]);
      expect(readdirSync(cnb.appDir).sort()).toEqual(readdirSync(FIXTURE_APP).sort());
    });
  });

  describe("launch", () => {
    const runtimeConfig = RUNTIME_CONFIG;

    /** The container's environment: the run image's PATH (no Node.js), the image config's, the platform's. */
    function containerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
      return {
        PATH: stackPath,
        HOME: join(workDir, "home"),
        CNB_APP_DIR: cnb.appDir,
        CNB_LAYERS_DIR: cnb.layersRoot,
        PORT: "5123",
        DYNO: "web.1",
        TMPDIR: join(workDir, "tmp"), // the exec.d step's records stay in the test's folder
        ...runtimeConfig,
        ...extra,
      };
    }

    function start(options: { args?: string[]; command?: string[] }, extra: Record<string, string>, user?: { uid: number; gid: number }) {
      const child = launch({
        user,
        buildpackLayers: [cnb.layersDir],
        processes: cnb.processes(),
        appDir: cnb.appDir,
        env: containerEnv(extra),
        ...options,
      });
      return { child, ...watchDyno(child) };
    }

    it("has no Node.js on the container's PATH", async () => {
      const check = await runScript("bash", ["-c", "command -v node || echo none"], { PATH: stackPath });
      expect(check.stdout.trim()).toBe("none");
    });

    it("execs the binary in place: same PID, ARGS untouched, runtime credentials, SIGTERM and exit status", async () => {
      const requests = releases.requests.length;
      const report = join(workDir, "web-report");
      const { child, exited, output } = start({ args: ["serve", "--wait", "two words", ""] }, { PROBE_REPORT: report });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", () => output().stdout.includes("ready") && resolve());
        void exited.then(() => reject(new Error(`exited before ready: ${output().stderr}`)));
      });
      const probeReport = readProbeReport(report);
      expect(probeReport.pid).toBe(child.pid);
      expect(probeReport.argv).toEqual(["probe", "serve", "--wait", "two words", ""]);
      expect(probeReport.cwd).toBe(cnb.appDir);
      expect(probeReport.env).toMatchObject({
        ...RUNTIME_ENV_EXPECTED,
      });
      expect(Object.keys(probeReport.env).filter((name) => name.startsWith("EXECPACK"))).toEqual([]);
      const path = probeReport.env.PATH!.split(":");
      expect(path[0]).toBe(join(cnb.layersDir, "execpack/bin"));
      expect(path.filter((dir) => existsSync(join(dir, "node")))).toEqual([]);

      child.kill("SIGTERM");
      const [code] = await exited;
      expect(code).toBe(42);
      expect(output().stdout).toBe("ready\nsigterm\n");
      expect(releases.requests.length).toBe(requests); // nothing is fetched at boot in the default mode
    });

    it("runs a user-provided command (the release phase, heroku run) with the same environment and passes its exit status", async () => {
      const report = join(workDir, "release-report");
      const { exited } = start({ command: ["execpack", "migrate", "--exit", "7"] }, { PROBE_REPORT: report });
      const [code] = await exited;
      expect(code).toBe(7);
      expect(readProbeReport(report).env.APP_DB_PASSWORD).toBe("p@ss:w/rd");
    });

    it("runs the release's programs by their own names (after the image's PATH) through the same boot, and gives the shell BINARY_HOME", async () => {
      const report = join(workDir, "command-report");
      const { child, exited, output } = start({ command: ["bash", "-c", 'echo "${BINARY_HOME}"; exec probe migrate --exit 5'] }, { PROBE_REPORT: report });
      const [code] = await exited;
      expect(code, output().stderr).toBe(5);
      expect(output().stdout).toBe(`${join(cnb.layersDir, "execpack/binary")}\n`);
      const probeReport = readProbeReport(report);
      expect(probeReport).toMatchObject({ pid: child.pid, argv: ["probe", "migrate", "--exit", "5"] });
      expect(probeReport.env).toMatchObject({ APP_DB_PASSWORD: "p@ss:w/rd", BINARY_HOME: join(cnb.layersDir, "execpack/binary") });
      expect(probeReport.env.PATH!.split(":").at(-1)).toBe(join(cnb.layersDir, "execpack/commands"));
    });

    it("finds the app's binary.env from any working directory (heroku run bash, then cd)", async () => {
      const report = join(workDir, "elsewhere-report");
      const { exited } = start({ command: ["bash", "-c", "cd / && exec execpack migrate --exit 0"] }, { PROBE_REPORT: report });
      const [code] = await exited;
      expect(code).toBe(0);
      expect(readProbeReport(report)).toMatchObject({ cwd: "/", env: { APP_DB_PASSWORD: "p@ss:w/rd" } });
    });

    it("gives execpackctl the dyno's environment and the app's binary.env", async () => {
      const { exited, output } = start({ command: ["execpackctl", "env"] }, {});
      const [code] = await exited;
      expect(code, output().stderr).toBe(0);
      expect(output().stdout).toContain("APP_DB_HOST='db.internal' # binary.env");
      expect(output().stdout).toContain("APP_MODE='staging' # config var");
      expect(output().stdout).not.toContain("p@ss:w/rd");
    });

    describe("exec.d: the variables derived from add-on URLs reach every process, as .profile.d gives them on classic", () => {
      const hostile = "a$(touch MARKER)b`touch MARKER`c'd\"e\\f\ng $HOME\u0001";

      it("a Procfile-style shell process (`web: execpack --db-host $DATABASE_HOST`) gets the derived values in its command line", async () => {
        const report = join(workDir, "procfile-report");
        const line = 'echo "$DATABASE_HOST:$DATABASE_PORT"; exec execpack serve --db-host $DATABASE_HOST --exit 0';
        const { child, exited, output } = start({ command: ["bash", "-c", line] }, { PROBE_REPORT: report });
        const [code] = await exited;
        expect(code, output().stderr).toBe(0);
        expect(output().stdout).toBe("db.internal:6543\n");
        expect(output().stderr).toBe("");
        const probeReport = readProbeReport(report);
        expect(probeReport).toMatchObject({ pid: child.pid, argv: ["probe", "serve", "--db-host", "db.internal", "--exit", "0"] });
        expect(probeReport.env).toMatchObject(RUNTIME_ENV_EXPECTED);
        expect(Object.keys(probeReport.env).filter((name) => name.startsWith("EXECPACK"))).toEqual([]);
      });

      it("ordinary add-on URLs take the profile step's shell path: with the layer's Node.js unable to run, a process still gets every value", async () => {
        const node = join(cnb.layersDir, "node/node/bin/node");
        const report = join(workDir, "shell-path-report");
        chmodSync(node, 0o644); // exec.d's Node.js step and execpack's Node.js path would both fail now
        try {
          const line = 'echo "$DATABASE_HOST $REDIS_PASSWORD $JAWSDB_DSN"; exec execpack serve --exit 0';
          const { child, exited, output } = start(
            { command: ["bash", "-c", line] },
            { PROBE_REPORT: report, REDIS_URL: "rediss://:r%22e%5Cd@cache.internal:6380", JAWSDB_URL: "mysql://u:p@mysql.internal/db?ssl-mode=REQUIRED" },
          );
          const [code] = await exited;
          expect(code, output().stderr).toBe(0);
          expect(output().stderr).toBe("");
          // A `"` and a `\` in a password went through exec.d's TOML escaped, and arrive as they are.
          expect(output().stdout).toBe('db.internal r"e\\d u:p@tcp(mysql.internal:3306)/db?tls=true\n');
          const probeReport = readProbeReport(report);
          expect(probeReport).toMatchObject({ pid: child.pid, argv: ["probe", "serve", "--exit", "0"] });
          expect(probeReport.env).toMatchObject({ ...RUNTIME_ENV_EXPECTED, REDIS_PASSWORD: 'r"e\\d', REDIS_TLS: "true" });
        } finally {
          chmodSync(node, 0o755);
        }
      });

      it("a password holding $(...), backticks, quotes, backslashes, a newline and a control character arrives byte for byte, and nothing runs", async () => {
        const report = join(workDir, "hostile-report");
        const url = `postgres://app:${encodeURIComponent(hostile)}@db.internal:5432/app`;
        const { exited, output } = start(
          { command: ["bash", "-c", 'printf %s "$DATABASE_PASSWORD"; exec execpack --password "$DATABASE_PASSWORD" --exit 0'] },
          { DATABASE_URL: url, PROBE_REPORT: report },
        );
        const [code] = await exited;
        expect(code, output().stderr).toBe(0);
        expect(output().stdout).toBe(hostile);
        const probeReport = readProbeReport(report);
        expect(probeReport.argv.slice(1, 3)).toEqual(["--password", hostile]);
        expect(probeReport.env.DATABASE_PASSWORD).toBe(hostile);
        expect(existsSync(join(cnb.appDir, "MARKER")) || existsSync(join(cnb.layersDir, "execpack/MARKER"))).toBe(false);
      });

      it("a malformed DATABASE_URL warns in one line and derives nothing from it; the process still starts", async () => {
        const { exited, output } = start(
          { command: ["bash", "-c", 'echo "[${DATABASE_HOST-unset}] [$REDIS_HOST]"'] },
          { DATABASE_URL: "postgres://app:pa ss@db.internal:5432/app", REDIS_URL: "redis://:pw@cache.internal:6379" },
        );
        const [code] = await exited;
        expect(code, output().stderr).toBe(0);
        expect(output().stdout).toBe("[unset] [cache.internal]\n");
        const lines = output().stderr.split("\n").filter(Boolean);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^execpack: .*DATABASE_URL.*nothing is derived from it \[env\.invalid-url\]$/);
        expect(output().stderr).not.toContain("pa ss");
      });
    });

    describe("at run time as the run image's unprivileged user, with read-only layers (Fir)", () => {
      // The tests run as root; a dyno's user is not. `nobody` stands in for the run image's user.
      const asRoot = process.getuid?.() === 0;
      const why = asRoot ? "" : " (skipped: the tests do not run as root, so they cannot start a process as another user)";
      const user = { uid: 65534, gid: 65534 };
      let runTmp: string;
      let reports: string;
      let before: string;

      /** Every path under the layers with its size and mtime: what "nothing was written" is checked against. */
      const layerListing = () => execFileSync("find", [cnb.layersDir, "-printf", "%p %s %T@\\n"], { encoding: "utf8" });

      beforeAll(() => {
        if (!asRoot) return;
        chmodSync(workDir, 0o755); // mkdtemp made it the tests' own; the image's user must reach the layers and the app
        runTmp = join(workDir, "run-tmp");
        reports = join(workDir, "run-reports");
        for (const dir of [runTmp, reports]) {
          mkdirSync(dir);
          chmodSync(dir, 0o777);
        }
        writeFileSync(join(workDir, "releases/probe_boot.tar.gz"), tarGz([file("probe_2.0.0_linux_amd64/probe", probe)]));
        execFileSync("chmod", ["-R", "a-w", cnb.layersDir]);
        before = layerListing();
      });
      afterAll(() => {
        if (asRoot) execFileSync("chmod", ["-R", "u+w", cnb.layersDir]);
      });

      async function startAsUser(vars: Record<string, string>, report: string) {
        const { child, exited, output } = start({ args: ["serve", "--wait"] }, { ...vars, TMPDIR: runTmp, PROBE_REPORT: report }, user);
        await new Promise<void>((resolve, reject) => {
          child.stdout!.on("data", () => output().stdout.includes("ready") && resolve());
          void exited.then(() => reject(new Error(`exited before ready: ${output().stderr}`)));
        });
        return { child, exited, output };
      }

      function uidOf(pid: number): number {
        return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
      }

      it.skipIf(!asRoot)(`BINARY_FETCH=boot fetches into $TMPDIR, not the layers, and execs what it fetched${why}`, async () => {
        const { child, exited } = await startAsUser({ BINARY_FETCH: "boot", BINARY_URL: releaseUrl("probe_boot.tar.gz") }, join(reports, "fetched"));
        expect(uidOf(child.pid!)).toBe(user.uid);
        expect(readlinkSync(`/proc/${child.pid}/exe`)).toBe(join(runTmp, `execpack-${user.uid}/boot-binary/${child.pid}/binary/probe`));
        expect(readProbeReport(join(reports, "fetched")).pid).toBe(child.pid);
        expect(gets("probe_boot.tar.gz")).toBe(1);
        expect(layerListing()).toBe(before);
        child.kill("SIGTERM");
        expect((await exited)[0]).toBe(42);
      });

      it.skipIf(!asRoot)(`falls back to the binary in the read-only layer when the boot-time fetch fails${why}`, async () => {
        const { child, exited, output } = await startAsUser({ BINARY_FETCH: "boot", BINARY_URL: releaseUrl("gone.tar.gz") }, join(reports, "fallback"));
        expect(uidOf(child.pid!)).toBe(user.uid);
        expect(readlinkSync(`/proc/${child.pid}/exe`)).toBe(join(cnb.layersDir, "binary/binary/probe"));
        expect(output().stderr).toContain("[download.not-found]");
        expect(output().stderr).toContain("Booting the binary installed at build time instead");
        expect(layerListing()).toBe(before);
        child.kill("SIGTERM");
        expect((await exited)[0]).toBe(42);
      });
    });
  });

  describe("rebuilds", () => {
    it("reuses every layer when nothing changed: no download of Node.js or the release", async () => {
      const releaseGets = gets("probe_1.4.0.zip");
      const mirrorRequests = mirror.requests.length;
      const again = await cnb.build();
      expect(again.status, again.stderr).toBe(0);
      expect(again.restoredFromCache).toEqual(expect.arrayContaining(["node", "execpack", "binary", "cache"]));
      expect(again.reusedFromImage).toEqual([]);
      expect(again.stdout).toContain(`Reusing Node.js v${pinnedNodeVersion()} from the last build`);
      expect(again.stdout).toContain("Reusing the bootstrapper from the last build");
      expect(again.stdout).toContain("Reusing the binary from the last build");
      expect(gets("probe_1.4.0.zip")).toBe(releaseGets);
      expect(mirror.requests.length).toBe(mirrorRequests);
      expect(sha256(readFileSync(join(cnb.layersDir, "binary/binary/probe")))).toBe(sha256(probe));
    });

    it("fetches the release again when BINARY_URL changes, keeping Node.js and the bootstrapper", async () => {
      const mirrorRequests = mirror.requests.length;
      // Pinned, so the layer-reuse branch is open: only the changed URL in its key can send the build to fetch.
      const pinned = sha256(readFileSync(join(workDir, "releases/probe_1.5.0.tar.gz")));
      cnb.setConfigVars({ ...configVars, BINARY_URL: releaseUrl("probe_1.5.0.tar.gz"), BINARY_SHA256: pinned });
      const changed = await cnb.build();
      expect(changed.status, changed.stderr).toBe(0);
      expect(gets("probe_1.5.0.tar.gz")).toBe(1);
      expect(changed.stdout).toContain("Reusing the bootstrapper from the last build");
      expect(changed.stdout).toContain("probe_1.5.0_linux_amd64/probe");
      expect(changed.reusedFromImage).toEqual([]);
      expect(mirror.requests.length).toBe(mirrorRequests);
      expect(JSON.parse(readFileSync(join(cnb.layersDir, "execpack/binary.json"), "utf8"))).toMatchObject({
        entry: "probe_1.5.0_linux_amd64/probe",
      });
    });

    it("fetches an unpinned release at every build, since the same URL may serve a new one", async () => {
      cnb.setConfigVars({ ...configVars, BINARY_URL: releaseUrl("probe_1.5.0.tar.gz"), BINARY_SHA256: "" });
      const unpinned = await cnb.build(); // the key changed: a fetch either way
      expect(unpinned.status, unpinned.stderr).toBe(0);
      const fetched = gets("probe_1.5.0.tar.gz");
      const again = await cnb.build(); // nothing changed, but nothing pins the bytes: fetch again
      expect(again.status, again.stderr).toBe(0);
      expect(gets("probe_1.5.0.tar.gz")).toBe(fetched + 1);
      expect(again.stdout).not.toContain("Reusing the binary");
    });
  });
});

describe("an arm64 image built on this amd64 machine (CNB_TARGET_ARCH=arm64)", () => {
  const onAmd64 = process.arch === "x64";
  const skipped = onAmd64 ? "" : " (skipped: this cross-build test runs on amd64 machines)";
  const qemu = QEMU_AARCH64 !== undefined && CROSS_COMPILER !== undefined;
  const noQemu = qemu ? "" : " (skipped: no qemu-aarch64-static or aarch64 cross compiler here; .ci/run installs both)";
  // Decided once, before the tests are named: the boot test says in its name why it cannot run.
  const noBinfmt = onAmd64 && qemu ? aarch64BinfmtUnavailable() : "not tried";
  let workDir: string;
  let releases: StaticServer;
  let mirror: StaticServer;
  let mirrorRoot: string;
  let cnb: CnbLifecycle;
  let built: CnbBuildResult;
  let buildEnv: NodeJS.ProcessEnv;
  let archive: Buffer;
  const probeSource = readFileSync(join(REPO, "test/fixtures/probe/probe.c"), "utf8");

  /** e_machine of every ELF under `dir`, by path relative to it. */
  function elfMachines(dir: string): Record<string, string> {
    const found: Record<string, string> = {};
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      const header = readElfHeader(readFileSync(path).subarray(0, 64));
      if (header) found[path.slice(dir.length + 1)] = header.machine;
    }
    return found;
  }

  beforeAll(async () => {
    if (!onAmd64) return;
    workDir = mkdtempSync(join(tmpdir(), "execpack-cnb-arm64-"));
    const releaseDir = join(workDir, "releases");
    mkdirSync(releaseDir);
    // One release for both architectures, as many projects publish it: a folder per platform.
    archive = await zip([
      file("probe_linux_amd64/probe", readFileSync(probeBinary())),
      file("probe_linux_arm64/probe", arm64Executable(probeSource).bytes),
      file("README.md", "# probe\n", 0o644),
    ]);
    writeFileSync(join(releaseDir, "probe_multiarch.zip"), archive);
    releases = await serveDirectory(releaseDir);
    mirrorRoot = nodeMirrorWithArm64();
    mirror = await serveDirectory(mirrorRoot);
    // No Node.js on PATH: the build fetches the arm64 release for the image and this machine's for its tools.
    buildEnv = { PATH: makeStackPath(workDir), HOME: join(workDir, "home"), ...offlineNpm() };
    cnb = new CnbLifecycle({ buildpackDir: REPO, workDir, buildEnv, targetArch: "arm64" });
    cnb.useApp(FIXTURE_APP);
    cnb.setConfigVars({ BINARY_URL: `${releases.url}/probe_multiarch.zip`, NODEJS_ORG_MIRROR: mirror.url });
    built = await cnb.build();
  });

  afterAll(async () => {
    await releases?.close();
    await mirror?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it.skipIf(!onAmd64)(`provisions the official linux-arm64 Node.js for the image, verified against SHASUMS256.txt, and this machine's for the build${skipped}`, () => {
    expect(built.status, built.stderr).toBe(0);
    expect(built.stdout).toContain(`Downloading Node.js v${pinnedNodeVersion()} (linux-arm64)`);
    expect(built.stdout).toContain("The image is linux-arm64; the build's own steps run on this linux-x64 machine's Node.js");
    expect(built.stdout).toContain(`Downloading Node.js v${pinnedNodeVersion()} (linux-x64)`);
    expect(cnb.layerToml("node")?.metadata).toEqual({ version: `v${pinnedNodeVersion()}`, platform: "linux-arm64" });
    expect(elfMachines(join(cnb.layersDir, "node"))).toEqual({ "node/bin/node": "aarch64" });
    expect(sha256(readFileSync(join(cnb.layersDir, "node/node/bin/node")))).toBe(sha256(readFileSync(join(officialArm64Node(), "bin/node"))));
    expect(existsSync(join(cnb.layersDir, "execpack/shell-handoff"))).toBe(false);
  });

  it.skipIf(!onAmd64)(`installs the arm64 binary of a release holding both architectures: every ELF in the layers is aarch64${skipped}`, () => {
    expect(built.stdout).toContain("Building for aarch64 on x86_64");
    expect(JSON.parse(readFileSync(join(cnb.layersDir, "binary/binary.json"), "utf8"))).toMatchObject({ entry: "probe_linux_arm64/probe" });
    const machines = elfMachines(cnb.layersDir);
    // The whole release is installed (its tree kept), minus the build for the other architecture.
    expect(Object.keys(machines)).toEqual(expect.arrayContaining(["node/node/bin/node", "binary/binary/probe_linux_arm64/probe"]));
    expect(Object.keys(machines).filter((path) => path.includes("amd64"))).toEqual([]);
    expect(new Set(Object.values(machines))).toEqual(new Set(["aarch64"]));
  });

  it.skipIf(!onAmd64)(`refuses an arm64 Node.js that does not match its SHASUMS256.txt line, installing nothing${skipped}`, async () => {
    const version = `v${pinnedNodeVersion()}`;
    const badMirror = join(workDir, "bad-mirror", version);
    mkdirSync(badMirror, { recursive: true });
    for (const name of readdirSync(join(mirrorRoot, version)).filter((entry) => entry.endsWith(".tar.gz"))) {
      symlinkSync(join(mirrorRoot, version, name), join(badMirror, name));
    }
    const sums = readFileSync(join(mirrorRoot, version, "SHASUMS256.txt"), "utf8");
    writeFileSync(join(badMirror, "SHASUMS256.txt"), sums.replace(/^[0-9a-f]{64}(?=  node-v[\d.]+-linux-arm64)/m, "1".repeat(64)));
    const served = await serveDirectory(join(workDir, "bad-mirror"));
    try {
      const other = new CnbLifecycle({ buildpackDir: REPO, workDir: join(workDir, "bad"), buildEnv, targetArch: "arm64" });
      other.useApp(FIXTURE_APP);
      other.setConfigVars({ BINARY_URL: `${releases.url}/probe_multiarch.zip`, NODEJS_ORG_MIRROR: served.url });
      const failed = await other.build();
      expect(failed.status).not.toBe(0);
      expect(failed.stderr).toContain("[node.checksum-mismatch]");
      expect(other.processes()).toEqual([]);
    } finally {
      await served.close();
    }
  });

  it.skipIf(!onAmd64 || !qemu)(`runs the image's arm64 Node.js and the installed arm64 binary under qemu-aarch64-static${noQemu}${skipped}`, () => {
    const binary = join(cnb.layersDir, "binary/binary/probe_linux_arm64/probe");
    const run = spawnSync(QEMU_AARCH64!, [binary, "migrate", "--exit", "7"], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(7);
    expect(spawnSync(binary, ["--exit", "7"]).error ?? spawnSync(binary, ["--exit", "7"]).status).not.toBe(7); // not runnable natively
    const node = spawnSync(QEMU_AARCH64!, ["-L", arm64Sysroot(), join(cnb.layersDir, "node/node/bin/node"), "-p", "`${process.version} ${process.arch}`"], {
      encoding: "utf8",
    });
    expect(node.stdout.trim(), node.stderr).toBe(`v${pinnedNodeVersion()} arm64`);
  });

  /** The image's processes as the launcher starts them: the runtime config vars, PORT, no Node.js on PATH. */
  function arm64Launch(options: { command?: string[]; args?: string[] }, extra: Record<string, string>) {
    const child = launch({
      buildpackLayers: [cnb.layersDir],
      processes: cnb.processes(),
      appDir: cnb.appDir,
      env: {
        PATH: buildEnv.PATH, HOME: join(workDir, "home"), CNB_APP_DIR: cnb.appDir, PORT: "5123", DYNO: "web.1",
        TMPDIR: join(workDir, "tmp"), // the exec.d step's records stay in the test's folder, as for the amd64 processes
        ...RUNTIME_CONFIG, ...extra,
      },
      via: viaAarch64Binfmt(),
      ...options,
    });
    return { child, ...watchDyno(child) };
  }

  it.skipIf(!onAmd64 || !qemu)(
    `runs execpackctl on the image's arm64 Node.js, started explicitly under qemu-aarch64-static: the add-on variables and binary.env resolved${noQemu}${skipped}`,
    () => {
      const root = join(cnb.layersDir, "execpack");
      const env = launchEnvironment([cnb.layersDir], { PATH: buildEnv.PATH, CNB_APP_DIR: cnb.appDir, PORT: "5123", ...RUNTIME_CONFIG }, "web");
      const ctl = spawnSync(QEMU_AARCH64!, ["-L", arm64Sysroot(), join(root, "node/bin/node"), join(root, "bootstrapper/execpackctl.cjs"), "env"], {
        encoding: "utf8",
        env,
        cwd: cnb.appDir,
      });
      expect(ctl.status, ctl.stderr).toBe(0);
      expect(ctl.stdout).toContain("APP_DB_HOST='db.internal' # binary.env");
      expect(ctl.stdout).toContain("APP_LISTEN='0.0.0.0:5123' # binary.env");
      expect(ctl.stdout).not.toContain("p@ss:w/rd");
    },
  );

  it.skipIf(!onAmd64 || !qemu || noBinfmt !== undefined)(
    `boots execpack on arm64: the launcher, the arm64 Node.js and the arm64 binary exec'd in place (one PID) under qemu-user through a binfmt_misc of its own${noQemu || (noBinfmt ? ` (skipped: ${noBinfmt})` : "")}${skipped}`,
    async () => {
      const report = join(workDir, "arm64-web-report");
      const { child, exited, output } = arm64Launch({ args: ["serve", "--wait"] }, { PROBE_REPORT: report });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", () => output().stdout.includes("ready") && resolve());
        void exited.then(() => reject(new Error(`exited before ready: ${output().stderr}`)));
      });
      // The kernel started qemu for the arm64 probe in the launcher's own process: same PID, the probe's path in argv.
      const binary = join(cnb.layersDir, "execpack/binary/probe_linux_arm64/probe");
      expect(readlinkSync(`/proc/${child.pid}/exe`)).toBe(realpathSync(QEMU_AARCH64!));
      expect(readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0")).toEqual(expect.arrayContaining([binary, "serve", "--wait"]));
      const probeReport = readProbeReport(report);
      expect(probeReport.pid).toBe(child.pid);
      expect(probeReport.argv).toEqual(["probe", "serve", "--wait"]); // argv[0] as a PATH lookup gives it, kept through qemu
      expect(probeReport.env).toMatchObject({ ...RUNTIME_ENV_EXPECTED, BINARY_HOME: join(cnb.layersDir, "execpack/binary") });
      child.kill("SIGTERM");
      const [code] = await exited;
      expect(code).toBe(42);
      expect(output().stdout).toBe("ready\nsigterm\n");
    },
  );
});
