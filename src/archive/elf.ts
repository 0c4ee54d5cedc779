/**
 * What a file is, from its first bytes: an ELF header says whether a dyno can run it; Mach-O, PE and
 * script signatures only serve to tell the user what an archive held instead of a Linux binary.
 */
import { ExecpackError } from "../common/errors.js";

/** The CPU architectures Heroku dynos run on, named as ELF tools and release assets name them. */
export type Architecture = "x86_64" | "aarch64";

export interface ElfHeader {
  class: 32 | 64;
  /** `(string & {})` keeps the known names offered by editors while allowing any other. */
  machine: Architecture | (string & {});
  /** PIE executables are "shared" too: e_type alone cannot tell them from a library. */
  type: "executable" | "shared" | (string & {});
  endianness: "little" | "big";
}

/** Bytes a caller must read to classify a file: the whole 64-bit ELF header. */
export const ELF_HEADER_BYTES = 64;

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46]; // "\x7fELF"

/** e_machine values (System V ABI); the names follow `uname -m` so they match asset names. */
const MACHINES: ReadonlyMap<number, string> = new Map([
  [2, "sparc"],
  [3, "x86"],
  [8, "mips"],
  [20, "powerpc"],
  [21, "powerpc64"],
  [22, "s390x"],
  [40, "arm"],
  [43, "sparc64"],
  [62, "x86_64"],
  [183, "aarch64"],
  [243, "riscv"],
  [258, "loongarch"],
]);

const TYPES: ReadonlyMap<number, string> = new Map([
  [1, "relocatable"],
  [2, "executable"],
  [3, "shared"],
  [4, "core"],
]);

export function isElf(bytes: Uint8Array): boolean {
  return startsWith(bytes, ELF_MAGIC);
}

