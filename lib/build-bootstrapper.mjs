// Builds the bootstrapper for the slug at compile time: every src/**/*.ts becomes a .js file with its
// types stripped by Node's own module.stripTypeScriptTypes. Nothing is transpiled at boot, tsx and
// TypeScript are not needed, and the source uses only erasable syntax (tsconfig: erasableSyntaxOnly).
// Usage: node lib/build-bootstrapper.mjs <buildpack-dir> <target-dir>
import { mkdirSync, readdirSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { join, relative, dirname } from "node:path";

const [buildpackDir, targetDir] = process.argv.slice(2);
if (!buildpackDir || !targetDir) {
  console.error("usage: build-bootstrapper.mjs <buildpack-dir> <target-dir>");
  process.exit(2);
}

function* typeScriptFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* typeScriptFiles(path);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) yield path;
  }
}

const sourceDir = join(buildpackDir, "src");
let count = 0;
for (const file of typeScriptFiles(sourceDir)) {
  const output = join(targetDir, "src", relative(sourceDir, file)).replace(/\.ts$/, ".js");
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, stripTypeScriptTypes(readFileSync(file, "utf8"), { mode: "strip" }));
  count += 1;
}
for (const name of ["package.json", "package-lock.json"]) {
  copyFileSync(join(buildpackDir, name), join(targetDir, name));
}
process.stdout.write(`${count}\n`);
