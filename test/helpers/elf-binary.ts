/**
 * Executables for archive tests: one real ELF compiled by `cc` for this machine (once per run, cached in the
 * temp directory by the hash of its source), and hand-made headers of the things a release also holds:
 * ELF for other machines, Mach-O, PE, scripts.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dynoArchitecture } from "../../src/archive/elf.js";
import type { Architecture } from "../../src/archive/elf.js";

export const HELLO_OUTPUT = "hello from execpack";

const SOURCE = `#include <stdio.h>\nint main(void) { puts("${HELLO_OUTPUT}"); return 0; }\n`;

let compiled: Buffer | undefined;

/** A real, runnable ELF for this machine. Parallel test files race safely: each renames a complete file. */
export function helloElf(): Buffer {
  if (compiled) return compiled;
  const hash = createHash("sha256").update(SOURCE).digest("hex").slice(0, 12);
  const directory = join(tmpdir(), `execpack-test-elf-${hash}`);
  const binary = join(directory, "hello");
  if (!existsSync(binary)) {
    mkdirSync(directory, { recursive: true });
    const source = join(directory, `hello-${process.pid}.c`);
    const output = join(directory, `hello-${process.pid}.tmp`);
    writeFileSync(source, SOURCE);
    execFileSync("cc", ["-Os", "-o", output, source]);
    renameSync(output, binary);
  }
  compiled = readFileSync(binary);
  return compiled;
}

/**
 * The kinds of ELF a release may hold that are all "shared" (ET_DYN) to a header, and a plain executable,
 * each built by this machine's `cc` from one source: a PIE program (PT_INTERP), a static PIE (no PT_INTERP,
 * DF_1_PIE), a shared library (`cc -shared`, entry 0), one given an entry point (`-Wl,-e,main`: still no
 * interpreter and no DF_1_PIE), and ET_EXEC (`-no-pie`).
 */
export type ElfKind = "pie" | "static-pie" | "library" | "library-with-entry" | "no-pie";

const KIND_FLAGS: Record<ElfKind, string[]> = {
  pie: ["-fPIE", "-pie"],
  "static-pie": ["-fPIE", "-static-pie"],
  library: ["-fPIC", "-shared"],
  "library-with-entry": ["-fPIC", "-shared", "-Wl,-e,main"],
  "no-pie": ["-fno-PIE", "-no-pie"],
};

const built = new Map<ElfKind, Buffer | undefined>();

/** The ELF of that kind for this machine, or undefined where this `cc` cannot build it (static-pie needs glibc's static libc). */
export function compiledElf(kind: ElfKind): Buffer | undefined {
  if (built.has(kind)) return built.get(kind);
  const hash = createHash("sha256").update(SOURCE).update(kind).digest("hex").slice(0, 12);
  const directory = join(tmpdir(), `execpack-test-elf-${hash}`);
  const binary = join(directory, kind);
  if (!existsSync(binary)) {
    mkdirSync(directory, { recursive: true });
    const source = join(directory, `source-${process.pid}.c`);
    const output = join(directory, `${kind}-${process.pid}.tmp`);
    writeFileSync(source, SOURCE);
    try {
      execFileSync("cc", ["-Os", ...KIND_FLAGS[kind], "-o", output, source], { stdio: "ignore" });
    } catch {
      built.set(kind, undefined);
      return undefined;
    }
    renameSync(output, binary);
  }
  built.set(kind, readFileSync(binary));
  return built.get(kind);
}

/** The architecture of this machine (and of helloElf), and one it is not. */
export const HOST_ARCHITECTURE: Architecture = dynoArchitecture();
export const OTHER_ARCHITECTURE: Architecture = HOST_ARCHITECTURE === "x86_64" ? "aarch64" : "x86_64";

/** How release assets name each architecture. */
export const ASSET_ARCH: Record<Architecture, string> = { x86_64: "amd64", aarch64: "arm64" };

const E_MACHINE: Record<string, number> = { x86_64: 62, aarch64: 183, x86: 3, arm: 40, riscv: 243 };
const E_TYPE: Record<string, number> = { relocatable: 1, executable: 2, shared: 3, core: 4 };

export interface HeaderSpec {
  machine?: string;
  class?: 32 | 64;
  type?: string;
  endianness?: "little" | "big";
}

/** A 64-byte ELF header (plus a little body) that is exactly what the fields say and nothing more. */
export function elfHeader(spec: HeaderSpec = {}): Buffer {
  const bytes = Buffer.alloc(128);
  const little = (spec.endianness ?? "little") === "little";
  bytes.set([0x7f, 0x45, 0x4c, 0x46], 0);
  bytes[4] = spec.class === 32 ? 1 : 2;
  bytes[5] = little ? 1 : 2;
  bytes[6] = 1; // EI_VERSION
  const write16 = (value: number, offset: number) =>
    little ? bytes.writeUInt16LE(value, offset) : bytes.writeUInt16BE(value, offset);
  write16(E_TYPE[spec.type ?? "executable"] ?? 2, 16);
  write16(E_MACHINE[spec.machine ?? "x86_64"] ?? 0, 18);
  return bytes;
}

/** Header bytes of a 64-bit Mach-O for arm64 (magic 0xfeedfacf, little-endian on disk). */
export function machO(): Buffer {
  const bytes = Buffer.alloc(128);
  bytes.writeUInt32LE(0xfeedfacf, 0);
  bytes.writeUInt32LE(0x0100000c, 4);
  return bytes;
}

/** An MZ stub, the start of every Windows PE. */
export function windowsPe(): Buffer {
  const bytes = Buffer.alloc(128);
  bytes.write("MZ", 0, "latin1");
  return bytes;
}

export function shellScript(): Buffer {
  return Buffer.from("#!/bin/sh\nexec ./app \"$@\"\n");
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
