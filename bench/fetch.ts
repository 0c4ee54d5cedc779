/**
 * What fetching a large release costs execpack against the tools a person would use. A 200 MiB ELF in a zip
 * and in a tar.gz (bench/release-fixture.ts, cached in os.tmpdir()) is served from loopback with an ETag and
 * a Last-Modified like GitHub's asset storage, and each case runs as its own process, interleaved, N times:
 *   execpack zip / tar.gz     installRelease in a child (bench/fetch-runner.ts, bundled by esbuild like the
 *                             bootstrapper): download, SHA-256, build-cache copy, choose, extract, install
 *   curl + unzip / tar -xzf   `curl -o` then `unzip` or `tar -xzf`
 *   bare Node.js zip          bench/fetch-bare.cjs: node:http, one inflate, no checks, for the zip only: what
 *                             Node.js's own start and I/O cost, whatever the code (the least at small sizes)
 * and prints medians of wall time, the ratio against curl + the extractor (targets: ≤ 1.2x at 10 MiB, ≤ 1.0x
 * from 60 MiB), execpack's download and extract phases (a tar.gz is extracted while it downloads: its
 * "download" holds both), and peak RSS (GNU time's %M: the largest process of the case).
 * `sync` runs before every case so no case pays for the previous one's dirty pages.
 * The execpack child runs as bin/compile runs the install step: with its Node.js flags and two malloc arenas
 * (src/install/node-flags.ts, which a test holds equal to lib/bootstrapper.sh's), but without a compile cache
 * (as on a first build).
 * Run: npx tsx bench/fetch.ts [RUNS]    (RUNS defaults to 5; FETCH_BENCH_MIB=… changes the binary size;
 *      FETCH_BENCH_FILES=1400 adds that many small files beside it, as a release bundling its assets does;
 *      FETCH_BENCH_NODE_FLAGS="--max-semi-space-size=1" runs the execpack child with those flags instead)
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
// @ts-expect-error: a plain ES module of the build scripts, without types
import { BUNDLE_OPTIONS, MODULE_URL_BANNER } from "../lib/bundle-options.mjs";
import { GNU_TIME, median, mib, releaseFixture } from "./release-fixture.js";
import { INSTALL_MALLOC_ARENA_MAX, INSTALL_NODE_FLAGS } from "../src/install/node-flags.js";
import { serveDirectory } from "../test/helpers/static-server.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const RUNS = Number(process.argv[2] ?? 5);
const BINARY_MIB = Number(process.env.FETCH_BENCH_MIB ?? 200);
const FILES = Number(process.env.FETCH_BENCH_FILES ?? 0);
const NODE_FLAGS = process.env.FETCH_BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? [...INSTALL_NODE_FLAGS];

interface Sample {
  wallMs: number;
  /** Peak RSS in KiB of the largest process of the case, when it could be measured. */
  peakKiB: number | undefined;
  downloadMs?: number;
  extractMs?: number;
}

interface Case {
  name: string;
  format: "zip" | "tar.gz";
  run: (scratch: string) => Promise<Sample>;
}

/** The runner as the bootstrapper is built: one CommonJS bundle, so the timed process loads no TypeScript. */
async function bundleRunner(outDir: string): Promise<string> {
  const outfile = join(outDir, "fetch-runner.cjs");
  await esbuild.build({
    entryPoints: [join(REPO, "bench/fetch-runner.ts")],
    outfile,
    ...BUNDLE_OPTIONS, // as lib/build-bootstrapper.mjs bundles the bootstrapper
    banner: { js: MODULE_URL_BANNER },
    logLevel: "warning",
  });
  return outfile;
}

/** Runs a command (under GNU time when there is one); resolves with its wall time, stdout and peak RSS. */
function timed(command: string, args: readonly string[], scratch: string, env: NodeJS.ProcessEnv = process.env): Promise<{ wallMs: number; stdout: string; peakKiB: number | undefined }> {
  const rssFile = join(scratch, "time.out");
  const [file, argv] = GNU_TIME ? [GNU_TIME, ["-f", "%M", "-o", rssFile, command, ...args]] : [command, [...args]];
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    // Asynchronous on purpose: the release server lives in this process and must keep serving.
    const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) return reject(new Error(`${command} ${args.join(" ")} exited ${code}\n${stderr}`));
      const peakKiB = GNU_TIME ? Number(readFileSync(rssFile, "utf8").trim().split("\n").at(-1)) : undefined;
      resolve({ wallMs, stdout, peakKiB });
    });
  });
}

function syncDisks(): Promise<void> {
  return new Promise((resolve, reject) => spawn("sync", { stdio: "ignore" }).on("close", () => resolve()).on("error", reject));
}

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

