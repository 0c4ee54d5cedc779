/**
 * A whole bin/compile against the obvious baseline, a 13-line bash buildpack doing curl + unzip
 * (bench/baseline-buildpack/bin/compile), in one run: a release zip (bench/release-fixture.ts) served from
 * loopback with an ETag, the fixture app copied to a fresh build directory for every build, cases interleaved.
 *   baseline                       curl + unzip into the build directory
 *   first build, Node.js on PATH   empty cache; a Node.js buildpack ran first
 *   first build, Node.js cached    a cache holding only the verified node (as after a build of another app)
 *   rebuild, pinned                nothing changed, BINARY_SHA256 set: no request at all
 *   rebuild, unpinned              nothing changed, no BINARY_SHA256: a conditional request answered 304
 *   new release, compile cache     the cache of a build of this app, and a new BINARY_URL (a ?run= query the
 *                                  server ignores): the install step runs, with V8's compile cache of its bundle
 *                                  kept from the last build (bin/compile's NODE_COMPILE_CACHE)
 *   new release, no compile cache  the same with that compile cache removed: what the first builds pay for it
 * Prints medians of wall time and the ratio against the baseline. `sync` runs before every case.
 * Run: npm run bench:build [-- RUNS]    (RUNS defaults to 5; BUILD_BENCH_MIB=… sets the binary's size, default 10)
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeStackPath, nodeOnPath, writeEnvDir } from "../src/ctl/local-heroku.js";
import { serveDirectory } from "../test/helpers/static-server.js";
import { median, mib, releaseFixture } from "./release-fixture.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BASELINE = fileURLToPath(new URL("./baseline-buildpack", import.meta.url));
const APP = join(REPO, "test/fixtures/web-app");
const RUNS = Number(process.argv[2] ?? 5);
const BINARY_MIB = Number(process.env.BUILD_BENCH_MIB ?? 10);

function compile(buildpack: string, buildDir: string, cacheDir: string, envDir: string, path: string): Promise<number> {
  // The case's fresh copies (a 120 MB node in a seeded cache) written out first: no case pays for writing back
  // the pages of its own set-up, or of the case before (a blocking call: no request is in flight between cases).
  execFileSync("sync");
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    // Asynchronous: the release server lives in this process.
    const child = spawn(join(buildpack, "bin/compile"), [buildDir, cacheDir, envDir], { env: { PATH: path, HOME: buildDir }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - start) / 1e6) : reject(new Error(`${buildpack} compile exited ${code}\n${stderr}`))));
  });
}

const fixture = await releaseFixture({ binaryBytes: BINARY_MIB * 1024 ** 2, mix: { random: 0.25, words: 0.45, zeros: 0.3 } }, (line) => console.log(line));
const workDir = mkdtempSync(join(tmpdir(), "execpack-bench-build-"));
const server = await serveDirectory(fixture.dir);
try {
  const url = `${server.url}/${basename(fixture.zip)}`;
  const sha256 = createHash("sha256").update(readFileSync(fixture.zip)).digest("hex");
  const withNode = makeStackPath(workDir, [nodeOnPath(workDir)]);
  const withoutNode = makeStackPath(workDir);
  const envs = { pinned: join(workDir, "env-pinned"), unpinned: join(workDir, "env-unpinned") };
  writeEnvDir(envs.pinned, { BINARY_URL: url, BINARY_SHA256: sha256 });
  writeEnvDir(envs.unpinned, { BINARY_URL: url });

  // Caches as they are before each case: full after a build of this app, or holding only the verified node.
  const seed = (name: string, env: string, path: string) => {
    const cache = join(workDir, `seed-${name}`);
    const build = join(workDir, `seed-build-${name}`);
    cpSync(APP, build, { recursive: true });
    return compile(REPO, build, cache, env, path).then(() => cache);
  };
  // The verified node: a build without Node.js on PATH downloads it from a loopback mirror of the distribution site.
  const { nodeMirror } = await import("../test/e2e/helpers/node-mirror.js");
  const mirror = await serveDirectory(nodeMirror());
  writeEnvDir(envs.pinned, { NODEJS_ORG_MIRROR: mirror.url });
  writeEnvDir(envs.unpinned, { NODEJS_ORG_MIRROR: mirror.url });
  const pinnedCache = await seed("pinned", envs.pinned, withoutNode);
  const unpinnedCache = await seed("unpinned", envs.unpinned, withoutNode);
  const nodeOnlyCache = join(workDir, "seed-node-only");
  // Modification times kept, as a cache restored between builds keeps them (the node's stamp is its size and time).
  cpSync(join(pinnedCache, "execpack/node"), join(nodeOnlyCache, "execpack/node"), { recursive: true, preserveTimestamps: true });
  await mirror.close();

  interface Case { name: string; run: (scratch: string) => Promise<number> }
  let releases = 0;
  const newRelease = (scratch: string) => {
    const env = join(scratch, "env");
    releases += 1;
    writeEnvDir(env, { BINARY_URL: `${url}?run=${releases}`, NODEJS_ORG_MIRROR: "http://127.0.0.1:9/unused" });
    return env;
  };
  const fresh = (scratch: string) => {
    const build = join(scratch, "build");
    cpSync(APP, build, { recursive: true });
    return build;
  };
  const withCache = (seedDir: string | undefined, scratch: string) => {
    const cache = join(scratch, "cache");
    // With the files' modification times and links as they are, as a cache restored from storage between
    // builds keeps them (cpSync would otherwise make relative link targets absolute).
    if (seedDir) cpSync(seedDir, cache, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    else mkdirSync(cache);
    return cache;
  };
  const cases: Case[] = [
    { name: "baseline: curl + unzip", run: (s) => compile(BASELINE, fresh(s), withCache(undefined, s), envs.unpinned, withoutNode) },
    { name: "first build, Node.js on PATH", run: (s) => compile(REPO, fresh(s), withCache(undefined, s), envs.pinned, withNode) },
    { name: "first build, Node.js cached", run: (s) => compile(REPO, fresh(s), withCache(nodeOnlyCache, s), envs.pinned, withoutNode) },
    { name: "rebuild, pinned", run: (s) => compile(REPO, fresh(s), withCache(pinnedCache, s), envs.pinned, withoutNode) },
    { name: "rebuild, unpinned (304)", run: (s) => compile(REPO, fresh(s), withCache(unpinnedCache, s), envs.unpinned, withoutNode) },
    { name: "new release, compile cache", run: (s) => compile(REPO, fresh(s), withCache(unpinnedCache, s), newRelease(s), withoutNode) },
    { name: "new release, no compile cache", run: (s) => {
      const cache = withCache(unpinnedCache, s);
      rmSync(join(cache, "execpack/v8-compile-cache"), { recursive: true, force: true });
      return compile(REPO, fresh(s), cache, newRelease(s), withoutNode);
    } },
  ];
  const samples = new Map<string, number[]>(cases.map((item) => [item.name, []]));
  for (let run = 0; run <= RUNS; run++) {
    for (const item of cases) {
      const scratch = mkdtempSync(join(workDir, "run-"));
      const ms = await item.run(scratch);
      rmSync(scratch, { recursive: true, force: true });
      if (run > 0) samples.get(item.name)!.push(ms); // run 0 warms the page cache
    }
  }
  const baseline = median(samples.get(cases[0]!.name)!);
  console.log(`\nbin/compile of a ${mib(fixture.binaryBytes)} binary in a ${mib(readFileSync(fixture.zip).length)} zip from loopback, median of ${RUNS} runs, Node ${process.version}\n`);
  console.log(`${"case".padEnd(32)}${"wall ms".padStart(10)}${"vs baseline".padStart(13)}`);
  for (const item of cases) {
    const wall = median(samples.get(item.name)!);
    console.log(`${item.name.padEnd(32)}${wall.toFixed(0).padStart(10)}${`${(wall / baseline).toFixed(2)}x`.padStart(13)}`);
  }
  console.log("\ntargets: rebuild ≤ 1.0x; first build with Node.js on PATH or cached ≤ 1.5x");
} finally {
  await server.close();
  rmSync(workDir, { recursive: true, force: true });
}
