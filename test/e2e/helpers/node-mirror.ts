/**
 * A mirror of the Node.js distribution site's layout for one release, built from the Node.js that runs the
 * tests (the `node` dev dependency, the very version lib/nodejs.sh pins) and this machine's npm:
 * v<version>/node-v<version>-linux-x64.tar.gz and v<version>/SHASUMS256.txt. Built once, kept in tmp.
 * nodeMirrorWithArm64() serves v<version>/node-v<version>-linux-arm64.tar.gz beside it, for builds of arm64
 * images: the official linux-arm64 `bin/node` of the same release (npm-packages.ts), with its SHASUMS256.txt
 * line like any other.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, linkSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { officialArm64Node, pinnedNodeVersion } from "./npm-packages.js";

export { pinnedNodeVersion };

function npmDirectory(): string {
  const npmCli = realpathSync(execFileSync("bash", ["-c", "command -v npm"], { encoding: "utf8" }).trim());
  return dirname(dirname(npmCli)); // …/node_modules/npm/bin/npm-cli.js → …/node_modules/npm
}

function sha256Of(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/**
 * Returns the mirror's root directory (serve it and set NODEJS_ORG_MIRROR to its URL). Built once, into a
 * directory renamed into place when complete: several test runs may share the temp directory.
 */
export function nodeMirror(): string {
  const version = pinnedNodeVersion();
  const root = join(tmpdir(), `execpack-test-node-mirror-3-${version}`);
  const name = `node-v${version}-linux-x64`;
  if (existsSync(join(root, `v${version}`, "SHASUMS256.txt"))) return root;
  if (process.version !== `v${version}`) {
    throw new Error(`The tests run on Node ${process.version} but lib/nodejs.sh pins ${version}; keep the node dev dependency in step`);
  }

  const partial = `${root}.${process.pid}`;
  const releaseDir = join(partial, `v${version}`);
  const staging = join(partial, "staging");
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(join(staging, name, "bin"), { recursive: true });
  cpSync(process.execPath, join(staging, name, "bin/node"));
  cpSync(npmDirectory(), join(staging, name, "lib/node_modules/npm"), { recursive: true });
  symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(staging, name, "bin/npm"));
  mkdirSync(releaseDir, { recursive: true });
  const tarball = join(releaseDir, `${name}.tar.gz`);
  execFileSync("tar", ["-I", "gzip -1", "-cf", tarball, "-C", staging, name]);
  rmSync(staging, { recursive: true, force: true });
  writeFileSync(join(releaseDir, "SHASUMS256.txt"), `${"0".repeat(64)}  node-v${version}-darwin-arm64.tar.gz\n${sha256Of(tarball)}  ${name}.tar.gz\n`);
  moveIntoPlace(partial, root);
  return root;
}

/** Renames a finished directory into place; when another test run finished the same one first, that one is kept. */
function moveIntoPlace(partial: string, root: string): void {
  try {
    renameSync(partial, root);
  } catch {
    // The other run's directory is identical: use it.
    rmSync(partial, { recursive: true, force: true });
  }
}

/**
 * nodeMirror() plus the release's linux-arm64 tarball, holding the official arm64 `bin/node`. Built once into
 * a directory of its own (renamed into place when complete: several test runs may share the temp directory).
 */
export function nodeMirrorWithArm64(): string {
  const version = pinnedNodeVersion();
  const root = join(tmpdir(), `execpack-test-node-mirror-arm64-${version}`);
  if (existsSync(join(root, `v${version}`, "SHASUMS256.txt"))) return root;
  const x64 = join(nodeMirror(), `v${version}`);
  const partial = `${root}.${process.pid}`;
  const releaseDir = join(partial, `v${version}`);
  const name = `node-v${version}-linux-arm64`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(join(partial, "staging", name, "bin"), { recursive: true });
  mkdirSync(releaseDir);
  const official = officialArm64Node();
  cpSync(join(official, "bin/node"), join(partial, "staging", name, "bin/node"));
  cpSync(join(official, "LICENSE"), join(partial, "staging", name, "LICENSE"));
  const tarball = join(releaseDir, `${name}.tar.gz`);
  execFileSync("tar", ["-I", "gzip -1", "-cf", tarball, "-C", join(partial, "staging"), name]);
  rmSync(join(partial, "staging"), { recursive: true, force: true });
  linkSync(join(x64, `node-v${version}-linux-x64.tar.gz`), join(releaseDir, `node-v${version}-linux-x64.tar.gz`));
  writeFileSync(join(releaseDir, "SHASUMS256.txt"), `${readFileSync(join(x64, "SHASUMS256.txt"), "utf8")}${sha256Of(tarball)}  ${name}.tar.gz\n`);
  moveIntoPlace(partial, root);
  return root;
}
