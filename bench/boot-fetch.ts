/**
 * BINARY_FETCH=boot against the obvious shell: from a dyno's start to the release's binary running, when the
 * release is downloaded at every start. A 60 MiB ELF (/usr/bin/true padded, so it exits at once: the time is
 * the start's, not the program's) in a tar.gz and a zip (bench/release-fixture.ts) served from loopback; a slug
 * built by the real bin/compile with BINARY_FETCH=boot; then, interleaved, N times each, every run with a
 * TMPDIR of its own (a dyno's disk is new at every start):
 *   execpack tar.gz      bash sourcing .profile.d, `exec execpack`: the boot-time fetch (extracting while it
 *                        downloads), then execve into the binary
 *   execpack zip         the same for the zip, which is downloaded first, then extracted (its index is at its end)
 *   curl | tar xz        `curl -s URL | tar xz && exec ./app`, in bash
 * and prints medians of wall time and the ratio against `curl | tar xz` (issue 9: ≤ 1.3x for the tar.gz).
 * Run: npm run bench:boot-fetch [-- RUNS]   (RUNS defaults to 5; BOOT_FETCH_BENCH_MIB=… sets the binary's size;
 *      BENCH_BEFORE=<checkout> adds the same execpack cases with a slug built by another checkout of the buildpack,
 *      the code before a change, interleaved with the others in the same run)
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp, makeStackPath, nodeOnPath } from "../src/ctl/local-heroku.js";
import { serveDirectory } from "../test/helpers/static-server.js";
import { offlineNpm } from "../test/e2e/helpers/build-env.js";
import { median, mib, releaseFixture } from "./release-fixture.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BEFORE = process.env.BENCH_BEFORE;
const RUNS = Number(process.argv[2] ?? 5);
const BINARY_MIB = Number(process.env.BOOT_FETCH_BENCH_MIB ?? 60);

/** Runs bash with `script`; resolves with the wall time. Asynchronous: the release server lives in this process. */
function timed(script: string, env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn("bash", ["-c", script], { env, cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
      // A fallback to the build-time binary would time the wrong thing: it is an error here.
      if (code !== 0 || /installed at build time instead|error/i.test(stderr)) return reject(new Error(`bash -c ${script} exited ${code}\n${stderr}`));
      resolve(wallMs);
    });
  });
}

function syncDisks(): Promise<void> {
  return new Promise((resolve, reject) => spawn("sync", { stdio: "ignore" }).on("close", () => resolve()).on("error", reject));
}

const fixture = await releaseFixture({ binaryBytes: BINARY_MIB * 1024 ** 2, mix: { random: 0.25, words: 0.45, zeros: 0.3 } }, (line) => console.log(line));
const workDir = mkdtempSync(join(tmpdir(), "execpack-bench-boot-fetch-"));
const server = await serveDirectory(fixture.dir);
try {
  const urlOf = (archive: string) => `${server.url}/${basename(archive)}`;
  const buildSlug = async (buildpackDir: string, name: string) => {
    const build = await buildApp({
      buildpackDir,
      appDir: join(REPO, "test/fixtures/boot-fetch-app"),
      workDir: join(workDir, name),
      configVars: { BINARY_URL: urlOf(fixture.tarGz), BINARY_FETCH: "boot" },
      buildEnv: { PATH: makeStackPath(workDir, [nodeOnPath(workDir)]), HOME: join(workDir, "home"), ...offlineNpm() },
    });
    if (!build.slugDir) throw new Error(`build failed:\n${build.compile?.stdout}\n${build.compile?.stderr}`);
    return build.slugDir;
  };
  mkdirSync(join(workDir, "after"));
  const slug = await buildSlug(REPO, "after");
  if (BEFORE) mkdirSync(join(workDir, "before"));
  const before = BEFORE ? await buildSlug(BEFORE, "before") : undefined;
  const dynoEnv = (slugDir: string, archive: string, scratch: string): NodeJS.ProcessEnv => ({
    HOME: slugDir, PATH: makeStackPath(workDir), PORT: "5000", DYNO: "web.1", LANG: "en_US.UTF-8", TMPDIR: scratch,
    BINARY_URL: urlOf(archive), BINARY_FETCH: "boot",
  });
  const dyno = 'for f in "${HOME}"/.profile.d/*.sh; do [ -r "${f}" ] && . "${f}"; done; exec execpack';
  const shell = `curl -sSf "$BINARY_URL" | tar xz && exec ./${fixture.entry}`;

  interface Case { name: string; run: (scratch: string) => Promise<number> }
  const cases: Case[] = [
    { name: "execpack tar.gz", run: (scratch) => timed(dyno, dynoEnv(slug, fixture.tarGz, scratch), slug) },
    { name: "curl | tar xz", run: (scratch) => timed(shell, { PATH: makeStackPath(workDir), HOME: scratch, BINARY_URL: urlOf(fixture.tarGz) }, scratch) },
    { name: "execpack zip", run: (scratch) => timed(dyno, dynoEnv(slug, fixture.zip, scratch), slug) },
    ...(before ? [
      { name: "before: tar.gz", run: (scratch: string) => timed(dyno, dynoEnv(before, fixture.tarGz, scratch), before) },
      { name: "before: zip", run: (scratch: string) => timed(dyno, dynoEnv(before, fixture.zip, scratch), before) },
    ] : []),
  ];
  const samples = new Map<string, number[]>(cases.map((item) => [item.name, []]));
  for (let run = 0; run <= RUNS; run += 1) {
    for (const item of cases) {
      const scratch = mkdtempSync(join(workDir, "run-"));
      mkdirSync(join(scratch, "tmp"));
      await syncDisks();
      const ms = await item.run(scratch);
      rmSync(scratch, { recursive: true, force: true });
      if (run > 0) samples.get(item.name)!.push(ms); // run 0 warms the page cache
    }
  }

  const baseline = median(samples.get("curl | tar xz")!);
  console.log(`\nboot to exec with BINARY_FETCH=boot, a ${mib(fixture.binaryBytes)} binary (tar.gz ${mib(statSync(fixture.tarGz).size)}, zip ${mib(statSync(fixture.zip).size)}) from loopback, median of ${RUNS} runs${BEFORE ? `; "before": a slug built by ${BEFORE}` : ""}\n`);
  console.log(`${"case".padEnd(18)}${"wall ms".padStart(10)}${"vs curl | tar".padStart(15)}`);
  for (const item of cases) {
    const wall = median(samples.get(item.name)!);
    console.log(`${item.name.padEnd(18)}${wall.toFixed(0).padStart(10)}${`${(wall / baseline).toFixed(2)}x`.padStart(15)}`);
  }
  console.log("\ntarget (issue 9): execpack tar.gz ≤ 1.30x curl | tar xz && exec");
} finally {
  await server.close();
  rmSync(workDir, { recursive: true, force: true });
}
