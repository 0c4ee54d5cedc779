/**
 * A release named in BINARY_URL, built and booted as Heroku runs the buildpack: the real bin/compile against a
 * loopback stand-in of GitHub (API and download host on two origins, goreleaser's asset list), the slug
 * moved, execpackctl run inside it, rebuilds with the same cache, and BINARY_FETCH=boot resolving the latest
 * release at each dyno start and falling back when the API refuses.
 */
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tryApp } from "../../src/ctl/try.js";
import { buildApp, makeStackPath, nodeOnPath, processCommand, startDyno } from "../../src/ctl/local-heroku.js";
import type { BuildResult } from "../../src/ctl/local-heroku.js";
import { goreleaserAssets, sha256, startGithubStandIn } from "../helpers/github-stand-in.js";
import type { GithubStandIn } from "../helpers/github-stand-in.js";
import { probeBinary, readProbeReport } from "../helpers/probe.js";
import { file, tarGz } from "../helpers/release-archives.js";
import { offlineNpm } from "./helpers/build-env.js";
import { watchDyno } from "./helpers/dyno.js";
import { noStackTrace } from "./helpers/assertions.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE_APP = join(REPO, "test/fixtures/boot-fetch-app");
const ARCH = process.arch === "arm64" ? "arm64" : "amd64";

