/**
 * A real, small tmpfs for disk-fault tests (a full disk, a read-only remount), where this user may mount one:
 * the machine's root runs the suite; elsewhere the tests that need it are skipped and say why.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh tmpfs of `size` ("2m") at a new directory, or undefined where mounting is not permitted. */
export function mountTmpfs(size: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "execpack-tmpfs-"));
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
  if (mounted.status === 0) return dir;
  rmSync(dir, { recursive: true, force: true });
  return undefined;
}

export function unmount(dir: string): void {
  execFileSync("umount", [dir]);
  rmSync(dir, { recursive: true, force: true });
}

export function remount(dir: string, mode: "ro" | "rw"): void {
  execFileSync("mount", ["-o", `remount,${mode}`, dir]);
}

/** Whether this process can mount a tmpfs (and, being root, make EACCES only by running a step as nobody). */
export const CAN_MOUNT_TMPFS: boolean = (() => {
  if (process.getuid?.() !== 0) return false;
  const probe = mountTmpfs("1m");
  if (probe === undefined) return false;
  unmount(probe);
  return true;
})();
