/**
 * Starts the profile step (profile.cjs, boot/profile.ts) from V8's code cache. The step runs at every dyno
 * start, and most of what it costs beyond a bare Node.js start is V8 compiling its functions the first time each
 * is called: a cache made after a run (lib/slug.sh runs this with --write-code-cache at build time) holds them
 * compiled, so a dyno start skips that (bench/boot.ts). Node's own compile cache (NODE_COMPILE_CACHE) is made
 * before the code runs, so it holds only the top level, and it records the build's absolute path in the slug.
 *
 * The bundle is compiled under a fixed name, so the cache holds no path of the build machine; V8 rejects a cache
 * made by another Node.js or for another source, and the step then compiles as usual. The cache is only ever
 * read here, and written at build time.
 * Usage: node profile-loader.cjs RECORD [--write-code-cache]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";

const self = fileURLToPath(import.meta.url);
const bundle = join(dirname(self), "profile.cjs");
const cacheFile = join(dirname(dirname(self)), "profile-code-cache");
const source = readFileSync(bundle, "utf8");
let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // No cache (a build that could not make one): the step compiles as it goes, nothing else changes.
}
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: "execpack/bootstrapper/profile.cjs",
  cachedData,
});
if (process.argv[3] === "--write-code-cache") {
  process.on("exit", () => writeFileSync(cacheFile, script.createCachedData()));
}
const module = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
