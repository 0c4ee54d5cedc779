/**
 * arm64 programs run on this amd64 machine as an arm64 dyno runs them, under qemu-user (Debian's
 * qemu-user-static):
 *   - arm64Sysroot(): the arm64 C runtime a dynamically linked arm64 program (the official Node.js) needs,
 *     from Debian's cross packages (debian-packages.ts), for `qemu-aarch64-static -L <sysroot>`;
 *   - viaAarch64Binfmt(): a command prefix under which the kernel itself hands every arm64 ELF to qemu, so that
 *     a process exec'ing one (the launcher its Node.js, the bootstrapper the binary) keeps its PID as on arm64.
 *     The registration lives in a binfmt_misc instance of a new user namespace (Linux 6.7+), so nothing of the
 *     machine's own binfmt_misc is read or changed, and it goes away with the process.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QEMU_AARCH64 } from "../../helpers/arm64.js";
import { ARM64_RUNTIME_PACKAGES, debianPackage, debianVersion } from "./debian-packages.js";

/** The arm64 runtime's root (lib/ld-linux-aarch64.so.1, lib/libc.so.6, lib/libstdc++.so.6...), built once. */
export function arm64Sysroot(): string {
  const roots = ARM64_RUNTIME_PACKAGES.map((name) => debianPackage(name));
  const key = ARM64_RUNTIME_PACKAGES.map((name) => `${name}_${debianVersion(name)}`).join("+");
  const merged = join(tmpdir(), "execpack-arm64-sysroot", key.replaceAll(/[^\w.+-]/g, "_"));
  const sysroot = join(merged, "usr/aarch64-linux-gnu");
  if (existsSync(join(sysroot, "lib/ld-linux-aarch64.so.1"))) return sysroot;
  const partial = `${merged}.${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  for (const root of roots) cpSync(root, partial, { recursive: true, verbatimSymlinks: true });
  try {
    renameSync(partial, merged);
  } catch {
    // Another test run built the same sysroot first: use that one.
    rmSync(partial, { recursive: true, force: true });
  }
  return sysroot;
}

// The ELF header of an aarch64 executable (EM_AARCH64 = 0xb7), as Debian's binfmt rule for qemu-aarch64 matches it.
const AARCH64_MAGIC = "\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00";
const AARCH64_MASK = "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff";

/**
 * Run in the new namespaces: mounts their own binfmt_misc, registers qemu for aarch64 ELFs with the flags
 * F (qemu opened now) and P (argv[0] kept), then execs `<file>` as `<argv0>` with its arguments.
 */
const REGISTER_AND_EXEC = `set -e
qemu="$1" sysroot="$2" argv0="$3" file="$4"
shift 4
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
printf '%s' ':execpack-test-aarch64:M::${AARCH64_MAGIC}:${AARCH64_MASK}:'"$qemu"':FP' >/proc/sys/fs/binfmt_misc/register
export QEMU_LD_PREFIX="$sysroot"
exec -a "$argv0" "$file" "$@"`;

/** A prefix for LaunchOptions.via: appended `<argv0> <file> <args...>`, it execs the file in place, arm64 ELFs under qemu. */
export function viaAarch64Binfmt(sysroot = arm64Sysroot()): readonly string[] {
  if (!QEMU_AARCH64) throw new Error("qemu-aarch64-static is not installed");
  return ["unshare", "--user", "--map-root-user", "--mount", "--", "bash", "-c", REGISTER_AND_EXEC, "aarch64-binfmt", QEMU_AARCH64, sysroot];
}

/** Why viaAarch64Binfmt() cannot work here, or undefined when it can (tried once with /bin/true). */
export function aarch64BinfmtUnavailable(): string | undefined {
  if (!QEMU_AARCH64) return "no qemu-aarch64-static here";
  const [command, ...args] = viaAarch64Binfmt("/nonexistent"); // the runtime is not needed to try
  const tried = spawnSync(command!, [...args, "true", "/bin/true"], { encoding: "utf8" });
  if (tried.status === 0) return undefined;
  return `binfmt_misc cannot be mounted in a new user namespace here (Linux 6.7+ and unshare needed): ${(tried.stderr || String(tried.error)).trim()}`;
}
