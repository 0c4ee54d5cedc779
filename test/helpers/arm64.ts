/**
 * arm64 code on this (amd64) machine: real aarch64 ELFs from Debian's cross compiler (gcc-aarch64-linux-gnu),
 * linked statically so qemu-user (qemu-user-static) runs them without an arm64 root; without the compiler, a
 * bare aarch64 ELF header stands in (it is chosen and installed like a real one, but nothing can run it).
 * Cached in the temp directory by the hash of the source.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { elfHeader } from "./elf-binary.js";

function onPath(command: string): string | undefined {
  const found = spawnSync("bash", ["-c", `command -v ${command}`], { encoding: "utf8" }).stdout.trim();
  return found || undefined;
}

export const CROSS_COMPILER = onPath("aarch64-linux-gnu-gcc");
export const QEMU_AARCH64 = onPath("qemu-aarch64-static") ?? onPath("qemu-aarch64");

/** An aarch64 executable built from C source: real when the cross compiler is here, else a header only. */
export function arm64Executable(source: string): { bytes: Buffer; real: boolean } {
  if (!CROSS_COMPILER) return { bytes: Buffer.concat([elfHeader({ machine: "aarch64" }), Buffer.alloc(4096)]), real: false };
  const digest = createHash("sha256").update(source).digest("hex").slice(0, 12);
  const dir = join(tmpdir(), `execpack-test-arm64-${digest}`);
  const output = join(dir, "program");
  if (!existsSync(output)) {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `program-${process.pid}.c`);
    writeFileSync(file, source);
    execFileSync(CROSS_COMPILER, ["-O2", "-static", "-o", `${output}.${process.pid}`, file], { stdio: "pipe" });
    renameSync(`${output}.${process.pid}`, output);
  }
  return { bytes: readFileSync(output), real: true };
}
