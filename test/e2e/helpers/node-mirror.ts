/**
 * A mirror of the Node.js distribution site's layout for one release, built from the Node.js that runs the
 * tests (the `node` dev dependency, the very version lib/nodejs.sh pins) and this machine's npm:
 * v<version>/node-v<version>-linux-x64.tar.gz and v<version>/SHASUMS256.txt. Built once, kept in tmp.
 * It also serves v<version>/node-v<version>-linux-arm64.tar.gz, for builds of arm64 images: its bin/node is a
 * stand-in, a static aarch64 program (test/helpers/arm64.ts) that answers --version like the pinned release,
 * with its SHASUMS256.txt line like any other. No real arm64 Node.js is reachable from the tests.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { arm64Executable } from "../../helpers/arm64.js";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));

export function pinnedNodeVersion(): string {
  const match = /NODEJS_VERSION="([0-9.]+)"/.exec(readFileSync(join(REPO, "lib/nodejs.sh"), "utf8"));
  if (!match?.[1]) throw new Error("lib/nodejs.sh pins no NODEJS_VERSION");
  return match[1];
}

function npmDirectory(): string {
  const npmCli = realpathSync(execFileSync("bash", ["-c", "command -v npm"], { encoding: "utf8" }).trim());
  return dirname(dirname(npmCli)); // …/node_modules/npm/bin/npm-cli.js → …/node_modules/npm
}

/** Returns the mirror's root directory (serve it and set NODEJS_ORG_MIRROR to its URL). */
export function nodeMirror(): string {
  const version = pinnedNodeVersion();
  const root = join(tmpdir(), `execpack-test-node-mirror-2-${version}`);
  const releaseDir = join(root, `v${version}`);
  const name = `node-v${version}-linux-x64`;
  if (existsSync(join(releaseDir, "SHASUMS256.txt")) && existsSync(join(releaseDir, `node-v${version}-linux-arm64.tar.gz`))) return root;
  if (process.version !== `v${version}`) {
    throw new Error(`The tests run on Node ${process.version} but lib/nodejs.sh pins ${version}; keep the node dev dependency in step`);
  }

  const staging = join(root, "staging");
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, name, "bin"), { recursive: true });
  cpSync(process.execPath, join(staging, name, "bin/node"));
  cpSync(npmDirectory(), join(staging, name, "lib/node_modules/npm"), { recursive: true });
  symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(staging, name, "bin/npm"));
  mkdirSync(releaseDir, { recursive: true });
  const tarball = join(releaseDir, `${name}.tar.gz`);
  execFileSync("tar", ["-I", "gzip -1", "-cf", tarball, "-C", staging, name]);
  rmSync(staging, { recursive: true, force: true });
  const sha256 = createHash("sha256").update(readFileSync(tarball)).digest("hex");
  const arm64 = arm64Tarball(root, releaseDir, version);
  writeFileSync(
    join(releaseDir, "SHASUMS256.txt"),
    `${"0".repeat(64)}  node-v${version}-darwin-arm64.tar.gz\n${arm64}  node-v${version}-linux-arm64.tar.gz\n${sha256}  ${name}.tar.gz\n`,
  );
  return root;
}

/** The arm64 stand-in's source: `node --version` prints the pinned version; anything else fails loudly. */
function standInSource(version: string): string {
  return `#include <stdio.h>\n#include <string.h>\nint main(int argc, char **argv) {\n  if (argc > 1 && strcmp(argv[1], "--version") == 0) { puts("v${version}"); return 0; }\n  fputs("stand-in for Node.js v${version} (linux-arm64): only --version\\n", stderr);\n  return 99;\n}\n`;
}

function arm64Tarball(root: string, releaseDir: string, version: string): string {
  const name = `node-v${version}-linux-arm64`;
  const staging = join(root, "staging-arm64");
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, name, "bin"), { recursive: true });
  writeFileSync(join(staging, name, "bin/node"), arm64Executable(standInSource(version)).bytes, { mode: 0o755 });
  const tarball = join(releaseDir, `${name}.tar.gz`);
  execFileSync("tar", ["-czf", tarball, "-C", staging, name]);
  rmSync(staging, { recursive: true, force: true });
  return createHash("sha256").update(readFileSync(tarball)).digest("hex");
}
