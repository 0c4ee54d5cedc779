/**
 * Can the kernel start this file on the dyno? An ELF for this machine whose program interpreter exists, or a
 * script whose `#!` interpreter exists. The boot asks right before execve (a failed execve aborts Node 24 with
 * status 134 instead of throwing), and the build asks to warn about a binary that would not start.
 */
import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { ExecpackError, isExecpackError } from "../common/errors.js";
import { escapeControl } from "../common/output.js";
import { describeFile, dynoArchitecture, isRunnableOn, isSharedLibraryElf, readElfHeader, readProgramHeaders } from "./elf.js";

export function assertExecutable(file: string): void {
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    // Reported below with a hint; the stat error itself adds nothing for the user.
  }
  if (!isFile) {
    throw new ExecpackError("boot.binary-missing", "The binary to start does not exist", {
      seen: [`expected: ${escapeControl(file)}`],
      hint: "The slug holds no installed binary. Check the build log of the last release, then push again.",
    });
  }
  try {
    accessSync(file, constants.X_OK);
  } catch (cause) {
    throw new ExecpackError("boot.binary-not-executable", "The binary is not executable", {
      seen: [`file: ${escapeControl(file)}`],
      hint: "Rebuild the app; execpack installs the binary with mode 0755.",
      cause,
    });
  }
  assertRunnableFormat(file);
}

/**
 * Whether the file is a shared library for this machine rather than a program (elf.ts isSharedLibraryElf),
 * whatever its name: the build reads it from the written release before choosing the binary and its commands.
 */
export function isSharedLibraryFile(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return false; // not there to read: nothing to say about it here
  }
  try {
    const head = readAt(fd, 0, 64);
    const header = readElfHeader(head);
    if (!header || header.type !== "shared" || header.class !== 64 || header.endianness !== "little") return false;
    return isSharedLibraryElf(header, readProgramHeaders(head, fstatSync(fd).size, (position, length) => readAt(fd, position, length)));
  } catch {
    return false; // headers whose numbers point nowhere: assertExecutable reports the file as damaged
  } finally {
    closeSync(fd);
  }
}

function readAt(fd: number, position: number, length: number): Uint8Array {
  const buffer = Buffer.alloc(length);
  return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
}

/**
 * Errors of assertExecutable that say the file itself is damaged (cut off, unreadable headers): as true on the
 * build machine as on any dyno, so the build fails on them instead of warning (install/install.ts).
 */
const DAMAGED = new WeakSet<object>();

export function isDamagedBinary(error: unknown): boolean {
  return typeof error === "object" && error !== null && DAMAGED.has(error);
}

function damaged(error: ExecpackError): ExecpackError {
  DAMAGED.add(error);
  return error;
}

function wrongFormat(file: string, format: string, hint: string): ExecpackError {
  return new ExecpackError("boot.binary-wrong-format", "The binary cannot run on this dyno", {
    // The file's path holds the archive's entry name, from outside: a line break in it must not start a line.
    seen: [`file: ${escapeControl(file)}`, `format: ${escapeControl(format)}`, `dyno: ${dynoArchitecture()}`],
    hint,
  });
}

/**
 * What the kernel needs to start the file must be there, since a failed execve aborts Node 24 (status 134):
 * an ELF for this machine whose program interpreter exists (a musl build asks for /lib/ld-musl-*, which
 * Heroku's Ubuntu stacks lack), or a script whose `#!` interpreter exists.
 */
function assertRunnableFormat(file: string): void {
  const fd = openSync(file, "r");
  try {
    const bytes = readAt(fd, 0, 256);
    if (bytes[0] === 0x23 && bytes[1] === 0x21) return assertInterpreter(file, scriptInterpreter(bytes), "script");
    const header = readElfHeader(bytes.subarray(0, 64));
    if (!header || !isRunnableOn(header, dynoArchitecture())) {
      throw wrongFormat(file, describeFile(bytes.subarray(0, 64)), "Point BINARY_URL at the Linux release for this architecture, or choose the entry with BINARY_NAME.");
    }
    const program = readProgramHeaders(bytes.subarray(0, 64), fstatSync(fd).size, (position, length) => readAt(fd, position, length));
    if (program.truncated) {
      throw damaged(wrongFormat(file, `ELF ${dynoArchitecture()}, cut off: parts the kernel loads lie past its end`, "The release file is incomplete. Check BINARY_URL and BINARY_SHA256, and build again."));
    }
    if (isSharedLibraryElf(header, program)) {
      // The kernel would start it and it would crash at once (a segfault): a library has no program to run.
      throw wrongFormat(file, `ELF ${dynoArchitecture()} shared library (no program interpreter, not a PIE)`, "This is a library, not a program. Point BINARY_NAME at the program of the release.");
    }
    assertInterpreter(file, program.interpreter, "ELF");
  } catch (error) {
    if (isExecpackError(error)) throw error;
    // A header whose numbers point nowhere makes the reads fail: that file cannot be exec'd either.
    throw damaged(wrongFormat(file, `unreadable executable (${(error as Error).message})`, "The release file looks damaged. Check BINARY_URL and BINARY_SHA256, and build again."));
  } finally {
    closeSync(fd);
  }
}

/** The interpreter path of a `#!` line; a CR left by Windows line endings is part of it, as for the kernel. */
function scriptInterpreter(bytes: Uint8Array): string {
  const line = Buffer.from(bytes).toString("latin1").slice(2).split("\n")[0] ?? "";
  return line.replace(/^[ \t]+/, "").split(/[ \t]/)[0] ?? "";
}

function assertInterpreter(file: string, interpreter: string | undefined, kind: "ELF" | "script"): void {
  if (interpreter === undefined || existsSync(interpreter)) return;
  const shown = JSON.stringify(interpreter);
  throw wrongFormat(
    file,
    kind === "ELF" ? `ELF ${dynoArchitecture()} needing the program interpreter ${shown}` : `script for the interpreter ${shown}`,
    kind === "ELF"
      ? `This stack has no ${shown}: the release was linked for another Linux (musl builds ask for /lib/ld-musl-*). Use its static or glibc build with BINARY_URL or BINARY_NAME.`
      : `This stack has no ${shown}${interpreter.endsWith("\r") ? " (the script has Windows line endings)" : ""}. Use a release whose start script names an interpreter the stack has.`,
  );
}
