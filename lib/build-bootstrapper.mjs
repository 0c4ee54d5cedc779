// Builds the bootstrapper for the slug at compile time: esbuild bundles each command of src/cli with the
// runtime dependencies into one CommonJS file. Nothing is transpiled at boot, and the slug gets no
// node_modules at all. One file per command keeps `execpack` start-up close to bare Node.js (see
// bench/boot.ts): loading a dozen ES modules cost more than all of execpack's work at boot.
// Usage: node lib/build-bootstrapper.mjs <buildpack-dir> <target-dir> <node_modules-dir>
import { createRequire } from "node:module";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const [buildpackDir, targetDir, nodeModulesDir] = process.argv.slice(2);
if (!buildpackDir || !targetDir || !nodeModulesDir) {
  console.error("usage: build-bootstrapper.mjs <buildpack-dir> <target-dir> <node_modules-dir>");
  process.exit(2);
}

const esbuild = createRequire(join(nodeModulesDir, "noop.js"))("esbuild");
const cli = join(buildpackDir, "src/cli");

const result = await esbuild.build({
  // Every command in src/cli becomes <name>.cjs; CommonJS has no top-level await, so entries use `void runMain(…)`.
  entryPoints: Object.fromEntries(readdirSync(cli).filter((name) => name.endsWith(".ts")).map((name) => [name.slice(0, -3), join(cli, name)])),
  outdir: targetDir,
  outExtension: { ".js": ".cjs" },
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node22",
  nodePaths: [nodeModulesDir],
  // The sources are ES modules that find their files from import.meta.url.
  define: { "import.meta.url": "__execpack_module_url" },
  banner: { js: 'const __execpack_module_url = require("node:url").pathToFileURL(__filename).href;' },
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
});
process.stdout.write(`${Object.keys(result.metafile.inputs).filter((input) => !input.includes("node_modules")).length}\n`);
