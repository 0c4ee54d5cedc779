/**
 * Real programs no one here wrote, from Debian's packages: `apt-get download NAME` and `dpkg-deb -x`, cached
 * under the temp directory by package name (the .deb's file name carries its version), then rearranged into
 * the layout their upstream projects publish. A package that cannot be fetched fails the test loudly: these
 * tests never skip. `.ci/run` fetches them before the suite (`tsx test/e2e/helpers/debian-packages.ts NAME...`).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CACHE = join(tmpdir(), "execpack-debian-packages");

/** The packages the real-release tests use. */
export const TEST_PACKAGES = ["prometheus", "busybox", "postgresql-client-15", "lzop", "liblzo2-2"] as const;

/** The arm64 C runtime that the official arm64 Node.js needs under qemu-user (arm64-runtime.ts): Debian's cross packages, for any host. */
export const ARM64_RUNTIME_PACKAGES = ["libc6-arm64-cross", "libstdc++6-arm64-cross", "libgcc-s1-arm64-cross"] as const;

function run(command: string, args: readonly string[], cwd: string): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? String(result.error) : ""}` };
}

/** The package's files, extracted (`<root>/usr/bin/...`), fetching it first when it is not cached. */
export function debianPackage(name: string): string {
  const dir = join(CACHE, name);
  const root = join(dir, "root");
  if (existsSync(join(dir, "complete"))) return root;
  mkdirSync(dir, { recursive: true });
  let deb = readdirSync(dir).find((file) => file.endsWith(".deb"));
  if (!deb) {
    let fetched = run("apt-get", ["download", name], dir);
    if (!fetched.ok) {
      run("apt-get", ["update", "-qq"], dir); // the package lists may not be there yet
      fetched = run("apt-get", ["download", name], dir);
    }
    deb = readdirSync(dir).find((file) => file.endsWith(".deb"));
    if (!fetched.ok || !deb) {
      throw new Error(`The Debian package "${name}" could not be fetched; these tests need it (run .ci/run, or apt-get download ${name}):\n${fetched.output}`);
    }
  }
  const partial = join(dir, `root.${process.pid}`);
  rmSync(partial, { recursive: true, force: true });
  const extracted = run("dpkg-deb", ["-x", join(dir, deb), partial], dir);
  if (!extracted.ok) throw new Error(`dpkg-deb -x ${deb} failed:\n${extracted.output}`);
  rmSync(root, { recursive: true, force: true });
  renameSync(partial, root);
  writeFileSync(join(dir, "complete"), `${deb}\n`);
  return root;
}

/** The Debian version of a cached package, as its .deb's file name gives it (`2.42.0+ds-5+deb12u1`). */
export function debianVersion(name: string): string {
  const deb = readdirSync(join(CACHE, name)).find((file) => file.endsWith(".deb")) ?? "";
  return decodeURIComponent(deb.split("_")[1] ?? "").replace(/^\d+:/, "");
}

if (process.argv[1]?.endsWith("debian-packages.ts")) {
  for (const name of process.argv.length > 2 ? process.argv.slice(2) : [...TEST_PACKAGES, ...ARM64_RUNTIME_PACKAGES]) console.log(`${name}: ${debianPackage(name)}`);
}