/** Parses the ELF identification and header fields; undefined when the bytes are not a complete ELF header. */
export function readElfHeader(bytes: Uint8Array): ElfHeader | undefined {
  if (!isElf(bytes)) return undefined;
  const elfClass = bytes[4] === 1 ? 32 : bytes[4] === 2 ? 64 : undefined;
  const endianness = bytes[5] === 1 ? "little" : bytes[5] === 2 ? "big" : undefined;
  if (elfClass === undefined || endianness === undefined) return undefined;
  // A 32-bit header is 52 bytes, a 64-bit one 64: anything shorter is a truncated file, not a program.
  if (bytes.length < (elfClass === 64 ? 64 : 52)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = endianness === "little";
  const type = view.getUint16(16, little);
  const machine = view.getUint16(18, little);
  return {
    class: elfClass,
    machine: MACHINES.get(machine) ?? `machine ${machine}`,
    type: TYPES.get(type) ?? `type ${type}`,
    endianness,
  };
}

/**
 * The architecture a build targets when it is not this machine's: a Cloud Native Buildpack build is told the
 * image's (CNB_TARGET_ARCH, `amd64` or `arm64`), and bin/build sets it here before installing. Unset, the
 * dyno is this machine: classic builds, and every boot.
 */
let targetNodeArch: string | undefined;

/** CNB_TARGET_ARCH's names (Go's GOARCH: amd64, arm64) in Node's terms; empty means this machine. */
export function useTargetArchitecture(cnbArch: string | undefined): void {
  const names: Record<string, string> = { amd64: "x64", x86_64: "x64", arm64: "arm64", aarch64: "arm64" };
  targetNodeArch = cnbArch ? (names[cnbArch] ?? cnbArch) : undefined;
  if (targetNodeArch !== undefined) dynoArchitecture(); // an unknown one fails here, with its code
}

/** The dyno's architecture in ELF terms. Heroku runs x86_64 dynos, and aarch64 on Fir. */
export function dynoArchitecture(nodeArch: string = targetNodeArch ?? process.arch): Architecture {
  if (nodeArch === "x64") return "x86_64";
  if (nodeArch === "arm64") return "aarch64";
  throw new ExecpackError("platform.unsupported-architecture", `execpack does not run on "${nodeArch}" machines`, {
    seen: [`process.arch: "${nodeArch}"`],
    hint: "Heroku dynos are x86_64 (amd64) or aarch64 (arm64); execpack only installs binaries for those.",
  });
}

export function isRunnableOn(header: ElfHeader, architecture: Architecture): boolean {
  return (
    header.class === 64 &&
    header.endianness === "little" &&
    header.machine === architecture &&
    (header.type === "executable" || header.type === "shared")
  );
}

/**
 * A few words saying what a file is, for messages: "ELF x86_64", "ELF 32-bit arm", "macOS Mach-O arm64",
 * "Windows PE", "script (#!/bin/sh)", "text", "data". Needs only the first ELF_HEADER_BYTES bytes.
 */
export function describeFile(bytes: Uint8Array): string {
  if (bytes.length === 0) return "empty";
  if (isElf(bytes)) return describeElf(bytes);
  const machO = describeMachO(bytes);
  if (machO) return machO;
  if (startsWith(bytes, [0x4d, 0x5a])) return "Windows PE"; // "MZ"
  if (startsWith(bytes, [0x23, 0x21])) return `script (${firstLine(bytes)})`; // "#!"
  if (startsWith(bytes, [0x00, 0x05, 0x16, 0x07])) return "macOS metadata"; // AppleDouble, the __MACOSX/._* files
  if (startsWith(bytes, [0x00, 0x61, 0x73, 0x6d])) return "WebAssembly";
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return "zip archive";
  if (startsWith(bytes, [0x1f, 0x8b])) return "gzip data";
  if (startsWith(bytes, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return "xz data";
  return isText(bytes) ? "text" : "data";
}

function describeElf(bytes: Uint8Array): string {
  const header = readElfHeader(bytes);
  if (!header) return "ELF (truncated header)";
  const words = ["ELF"];
  if (header.class === 32) words.push("32-bit");
  words.push(header.machine);
  if (header.endianness === "big") words.push("big-endian");
  if (header.type !== "executable" && header.type !== "shared") words.push(header.type);
  return words.join(" ");
}

const MACHO_CPUS: ReadonlyMap<number, string> = new Map([
  [0x01000007, "x86_64"],
  [0x0100000c, "arm64"],
  [7, "i386"],
  [12, "arm"],
]);

function describeMachO(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  // 0xcafebabe is also a Java class file; a universal binary holds a handful of slices, a class file
  // stores its version (45 and up) in the same place.
  if (magic === 0xcafebabe || magic === 0xcafebabf) {
    return view.getUint32(4, false) < 45 ? "macOS universal Mach-O" : "Java class";
  }
  let littleEndian: boolean;
  if (magic === 0xcffaedfe || magic === 0xcefaedfe) littleEndian = true;
  else if (magic === 0xfeedfacf || magic === 0xfeedface) littleEndian = false;
  else return undefined;
  const cpu = MACHO_CPUS.get(view.getUint32(4, littleEndian));
  return cpu ? `macOS Mach-O ${cpu}` : "macOS Mach-O";
}

function firstLine(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString("latin1");
  const line = text.split(/[\r\n]/, 1)[0] ?? "";
  return line.length > 40 ? `${line.slice(0, 40)}...` : line;
}

/** Printable ASCII, whitespace and UTF-8 lead/continuation bytes: what a README or a config file holds. */
function isText(bytes: Uint8Array): boolean {
  for (const byte of bytes) {
    const printable = byte >= 0x20 && byte !== 0x7f;
    const whitespace = byte === 0x09 || byte === 0x0a || byte === 0x0d || byte === 0x0c;
    if (!printable && !whitespace) return false;
  }
  return true;
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, index) => bytes[index] === byte);
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_FLAGS_1 = 0x6ffffffbn;
const DF_1_PIE = 0x08000000n;
/** Program headers are read in one go up to this many bytes; real binaries have a few dozen at most. */
const MAX_PROGRAM_HEADER_BYTES = 64 * 1024;
/** The dynamic section is read up to this many bytes: DT_FLAGS_1 sits among its first few dozen entries. */
const MAX_DYNAMIC_BYTES = 64 * 1024;

export interface ProgramHeaders {
  /** The loader a dynamically linked executable asks the kernel for, or undefined for a static one. */
  interpreter: string | undefined;
  /** The header table or a loaded segment lies beyond the end of the file: a cut-off download. */
  truncated: boolean;
  /** DT_FLAGS_1 holds DF_1_PIE: the linker made a position-independent executable, not a library. */
  pie: boolean;
  /** e_entry: where the kernel starts the program; a library built with `cc -shared` has 0. */
  entry: bigint;
}

/**
 * Reads the program headers of a 64-bit little-endian executable: its program interpreter
 * (`/lib64/ld-linux-x86-64.so.2` for glibc, `/lib/ld-musl-x86_64.so.1` for musl), whether the linker marked it
 * a PIE, and whether everything the kernel would map is inside the file. `read(position, length)` returns the
 * file's bytes there (fewer at its end).
 */
export function readProgramHeaders(header: Uint8Array, fileSize: number, read: (position: number, length: number) => Uint8Array): ProgramHeaders {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const entry = view.getBigUint64(24, true);
  const tableOffset = Number(view.getBigUint64(32, true));
  const entrySize = view.getUint16(54, true);
  const count = view.getUint16(56, true);
  const tableSize = entrySize * count;
  if (entrySize < 56 || tableSize > MAX_PROGRAM_HEADER_BYTES || tableOffset + tableSize > fileSize) {
    return { interpreter: undefined, truncated: tableOffset + tableSize > fileSize, pie: false, entry };
  }
  const table = read(tableOffset, tableSize);
  const entries = new DataView(table.buffer, table.byteOffset, table.byteLength);
  let interpreter: string | undefined;
  let pie = false;
  let truncated = table.length < tableSize;
  for (let base = 0; base + entrySize <= table.length; base += entrySize) {
    const type = entries.getUint32(base, true);
    const offset = Number(entries.getBigUint64(base + 8, true));
    const size = Number(entries.getBigUint64(base + 32, true));
    if ((type === PT_LOAD || type === PT_INTERP || type === PT_DYNAMIC) && offset + size > fileSize) truncated = true;
    else if (type === PT_INTERP) interpreter = Buffer.from(read(offset, Math.min(size, 4096))).toString("latin1").split("\0")[0];
    else if (type === PT_DYNAMIC) pie = hasPieFlag(read(offset, Math.min(size, MAX_DYNAMIC_BYTES)));
  }
  return { interpreter, truncated, pie, entry };
}

/** Whether a dynamic section (16-byte tag/value pairs up to DT_NULL) holds DF_1_PIE in its DT_FLAGS_1. */
function hasPieFlag(section: Uint8Array): boolean {
  const view = new DataView(section.buffer, section.byteOffset, section.byteLength);
  for (let base = 0; base + 16 <= section.length; base += 16) {
    const tag = view.getBigInt64(base, true);
    if (tag === DT_NULL) return false;
    if (tag === DT_FLAGS_1) return (view.getBigUint64(base + 8, true) & DF_1_PIE) !== 0n;
  }
  return false;
}

/**
 * A shared library, which the kernel would start and the program would crash in (a segfault at boot), as
 * opposed to a program that is "shared" (ET_DYN) too: a PIE asks for a program interpreter, and a static PIE,
 * which has none, is marked DF_1_PIE by its linker and has an entry point. Only a library has neither. A file
 * cut off before its headers end is not called a library: it is reported as damaged where it is checked.
 */
export function isSharedLibraryElf(header: ElfHeader, program: ProgramHeaders): boolean {
  if (header.type !== "shared" || program.truncated || program.interpreter !== undefined) return false;
  return !(program.pie && program.entry !== 0n);
}
