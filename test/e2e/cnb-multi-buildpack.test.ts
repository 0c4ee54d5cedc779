/**
 * execpack in a Cloud Native Buildpack group (Heroku Fir), followed by a buildpack of the app's: the stand-in
 * lifecycle (helpers/cnb-lifecycle.ts) runs the real bin/build, then a small test-made buildpack whose
 * bin/build calls `execpack`, the release's binary and a companion program by name and reads BINARY_HOME, in
 * the environment execpack's build layers give it. A rebuild that changes nothing restores those layers from
 * the cache and must give the later buildpack the same. Then the image starts the companion by name.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeStackPath, nodeOnPath } from "../../src/ctl/local-heroku.js";
import { launch } from "./helpers/cnb-launcher.js";
import { CnbLifecycle } from "./helpers/cnb-lifecycle.js";
import type { CnbBuildResult } from "./helpers/cnb-lifecycle.js";
import { offlineNpm, RUNTIME_CONFIG } from "./helpers/build-env.js";
import { probeBinary, readProbeReport } from "../helpers/probe.js";
import type { ProbeReport } from "../helpers/probe.js";
import { file, zip } from "../helpers/release-archives.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/web-app");

/**
 * The later buildpack's bin/build: what a buildpack of the app's would do with the release (run a migration
 * check, render a config with a companion), writing each program's report and its own view of the
 * environment into <reports>/<build number>/.
 */
const LATER_BUILD = `#!/usr/bin/env bash
set -uo pipefail
out="\${REPORTS}/$(cat "\${REPORTS}/build-number")"
mkdir -p "\${out}"
printf '%s\\n' "\${PATH}" >"\${out}/path"
printf '%s\\n' "\${BINARY_HOME:-unset}" >"\${out}/binary-home"
command -v execpack execpackctl probe probe-admin >"\${out}/found"
PROBE_REPORT="\${out}/execpack" DATABASE_URL=postgres://builder:secret@db.internal:5432/app PORT=5000 execpack migrate --exit 3
echo "execpack: $?"
PROBE_REPORT="\${out}/probe" probe --exit 4
echo "probe: $?"
PROBE_REPORT="\${out}/probe-admin" probe-admin render "\${BINARY_HOME}/share/config.yml" --exit 5
echo "probe-admin: $?"
`;