describe("a GitHub release named in BINARY_URL, end to end", () => {
  let workDir: string;
  let github: GithubStandIn;
  let stackPath: string;
  let buildEnv: NodeJS.ProcessEnv;
  let first: BuildResult;
  /** The same probe with bytes after its last section (the loader ignores them): one binary per release. */
  const binaries = new Map<string, Buffer>();
  let dynoCount = 0;

  function publish(version: string): void {
    const binary = Buffer.concat([readFileSync(probeBinary()), Buffer.from(`\0widget ${version}\n`)]);
    binaries.set(version, binary);
    const top = `widget_${version}_linux_${ARCH}`;
    const archive = tarGz([{ path: `${top}/`, directory: true }, file(`${top}/widget`, binary), file(`${top}/LICENSE`, "MIT\n", 0o644)]);
    github.repos.get("acme/widget")!.releases.push({ tag: `v${version}`, assets: goreleaserAssets("widget", version, archive, { arch: ARCH }) });
  }

  function build(configVars: Record<string, string> = {}): Promise<BuildResult> {
    return buildApp({
      buildpackDir: REPO, appDir: FIXTURE_APP, workDir, buildEnv, cacheDir: join(workDir, "cache"),
      configVars: { BINARY_URL: "https://github.com/acme/widget/releases/latest", BINARY_GITHUB_API_URL: github.api, ...configVars },
    });
  }

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-github-e2e-"));
    github = await startGithubStandIn({ "acme/widget": { releases: [] } });
    publish("1.2.0");
    stackPath = makeStackPath(workDir);
    // Node.js comes from PATH, as when heroku/nodejs runs first; the dyno's PATH (stackPath) has none.
    buildEnv = { PATH: makeStackPath(workDir, [nodeOnPath(workDir)]), HOME: join(workDir, "home"), ...offlineNpm() };
    first = await build();
  });

  afterAll(async () => {
    await github?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function boot(slug: string, configVars: Record<string, string>) {
    dynoCount += 1;
    const slugDir = join(workDir, `dyno-${dynoCount}`);
    cpSync(slug, slugDir, { recursive: true });
    const report = join(workDir, `report-${dynoCount}`);
    const dyno = startDyno({
      slugDir, command: processCommand(slugDir, "")!, configVars: { ...configVars, PROBE_REPORT: report }, path: stackPath, port: 5300 + dynoCount, execCommand: true,
    });
    const watched = watchDyno(dyno);
    await watched.readyOrExited;
    const exe = readlinkSync(`/proc/${dyno.pid}/exe`);
    dyno.kill("SIGTERM");
    const [code] = await watched.exited;
    return { code, pid: dyno.pid, report: readProbeReport(report), sha256: sha256(readFileSync(exe)), stderr: watched.output().stderr };
  }

  it("resolves the latest release, chooses the Linux asset, verifies it against checksums.txt and says so", () => {
    const { status, stdout, stderr } = first.compile!;
    expect(status, stderr).toBe(0);
    expect(stdout).toMatch(new RegExp(`^ {7}acme/widget latest -> v1\\.2\\.0: widget_1\\.2\\.0_linux_${ARCH}\\.tar\\.gz \\(\\d+\\.\\d KiB\\), sha256 verified against checksums\\.txt$`, "m"));
    expect(stdout).toContain(`Installed 'widget_1.2.0_linux_${ARCH}/widget' from the tar.gz archive`);
    const manifest = JSON.parse(readFileSync(join(first.slugDir!, ".execpack/binary.json"), "utf8"));
    expect(manifest).toMatchObject({
      name: "widget", source: "https://github.com/acme/widget/releases/latest",
      release: { repository: "acme/widget", tag: "v1.2.0", asset: `widget_1.2.0_linux_${ARCH}.tar.gz`, verifiedBy: "checksums.txt" },
    });
  });

  it("boots the release's binary in place", async () => {
    const started = await boot(first.slugDir!, {});
    expect(started.report.pid).toBe(started.pid);
    expect(started.report.argv).toEqual(["widget", "serve", "--wait"]);
    expect(started.sha256).toBe(sha256(binaries.get("1.2.0")!));
    expect(started.code).toBe(42);
  });

  it("shows the installed tag in execpackctl env and check, inside the slug", () => {
    const env = { HOME: first.slugDir!, PATH: stackPath, PORT: "5000", BINARY_URL: "https://github.com/acme/widget/releases/latest" };
    const run = (command: string) => execFileSync(join(first.slugDir!, ".execpack/bin/execpackctl"), [command], { env, encoding: "utf8" });
    const installed = `acme/widget v1.2.0: widget_1.2.0_linux_${ARCH}.tar.gz (sha256 verified against checksums.txt)`;
    expect(run("env").split("\n")[0]).toBe(`# installed: ${installed}`);
    const check = run("check");
    expect(check).toContain("ok     BINARY_URL names the GitHub release acme/widget latest");
    expect(check).toContain(`ok     installed: ${installed}`);
  });

  it("does not download an unchanged release again, and names the new tag once one is published", async () => {
    const served = github.bytesServed();
    const again = await build();
    expect(again.compile?.status, again.compile?.stderr).toBe(0);
    expect(again.compile!.stdout).toContain(`acme/widget latest -> v1.2.0 (unchanged): widget_1.2.0_linux_${ARCH}.tar.gz`);
    expect(again.compile!.stdout).toContain("Using cached archive");
    const checksums = github.repos.get("acme/widget")!.releases[0]!.assets.find((asset) => asset.name === "checksums.txt")!.body.length;
    expect(github.bytesServed() - served).toBe(checksums);

    publish("1.3.0");
    const next = await build();
    expect(next.compile?.status, next.compile?.stderr).toBe(0);
    expect(next.compile!.stdout).toContain(`acme/widget v1.2.0 -> v1.3.0 (latest): widget_1.3.0_linux_${ARCH}.tar.gz`);
    expect(JSON.parse(readFileSync(join(next.slugDir!, ".execpack/binary.json"), "utf8")).release.tag).toBe("v1.3.0");
  });

  it("fails the build on a checksums file that disagrees with the asset, naming it, and installs nothing", async () => {
    const lying = tarGz([file("widget", binaries.get("1.2.0")!)]);
    github.repos.set("acme/liar", { releases: [{ tag: "v1.0.0", assets: goreleaserAssets("liar", "1.0.0", lying, { arch: ARCH, checksums: "lying" }) }] });
    const failed = await build({ BINARY_URL: "github:acme/liar" });
    expect(failed.compile?.status).toBe(1);
    expect(failed.compile!.stderr).toContain(`liar_1.0.0_linux_${ARCH}.tar.gz does not match checksums.txt [release.checksum-mismatch]`);
    expect(failed.compile!.stderr).toContain("Nothing was installed");
    noStackTrace(failed.compile!.stderr);
    expect(failed.slugDir).toBeUndefined();
    expect(() => readFileSync(join(failed.buildDir, ".execpack/binary.json"))).toThrow();
  });

  it("with BINARY_FETCH=boot, resolves the latest release at each start, and falls back to the build's when the API refuses", async () => {
    const vars = { BINARY_URL: "github:acme/widget", BINARY_GITHUB_API_URL: github.api, BINARY_FETCH: "boot" };
    publish("1.4.0");
    const fresh = await boot(first.slugDir!, vars);
    expect(fresh.sha256).toBe(sha256(binaries.get("1.4.0")!));
    expect(fresh.report.pid).toBe(fresh.pid);
    expect(fresh.stderr).toContain(`execpack: acme/widget v1.2.0 -> v1.4.0 (latest): widget_1.4.0_linux_${ARCH}.tar.gz`); // against the tag the slug was built with

    github.rateLimit({ times: 10 });
    const limited = await boot(first.slugDir!, vars);
    expect(limited.sha256).toBe(sha256(binaries.get("1.2.0")!));
    expect(limited.stderr).toContain("GitHub's API rate limit is used up [release.rate-limited]");
    expect(limited.stderr).toContain("Booting the binary installed at build time instead");
    noStackTrace(limited.stderr);
    github.rateLimit({ times: 0 });
  });

  it("execpackctl try builds and boots an app whose BINARY_URL names a release", async () => {
    const report = join(workDir, "try-report");
    process.env.npm_config_offline = "true"; // the compile's npm reads the caller's settings, as on a workstation
    const run = await tryApp({
      buildpackDir: REPO, appDir: FIXTURE_APP, port: 5399, stdio: "pipe", execCommand: true,
      extraConfigVars: { BINARY_URL: "github:acme/widget@v1.2.0", BINARY_GITHUB_API_URL: github.api, PROBE_REPORT: report },
    }).finally(() => delete process.env.npm_config_offline);
    try {
      const watched = watchDyno(run.dyno);
      await watched.readyOrExited;
      expect(readProbeReport(report).pid).toBe(run.dyno.pid);
      expect(sha256(readFileSync(readlinkSync(`/proc/${run.dyno.pid}/exe`)))).toBe(sha256(binaries.get("1.2.0")!));
      run.dyno.kill("SIGTERM");
      expect((await once(run.dyno, "exit"))[0]).toBe(42);
    } finally {
      run.cleanup();
    }
  });
});
