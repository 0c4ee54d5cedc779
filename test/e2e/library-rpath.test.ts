/**
 * Issue 10, item 6: a release that ships its own shared library, found by its program through RUNPATH
 * `$ORIGIN/../lib` (how CockroachDB and many C releases lay it out). Compiled here with the machine's `cc`: the
 * library, and a program linked against it with that RUNPATH. The real bin/compile checks it (no missing-library
 * warning), the slug is moved, and the dyno (clean environment, .profile.d sourced) runs it through execpack.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, startDyno } from "../../src/ctl/local-heroku.js";
import type { BuildResult } from "../../src/ctl/local-heroku.js";
import { file, tarGz } from "../helpers/release-archives.js";
import { serveDirectory } from "../helpers/static-server.js";
import { nodeMirror } from "./helpers/node-mirror.js";
import { offlineNpm } from "./helpers/build-env.js";
import { watchDyno } from "./helpers/dyno.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

describe("a release's own library, found through RUNPATH $ORIGIN/../lib", () => {
  let workDir: string;
  let stackPath: string;
  let built: BuildResult;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-rpath-"));
    const src = join(workDir, "src");
    mkdirSync(src);
    writeFileSync(join(src, "greet.c"), 'const char *greeting(void) { return "greeted by libgreet from the release"; }\n');
    writeFileSync(join(src, "main.c"), '#include <stdio.h>\nconst char *greeting(void);\nint main(void) { puts(greeting()); return 0; }\n');
    execFileSync("cc", ["-shared", "-fPIC", "-Wl,-soname,libgreet.so.1", "-o", join(src, "libgreet.so.1"), join(src, "greet.c")]);
    execFileSync("cc", ["-o", join(src, "greet"), join(src, "main.c"), join(src, "libgreet.so.1"), "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags"]);
    expect(execFileSync("readelf", ["-d", join(src, "greet")], { encoding: "utf8" })).toMatch(/RUNPATH.*\$ORIGIN\/\.\.\/lib/);

    const site = join(workDir, "site");
    mkdirSync(site);
    writeFileSync(
      join(site, "greet-1.0.linux-amd64.tar.gz"),
      tarGz([
        file("greet-1.0.linux-amd64/bin/greet", readFileSync(join(src, "greet"))),
        file("greet-1.0.linux-amd64/lib/libgreet.so.1", readFileSync(join(src, "libgreet.so.1"))),
      ]),
    );
    const releases = await serveDirectory(site);
    const mirror = await serveDirectory(nodeMirror());
    stackPath = makeStackPath(workDir);
    const appDir = join(workDir, "app");
    mkdirSync(appDir);
    writeFileSync(join(appDir, "binary.env"), "");
    built = await buildApp({
      buildpackDir: REPO,
      appDir,
      workDir,
      configVars: { BINARY_URL: `${releases.url}/greet-1.0.linux-amd64.tar.gz`, NODEJS_ORG_MIRROR: mirror.url },
      buildEnv: { PATH: stackPath, HOME: join(workDir, "home"), STACK: "heroku-24", ...offlineNpm() },
    });
    await releases.close();
    await mirror.close();
  }, 120_000);

  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("builds without a missing-library warning", () => {
    expect(built.compile?.status, `${built.compile?.stdout}\n${built.compile?.stderr}`).toBe(0);
    expect(built.compile!.stdout).toContain("Installed 'greet-1.0.linux-amd64/bin/greet'");
    expect(built.compile!.stderr).not.toContain("install.missing-libraries");
  });

  it("boots: the moved slug's program finds the release's library, and the dyno's shell gets no LD_LIBRARY_PATH", async () => {
    const dyno = startDyno({ slugDir: built.slugDir!, command: 'execpack; echo "[${LD_LIBRARY_PATH-}]"', configVars: {}, path: stackPath });
    const { exited, output } = watchDyno(dyno);
    expect((await exited)[0], output().stderr).toBe(0);
    expect(output().stdout).toBe("greeted by libgreet from the release\n[]\n");
  }, 60_000);
});
