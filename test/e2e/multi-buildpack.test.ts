/**
 * execpack in a classic multi-buildpack app: a buildpack that runs after it sources execpack's `export` file
 * (Heroku does this between buildpacks) and can then run `execpack ARGS` and the installed binary by its own
 * name, in the build directory, before the slug is moved. The buildpack is a copy, as Heroku checks it out:
 * `export` is written into the buildpack directory, which other test files build from at the same time.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeStackPath, nodeOnPath, runScript, writeEnvDir } from "../../src/ctl/local-heroku.js";
import type { ScriptResult } from "../../src/ctl/local-heroku.js";
import { probeBinary, readProbeReport } from "../helpers/probe.js";
import { file, zip } from "../helpers/release-archives.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";
import { offlineNpm } from "./helpers/build-env.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/web-app");

describe("a buildpack that runs after execpack", () => {
  let workDir: string;
  let buildpackDir: string;
  let buildDir: string;
  let server: StaticServer;
  let stackPath: string;
  let compile: ScriptResult;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-multi-"));
    buildpackDir = join(workDir, "buildpacks/execpack");
    for (const entry of ["bin", "lib", "launchers", "dist", "package.json", "package-lock.json", "buildpack.toml"]) {
      cpSync(join(REPO, entry), join(buildpackDir, entry), { recursive: true });
    }
    mkdirSync(join(workDir, "releases"));
    const release = await zip([file("probe_1.4.0_linux_amd64/probe", readFileSync(probeBinary()))]);
    writeFileSync(join(workDir, "releases/probe.zip"), release);
    server = await serveDirectory(join(workDir, "releases"));
    // heroku/nodejs ran first: its Node.js is reused, which keeps this build quick.
    stackPath = makeStackPath(workDir, [nodeOnPath(workDir)]);
    buildDir = join(workDir, "build_0a1b2c3d");
    cpSync(FIXTURE_APP, buildDir, { recursive: true });
    writeEnvDir(join(workDir, "env"), {
      BINARY_URL: `${server.url}/probe.zip`,
      BINARY_SHA256: createHash("sha256").update(release).digest("hex"),
    });
    compile = await runScript(join(buildpackDir, "bin/compile"), [buildDir, join(workDir, "cache"), join(workDir, "env")], {
      PATH: stackPath,
      HOME: join(workDir, "home"),
      ...offlineNpm(),
    });
  });

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** A later buildpack's compile step: Heroku sources the export files of the buildpacks before it. */
  function laterBuildpack(script: string, env: NodeJS.ProcessEnv = {}): Promise<ScriptResult> {
    const stack = makeStackPath(workDir);
    return runScript("bash", ["-c", `source "${buildpackDir}/export" && cd "${buildDir}" && ${script}`], { PATH: stack, ...env });
  }

  it("gets execpack's commands first on PATH, the release's programs last, and BINARY_HOME", async () => {
    expect(compile.status, compile.stderr).toBe(0);
    const { stdout } = await laterBuildpack('echo "${PATH}"; echo "${BINARY_HOME}"');
    const [pathLine, home] = stdout.trim().split("\n");
    const path = (pathLine ?? "").split(":");
    expect(path[0]).toBe(join(buildDir, ".execpack/bin"));
    expect(path.at(-1)).toBe(join(buildDir, ".execpack/commands"));
    expect(home).toBe(join(buildDir, ".execpack/binary"));
  });

  it("runs the installed binary through `execpack`, with ARGS untouched and binary.env applied", async () => {
    const report = join(workDir, "execpack-report");
    const result = await laterBuildpack('execpack migrate --exit 3 "two words"; echo "status $?"', {
      PROBE_REPORT: report,
      PORT: "5000",
      DATABASE_URL: "postgres://builder:secret@db.internal:5432/app",
    });
    expect(result.stdout, result.stderr).toBe("status 3\n");
    const probe = readProbeReport(report);
    expect(probe.argv).toEqual(["probe", "migrate", "--exit", "3", "two words"]);
    expect(probe.env).toMatchObject({ APP_DB_HOST: "db.internal", APP_LISTEN: "0.0.0.0:5000" });
  });

  it("runs the installed binary by its own name", async () => {
    const report = join(workDir, "direct-report");
    const result = await laterBuildpack('probe --exit 5; echo "status $?"', { PROBE_REPORT: report });
    expect(result.stdout).toBe("status 5\n");
    expect(readProbeReport(report).argv[0]).toBe("probe");
  });

  it("never shadows a command of the same name that is already on PATH", async () => {
    const own = join(workDir, "own-bin");
    mkdirSync(own, { recursive: true });
    writeFileSync(join(own, "probe"), "#!/bin/sh\necho own probe\n", { mode: 0o755 });
    const stack = makeStackPath(workDir);
    const result = await runScript("bash", ["-c", `source "${buildpackDir}/export" && probe`], { PATH: `${own}:${stack}` });
    expect(result.stdout).toBe("own probe\n");
  });
});
