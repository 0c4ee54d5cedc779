/**
 * The hand-off: replace this process with the binary, like a Docker entrypoint's `exec "$@"`.
 * The binary keeps the PID, stdin/stdout/stderr, the working directory; signals and the exit status are its
 * own and nothing of Node stays resident.
 *
 * process.execve on Node 24 aborts the process (status 134) when the call fails instead of throwing, so
 * everything that can be checked is checked first, and output still buffered for a pipe is flushed first,
 * since execve discards it.
 */
import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, readSync, statSync, writeFileSync } from "node:fs";
import { ExecpackError, isExecpackError } from "../common/errors.js";
import { describeFile, dynoArchitecture, isRunnableOn, readElfHeader, readProgramHeaders } from "../archive/elf.js";

export function assertExecutable(file: string): void {
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    // Reported below with a hint; the stat error itself adds nothing for the user.
  }
  if (!isFile) {
    throw new ExecpackError("boot.binary-missing", "The binary to start does not exist", {
      seen: [`expected: ${file}`],
      hint: "The slug holds no installed binary. Check the build log of the last release, then push again.",
    });
  }
  try {
    accessSync(file, constants.X_OK);
  } catch (cause) {
    throw new ExecpackError("boot.binary-not-executable", "The binary is not executable", {
      seen: [`file: ${file}`],
      hint: "Rebuild the app; execpack installs the binary with mode 0755.",
      cause,
    });
  }
  assertRunnableFormat(file);
}

function readAt(fd: number, position: number, length: number): Uint8Array {
  const buffer = Buffer.alloc(length);
  return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
}

function wrongFormat(file: string, format: string, hint: string): ExecpackError {
  return new ExecpackError("boot.binary-wrong-format", "The binary cannot run on this dyno", {
    seen: [`file: ${file}`, `format: ${format}`, `dyno: ${dynoArchitecture()}`],
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
      throw wrongFormat(file, `ELF ${dynoArchitecture()}, cut off: parts the kernel loads lie past its end`, "The release file is incomplete. Check BINARY_URL and BINARY_SHA256, and build again.");
    }
    assertInterpreter(file, program.interpreter, "ELF");
  } catch (error) {
    if (isExecpackError(error)) throw error;
    // A header whose numbers point nowhere makes the reads fail: that file cannot be exec'd either.
    throw wrongFormat(file, `unreadable executable (${(error as Error).message})`, "The release file looks damaged. Check BINARY_URL and BINARY_SHA256, and build again.");
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

/** Resolves once everything written to stdout and stderr has left the process. */
export async function flushStdio(): Promise<void> {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (stream) =>
        new Promise<void>((resolve) => {
          if (stream.writableLength === 0) resolve();
          else stream.write("", () => resolve());
        }),
    ),
  );
}

/**
 * The shell hand-off, for a Node.js without process.execve: the launcher (launchers/execpack-shell) names a
 * plan file in EXECPACK_INTERNAL_PLAN, Node writes the binary, its argv[0] and its environment there
 * (NUL-separated) and exits, and the launcher's bash does the final `exec`. The binary still takes over the
 * launcher's PID and no parent is left behind. EXECPACK_INTERNAL_* never reaches the binary (environment/environment.ts).
 */
export const PLAN_VARIABLE = "EXECPACK_INTERNAL_PLAN";

function writePlan(planFile: string, file: string, argv0: string, env: Readonly<Record<string, string>>): void {
  const fields = [file, argv0, ...Object.entries(env).map(([name, value]) => `${name}=${value}`)];
  writeFileSync(planFile, `${fields.join("\0")}\0`, { mode: 0o600 });
}

/**
 * Node ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across execve: the binary would get
 * EPIPE instead of dying on a closed pipe, and a shell script could not even undo it. A handled signal is
 * reset to its default by execve, so handling both here hands the binary the dispositions `exec "$@"` would.
 */
function restoreDefaultSignals(): void {
  for (const signal of ["SIGPIPE", "SIGXFSZ"] as const) process.on(signal, () => {});
}

/** Execs `file` with argv[0] = `argv0` and ARGS untouched. Returns only by throwing an ExecpackError. */
export async function execInPlace(
  file: string,
  argv0: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<never> {
  assertExecutable(file);
  await flushStdio();
  const planFile = process.env[PLAN_VARIABLE];
  if (planFile) {
    writePlan(planFile, file, argv0, env); // ARGS stay with the launcher, which passes its "$@" untouched.
    process.exit(0);
  }
  if (typeof process.execve !== "function") {
    throw new ExecpackError("boot.execve-unavailable", `This Node.js (${process.version}) cannot exec in place`, {
      hint: "execpack needs Node.js 22.15 or later in the slug; rebuild the app so the buildpack installs it.",
    });
  }
  restoreDefaultSignals();
  process.execve(file, [argv0, ...args], { ...env });
  throw new Error("process.execve returned"); // Unreachable: execve either replaces the process or aborts it.
}
