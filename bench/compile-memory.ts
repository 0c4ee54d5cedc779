/**
 * Peak memory of the compile step for a release of about 500 MB (the slug limit): the real bin/compile, run by
 * buildApp as the tests run it, on a ~500 MB tar.gz and a ~500 MB zip (bench/release-fixture.ts, cached in
 * os.tmpdir()) served from loopback with an ETag and a Last-Modified like GitHub's asset storage.
 *
 * How the peak is measured: NODE_OPTIONS in the build environment preloads a few lines into every Node.js
 * process of the compile (npm, the bundler, the install), and each one, when it exits, appends its argv and
 * `process.resourceUsage().maxRSS` to a log. That is getrusage(RUSAGE_SELF)'s ru_maxrss, the kernel's own
 * high-water mark of the process's resident set (VmHWM), read at the very end, so no peak falls between
 * samples (as it could when polling /proc), and it is the install process alone, not the largest of its
 * relatives (as GNU time on bin/compile would report). The install process runs the slug's own copy of
 * Node.js from an absolute path, so a `node` shim on PATH would not see it; NODE_OPTIONS does.
 *
 * Each run uses a new BINARY_URL (a ?run= query the server ignores), so every build downloads for real, as on a
 * redeploy after a new release.
 *
 * COMPILE_BENCH_NODE_FLAGS="--max-semi-space-size=1" adds rows for the same builds with those V8 flags in
 * NODE_OPTIONS (every Node.js process of the compile gets them), to try a flag before putting it in bin/compile.
 * Run: npx tsx bench/compile-memory.ts [RUNS]   (RUNS defaults to 3; COMPILE_BENCH_MIB=… changes the binary size)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp, makeStackPath, nodeOnPath } from "../src/ctl/local-heroku.js";
import { median, mib, releaseFixture } from "./release-fixture.js";
import { serveDirectory } from "../test/helpers/static-server.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const RUNS = Number(process.argv[2] ?? 3);
const BINARY_MIB = Number(process.env.COMPILE_BENCH_MIB ?? 576);
const TARGET_BYTES = 80 * 1000 ** 2; // issue 9: <= 80 MB for a 500 MB archive
const EXTRA_FLAGS = process.env.COMPILE_BENCH_NODE_FLAGS?.trim() ?? "";

interface ProcessRecord {
  argv: string[];
  maxRssKiB: number;
  uptimeMs: number;
}

const PRELOAD = `// Preloaded into every Node.js process of the compile by bench/compile-memory.ts.
const { appendFileSync } = require("node:fs");
process.on("exit", () => {
  const record = { argv: process.argv.slice(1), maxRssKiB: process.resourceUsage().maxRSS, uptimeMs: process.uptime() * 1000 };
  appendFileSync(process.env.EXECPACK_BENCH_RSS_LOG, JSON.stringify(record) + "\\n");
});
`;

function readRecords(log: string): ProcessRecord[] {
  let text = "";
  try {
    text = readFileSync(log, "utf8");
  } catch {
    return []; // no Node.js process exited yet
  }
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as ProcessRecord);
}

function mb(kib: number): string {
  return `${((kib * 1024) / 1000 ** 2).toFixed(0)} MB`;
}

const fixture = await releaseFixture(
  { binaryBytes: BINARY_MIB * 1024 ** 2, mix: { random: 0.75, words: 0.15, zeros: 0.1 } },
  (line) => console.log(line),
);
const workDir = mkdtempSync(join(tmpdir(), "execpack-bench-compile-"));
const server = await serveDirectory(fixture.dir);
try {
  const appDir = join(workDir, "app-src");
  mkdirSync(appDir);
  writeFileSync(join(appDir, "Procfile"), "web: execpack serve\n");
  writeFileSync(join(appDir, "binary.env"), "APP_LISTEN=0.0.0.0:${PORT}\n");
  const preload = join(workDir, "record-rss.cjs");
  writeFileSync(preload, PRELOAD);
  const rssLog = join(workDir, "rss.log");
  const buildEnv = (flags: string): NodeJS.ProcessEnv => ({
    PATH: makeStackPath(workDir, [nodeOnPath(workDir)]),
    HOME: workDir,
    npm_config_offline: "true",
    npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? "/root", ".npm"),
    NODE_OPTIONS: `--require ${preload}${flags ? ` ${flags}` : ""}`,
    EXECPACK_BENCH_RSS_LOG: rssLog,
  });

  const formats = [
    { name: "tar.gz", file: fixture.tarGz, flags: "" },
    { name: "zip", file: fixture.zip, flags: "" },
    ...(EXTRA_FLAGS ? [
      { name: `tar.gz ${EXTRA_FLAGS}`, file: fixture.tarGz, flags: EXTRA_FLAGS },
      { name: `zip ${EXTRA_FLAGS}`, file: fixture.zip, flags: EXTRA_FLAGS },
    ] : []),
  ];
  const install = new Map<string, ProcessRecord[]>(formats.map((format) => [format.name, []]));
  const others = new Map<string, ProcessRecord[]>(formats.map((format) => [format.name, []]));
  const cacheDir = join(workDir, "cache");
  let run = 0;
  // One build before the measured ones fills the build cache with the bundler's npm dependencies.
  for (let round = 0; round <= RUNS; round += 1) {
    for (const format of formats) {
      run += 1;
      rmSync(rssLog, { force: true });
      const build = await buildApp({
        buildpackDir: REPO,
        appDir,
        workDir,
        cacheDir,
        configVars: { BINARY_URL: `${server.url}/${basename(format.file)}?run=${run}` },
        buildEnv: buildEnv(format.flags),
      });
      if (!build.slugDir) throw new Error(`build failed:\n${build.compile?.stdout}\n${build.compile?.stderr}`);
      const installed = statSync(join(build.slugDir, ".execpack/binary/app")).size;
      if (installed !== fixture.binaryBytes) throw new Error(`installed ${installed} bytes, expected ${fixture.binaryBytes}`);
      // buildApp leaves app_<id> (the slug) and env_<id>; half a gigabyte per run is worth removing at once.
      rmSync(build.slugDir, { recursive: true, force: true });
      rmSync(join(workDir, `env_${basename(build.slugDir).slice("app_".length)}`), { recursive: true, force: true });
      const records = readRecords(rssLog);
      const compile = records.filter((record) => record.argv.some((arg) => arg.endsWith("/compile.cjs")));
      if (compile.length !== 1) throw new Error(`expected one install process, saw ${compile.length}: is NODE_OPTIONS passed through?`);
      if (round === 0) continue;
      install.get(format.name)!.push(compile[0]!);
      others.get(format.name)!.push(...records.filter((record) => !compile.includes(record)));
    }
  }

  console.log(`\ncompile of a ${mib(fixture.binaryBytes)} binary (bin/compile via buildApp, release from loopback), ${RUNS} runs per format, Node ${process.version}`);
  console.log("peak RSS = getrusage ru_maxrss of the Node.js process that downloads and extracts (compile.cjs)\n");
  const width = Math.max(18, ...formats.map((format) => format.name.length + 2));
  const header = `${"archive".padEnd(width)}${"size".padStart(9)}${"peak RSS median".padStart(17)}${"max".padStart(9)}${"install ms".padStart(12)}${"other node max".padStart(16)}`;
  console.log(header);
  for (const format of formats) {
    const records = install.get(format.name)!;
    const peaks = records.map((record) => record.maxRssKiB);
    const other = Math.max(0, ...others.get(format.name)!.map((record) => record.maxRssKiB));
    console.log(
      `${format.name.padEnd(width)}${mib(statSync(format.file).size).padStart(9)}${`${mib(median(peaks) * 1024)} (${mb(median(peaks))})`.padStart(17)}` +
        `${mib(Math.max(...peaks) * 1024).padStart(9)}${median(records.map((record) => record.uptimeMs)).toFixed(0).padStart(12)}${mib(other * 1024).padStart(16)}`,
    );
  }
  const worst = Math.max(...formats.filter((format) => !format.flags).flatMap((format) => install.get(format.name)!.map((record) => record.maxRssKiB)));
  console.log(`\ntarget: <= 80 MB (${mib(TARGET_BYTES)}): worst run as bin/compile runs it ${mib(worst * 1024)} (${mb(worst)}), ${worst * 1024 < TARGET_BYTES ? "within" : "OVER"} the target`);
  console.log("\"other node max\": the largest other Node.js process of the compile (npm, the bundler), for context");
} finally {
  await server.close();
  rmSync(workDir, { recursive: true, force: true });
}