const fixture = await releaseFixture(
  { binaryBytes: BINARY_MIB * 1024 ** 2, mix: { random: 0.25, words: 0.45, zeros: 0.3 }, files: FILES },
  (line) => console.log(line),
);
const workDir = mkdtempSync(join(tmpdir(), "execpack-bench-fetch-"));
const server = await serveDirectory(fixture.dir);
try {
  const runner = await bundleRunner(workDir);
  const execpack = (format: "zip" | "tar.gz"): Case => ({
    name: `execpack ${format}`,
    format,
    run: async (scratch) => {
      const url = `${server.url}/${basename(format === "zip" ? fixture.zip : fixture.tarGz)}`;
      const result = await timed(process.execPath, [...NODE_FLAGS, runner, url, scratch], scratch, { ...process.env, MALLOC_ARENA_MAX: INSTALL_MALLOC_ARENA_MAX });
      const report = JSON.parse(result.stdout) as { downloadMs: number; extractMs: number; maxRssKiB: number; size: number };
      if (report.size !== fixture.binaryBytes) throw new Error(`installed ${report.size} bytes, expected ${fixture.binaryBytes}`);
      return { wallMs: result.wallMs, peakKiB: result.peakKiB ?? report.maxRssKiB, downloadMs: report.downloadMs, extractMs: report.extractMs };
    },
  });
  const tools = (format: "zip" | "tar.gz"): Case => ({
    name: format === "zip" ? "curl + unzip" : "curl + tar -xzf",
    format,
    run: async (scratch) => {
      const name = basename(format === "zip" ? fixture.zip : fixture.tarGz);
      const extract = format === "zip" ? 'unzip -q -o "$1" -d "$3"' : 'tar -xzf "$1" -C "$3"';
      mkdirSync(join(scratch, "out"));
      const script = `curl -sSf -o "$1" "$2" && ${extract}`;
      const result = await timed("bash", ["-c", script, "bash", join(scratch, name), `${server.url}/${name}`, join(scratch, "out")], scratch);
      if (statSync(join(scratch, "out", fixture.entry)).size !== fixture.binaryBytes) throw new Error(`${name}: wrong size extracted`);
      return { wallMs: result.wallMs, peakKiB: result.peakKiB };
    },
  });
  const bare: Case = {
    name: "bare Node.js zip",
    format: "zip",
    run: async (scratch) => {
      const result = await timed(process.execPath, [join(REPO, "bench/fetch-bare.cjs"), `${server.url}/${basename(fixture.zip)}`, scratch], scratch);
      if ((JSON.parse(result.stdout) as { size: number }).size !== fixture.binaryBytes) throw new Error("bare Node.js installed the wrong size");
      return { wallMs: result.wallMs, peakKiB: result.peakKiB };
    },
  };
  // The bare program extracts one entry: beside other files it would not do the same work.
  const cases = [execpack("zip"), ...(FILES ? [] : [bare]), tools("zip"), execpack("tar.gz"), tools("tar.gz")];

  const samples = new Map<string, Sample[]>(cases.map((item) => [item.name, []]));
  for (let run = 0; run <= RUNS; run += 1) {
    for (const item of cases) {
      const scratch = mkdtempSync(join(workDir, "run-"));
      await syncDisks();
      const sample = await item.run(scratch);
      rmSync(scratch, { recursive: true, force: true });
      if (run > 0) samples.get(item.name)!.push(sample); // run 0 warms the page cache and the runner's code
    }
  }

  const archiveSize = (format: "zip" | "tar.gz") => statSync(format === "zip" ? fixture.zip : fixture.tarGz).size;
  const flags = `, execpack with ${NODE_FLAGS.length ? NODE_FLAGS.join(" ") : "no flags"}`;
  console.log(`\nfetch + extract of a ${mib(fixture.binaryBytes)} ELF${FILES ? ` and ${FILES} small files` : ""} from loopback, median of ${RUNS} runs, Node ${process.version}${flags}, ${GNU_TIME ? "peak RSS by GNU time" : "peak RSS of the execpack process only"}`);
  console.log(`archives: zip ${mib(archiveSize("zip"))}, tar.gz ${mib(archiveSize("tar.gz"))}\n`);
  console.log(`${pad("case", 18, true)}${pad("wall ms", 10)}${pad("vs tools", 10)}${pad("download", 10)}${pad("extract", 10)}${pad("peak RSS", 11)}`);
  for (const item of cases) {
    const list = samples.get(item.name)!;
    const wall = median(list.map((sample) => sample.wallMs));
    const tool = cases.find((other) => other.format === item.format && other.name.startsWith("curl"))!;
    const ratio = wall / median(samples.get(tool.name)!.map((sample) => sample.wallMs));
    const phase = (key: "downloadMs" | "extractMs") => (list[0]?.[key] === undefined ? "" : median(list.map((sample) => sample[key]!)).toFixed(0));
    const peaks = list.map((sample) => sample.peakKiB).filter((value) => value !== undefined);
    const peak = peaks.length ? `${(Math.max(...peaks) / 1024).toFixed(0)} MiB` : "n/a";
    console.log(`${pad(item.name, 18, true)}${pad(wall.toFixed(0), 10)}${pad(`${ratio.toFixed(2)}x`, 10)}${pad(phase("downloadMs"), 10)}${pad(phase("extractMs"), 10)}${pad(peak, 11)}`);
  }
  console.log("\ntargets (issue 9): execpack ≤ 1.2x of curl + the extractor at 10 MiB, ≤ 1.0x from 60 MiB; peak RSS is the largest over the runs");
  console.log("a tar.gz is extracted while it downloads: its download column holds the extraction too");
} finally {
  await server.close();
  rmSync(workDir, { recursive: true, force: true });
}
