/**
 * The boot-time fetch's own process (BINARY_FETCH=boot): started by `execpack` (boot/boot-fetch.ts), which
 * boots whatever this reports, or the build-time binary when this fails in any way, a crash included.
 * Usage: node boot-fetch.cjs <install-root> <app-dir> <id> <deadline-epoch-ms> [<tag-installed-at-build>]
 * Prints one JSON line on stdout: {"manifest": …} or {"error": {code, summary, seen, hint}}.
 *    or: node boot-fetch.cjs --compile-cache-only   loads this bundle and exits: bin/compile runs it with
 *        NODE_COMPILE_CACHE to keep V8's code for it in the slug (lib/bootstrapper.sh)
 */
import { writeSync } from "node:fs";
import { fetchRelease } from "../boot/fetch-release.js";
import { isExecpackError } from "../common/errors.js";
import { runMain } from "../common/main.js";
import type { FetchReport } from "../boot/boot-fetch.js";

void runMain(async () => {
  if (process.argv[2] === "--compile-cache-only") return 0; // loading the bundle was the work
  const [root, appDir, id, deadline, builtTag] = process.argv.slice(2);
  if (!root || !appDir || !id || !deadline) throw new Error("usage: boot-fetch.cjs <install-root> <app-dir> <id> <deadline-epoch-ms>");
  try {
    const manifest = await fetchRelease({ root, appDir, id, deadline: Number(deadline), builtTag }, process.env);
    writeSync(1, `${JSON.stringify({ manifest })}\n`);
    return 0;
  } catch (error) {
    if (!isExecpackError(error)) throw error; // a bug: the top-level handler reports it, and the boot falls back
    const report: FetchReport = { error: { code: error.code, summary: error.message, seen: [...error.seen], hint: error.hint } };
    writeSync(1, `${JSON.stringify(report)}\n`);
    return 1;
  }
});
