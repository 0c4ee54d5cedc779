/**
 * The stacks Heroku builds on (STACK is set in bin/compile's environment): the same real bin/compile on the
 * fixture app for heroku-22, heroku-24 and heroku-26, one lean build each (Node.js from PATH, as when
 * heroku/nodejs ran first), and a stack execpack was not tested on, which is said but not refused. This
 * machine is not those images: what differs between them for execpack (glibc 2.35 and later, the loader
 * paths of the library check) is documented in the README's Platforms table.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, nodeOnPath } from "../../src/ctl/local-heroku.js";
import { probeBinary } from "../helpers/probe.js";
import { file, tarGz } from "../helpers/release-archives.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";
import { offlineNpm } from "./helpers/build-env.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

describe("bin/compile on each stack", () => {
  let workDir: string;
  let releases: StaticServer;
  const probe = readFileSync(probeBinary());

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-stacks-"));
    mkdirSync(join(workDir, "releases"));
    writeFileSync(join(workDir, "releases/probe.tar.gz"), tarGz([file("probe_linux_amd64/probe", probe)]));
    releases = await serveDirectory(join(workDir, "releases"));
  });
  afterAll(async () => {
    await releases?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function compileOn(stack: string) {
    const dir = join(workDir, stack);
    mkdirSync(dir);
    return buildApp({
      buildpackDir: REPO,
      appDir: join(REPO, "test/fixtures/web-app"),
      workDir: dir,
      configVars: { BINARY_URL: `${releases.url}/probe.tar.gz` },
      buildEnv: { STACK: stack, PATH: makeStackPath(dir, [nodeOnPath(dir)]), HOME: join(dir, "home"), ...offlineNpm() },
    });
  }

  it.each(["heroku-22", "heroku-24", "heroku-26"])("STACK=%s builds the slug with nothing said about the stack", async (stack) => {
    const build = await compileOn(stack);
    expect(build.compile?.status, build.compile?.stderr).toBe(0);
    expect(build.compile?.stderr).not.toContain("tested on the stacks");
    const installed = createHash("sha256").update(readFileSync(join(build.slugDir!, ".execpack/binary/probe"))).digest("hex");
    expect(installed).toBe(createHash("sha256").update(probe).digest("hex"));
  });

  it("a stack it was not tested on (heroku-20) is named in a warning, and the build goes on", async () => {
    const build = await compileOn("heroku-20");
    expect(build.compile?.status, build.compile?.stderr).toBe(0);
    expect(build.compile?.stderr).toContain(" !     execpack is tested on the stacks heroku-22, heroku-24 and heroku-26, not 'heroku-20'");
  });
});
