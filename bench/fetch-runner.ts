/**
 * The child process of bench/fetch.ts: one installRelease, exactly as the compile step runs it (download
 * with its checksum and atomic write, then choose and extract the binary into a scratch slug), with nothing
 * else in the process so its peak RSS is the fetch's. bench/fetch.ts bundles this file with esbuild the way
 * lib/build-bootstrapper.mjs bundles the bootstrapper, so no TypeScript loader runs in the timed process.
 * Usage: node fetch-runner.cjs <binary-url> <scratch-dir>
 * Prints one JSON line: { downloadMs, extractMs, maxRssKiB, sha256, size }.
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { readBinarySettings } from "../src/common/config.js";
import { installRelease } from "../src/install/install.js";
import { slugPaths } from "../src/install/slug.js";

async function main(): Promise<void> {
  const [url, scratch] = process.argv.slice(2);
  if (!url || !scratch) throw new Error("usage: fetch-runner <binary-url> <scratch-dir>");
  const start = performance.now();
  let downloaded = start;
  const manifest = await installRelease({
    settings: readBinarySettings({ BINARY_URL: url }),
    paths: slugPaths(join(scratch, "app")),
    cacheDir: join(scratch, "cache"),
    // installRelease logs "Release: …" once the download is complete and verified: before extracting a zip,
    // after extracting a tar.gz, which is extracted while it downloads (so its "extract" phase is the install's
    // last steps alone).
    log: (line) => {
      if (line.startsWith("Release:") && line.includes("sha256")) downloaded = performance.now();
    },
  });
  const end = performance.now();
  const report = {
    downloadMs: downloaded - start,
    extractMs: end - downloaded,
    maxRssKiB: process.resourceUsage().maxRSS,
    sha256: manifest.sha256,
    size: manifest.size,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