describe("a Cloud Native Buildpack that builds after execpack (Heroku Fir)", () => {
  let workDir: string;
  let releases: StaticServer;
  let cnb: CnbLifecycle;
  let reports: string;
  let execpackLayers: string;
  const builds: CnbBuildResult[] = [];

  const report = (build: number, name: string): ProbeReport => readProbeReport(join(reports, String(build), name));
  const line = (build: number, name: string) => readFileSync(join(reports, String(build), name), "utf8").trim();

  async function build(): Promise<CnbBuildResult> {
    writeFileSync(join(reports, "build-number"), String(builds.length + 1));
    const result = await cnb.build();
    builds.push(result);
    return result;
  }

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-cnb-multi-"));
    reports = join(workDir, "reports");
    mkdirSync(reports);
    const probe = readFileSync(probeBinary());
    mkdirSync(join(workDir, "releases"));
    // A release with a companion program and a data file, as Prometheus ships promtool and its consoles.
    const release = await zip([
      file("probe_2.0_linux_amd64/probe", probe),
      file("probe_2.0_linux_amd64/probe-admin", probe),
      file("probe_2.0_linux_amd64/share/config.yml", "listen: 0.0.0.0\n", 0o644),
    ]);
    writeFileSync(join(workDir, "releases/probe_2.0_linux_amd64.zip"), release);
    releases = await serveDirectory(join(workDir, "releases"));

    const later = join(workDir, "buildpacks/later");
    mkdirSync(join(later, "bin"), { recursive: true });
    writeFileSync(join(later, "buildpack.toml"), 'api = "0.10"\n\n[buildpack]\nid = "test/later"\nversion = "0.0.1"\n');
    writeFileSync(join(later, "bin/build"), LATER_BUILD);
    chmodSync(join(later, "bin/build"), 0o755);

    cnb = new CnbLifecycle({
      buildpackDir: REPO,
      workDir,
      // heroku/nodejs ran first: its Node.js is reused, which keeps these builds quick. REPORTS is the test's.
      buildEnv: { PATH: makeStackPath(workDir, [nodeOnPath(workDir)]), HOME: join(workDir, "home"), REPORTS: reports, ...offlineNpm() },
      laterBuildpacks: [later],
    });
    execpackLayers = cnb.layersDir;
    cnb.useApp(FIXTURE_APP);
    cnb.setConfigVars({
      BINARY_URL: `${releases.url}/probe_2.0_linux_amd64.zip`,
      BINARY_SHA256: createHash("sha256").update(release).digest("hex"),
    });
    await build();
    await build(); // nothing changed: every execpack layer comes back from the cache
  });

  afterAll(async () => {
    await releases?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it.each([1, 2])("build %i: execpack builds, then the later buildpack runs to its end", (n) => {
    const result = builds[n - 1]!;
    expect(result.status, result.stderr).toBe(0);
    expect(result.later).toHaveLength(1);
    expect(result.later[0]!.status, result.later[0]!.stderr).toBe(0);
    expect(result.later[0]!.stdout).toBe("execpack: 3\nprobe: 4\nprobe-admin: 5\n");
  });

  it("rebuilds from the cache: nothing downloaded, the binary layer restored for the later buildpack", () => {
    expect(builds[1]!.stdout).toContain("Reusing the binary from the last build");
    expect(builds[1]!.restoredFromCache).toEqual(expect.arrayContaining(["node", "execpack", "binary"]));
    expect(releases.requests.filter((path) => path.endsWith(".zip"))).toHaveLength(1);
  });

  it.each([1, 2])("build %i: `execpack` and `execpackctl` first on PATH, the release's programs after the image's commands, BINARY_HOME set", (n) => {
    const path = line(n, "path").split(":");
    expect(path[0]).toBe(join(execpackLayers, "execpack/bin"));
    expect(path.at(-1)).toBe(join(execpackLayers, "execpack/commands"));
    expect(line(n, "binary-home")).toBe(join(execpackLayers, "execpack/binary"));
    expect(line(n, "found").split("\n")).toEqual([
      join(execpackLayers, "execpack/bin/execpack"),
      join(execpackLayers, "execpack/bin/execpackctl"),
      join(execpackLayers, "execpack/commands/probe"),
      join(execpackLayers, "execpack/commands/probe-admin"),
    ]);
  });

  it.each([1, 2])("build %i: `execpack ARGS` runs the binary with ARGS untouched and binary.env resolved from the build's variables", (n) => {
    const probe = report(n, "execpack");
    expect(probe.argv).toEqual(["probe", "migrate", "--exit", "3"]);
    expect(probe.env).toMatchObject({ APP_DB_HOST: "db.internal", APP_DB_PASSWORD: "secret", APP_LISTEN: "0.0.0.0:5000" });
  });

  it.each([1, 2])("build %i: the binary and its companion run by their own names, through the same boot (BINARY_HOME, argv[0])", (n) => {
    expect(report(n, "probe").argv).toEqual(["probe", "--exit", "4"]);
    const admin = report(n, "probe-admin");
    expect(admin.argv).toEqual(["probe-admin", "render", join(execpackLayers, "execpack/binary/share/config.yml"), "--exit", "5"]);
    expect(admin.env.BINARY_HOME).toBe(join(execpackLayers, "execpack/binary"));
  });

  it("starts the companion by name in the image, exec'd in place with the dyno's variables", async () => {
    const reportFile = join(workDir, "launch-report");
    const child = launch({
      buildpackLayers: [cnb.layersDir],
      processes: cnb.processes(),
      appDir: cnb.appDir,
      env: {
        PATH: makeStackPath(workDir), HOME: join(workDir, "home"), CNB_APP_DIR: cnb.appDir, PORT: "5123", PROBE_REPORT: reportFile,
        TMPDIR: workDir, // the exec.d step's records stay in the test's folder
        ...RUNTIME_CONFIG,
      },
      command: ["probe-admin", "check", "--exit", "6"],
    });
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(6);
    const admin = readProbeReport(reportFile);
    expect(admin).toMatchObject({ pid: child.pid, argv: ["probe-admin", "check", "--exit", "6"] });
    expect(admin.env).toMatchObject({ APP_DB_PASSWORD: "p@ss:w/rd", APP_LISTEN: "0.0.0.0:5123" });
  });
});
