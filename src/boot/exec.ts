/**
 * The hand-off: replace this process with the binary, like a Docker entrypoint's `exec "$@"`.
 * The binary keeps the PID, stdin/stdout/stderr, the working directory; signals and the exit status are its
 * own and nothing of Node stays resident.
 *
 * process.execve on Node 24 aborts the process (status 134) when the call fails instead of throwing, so
 * everything that can be checked is checked first, and fds 0-2 are handed over as a shell would
 * (handOverStdio).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { assertExecutable } from "../archive/runnable.js";
import { ExecpackError } from "../common/errors.js";
import { warn } from "../common/output.js";

/**
 * fds 0-2 as a shell's `exec` would hand them over. libuv puts a pipe or socket into O_NONBLOCK as soon as
 * Node creates process.stdout (or stdin, stderr) for it, and that flag belongs to the open file description
 * the binary inherits: a binary that writes faster than its reader drains (Heroku's log router under load)
 * then gets EAGAIN, loses lines, or panics (Rust's println!). The boot writes only with writeSync and never
 * creates those streams, but anything that does must not change what the binary gets, so the modes are read
 * when this module loads (before the boot could touch them) and given back before execve.
 */
const O_NONBLOCK = 0o4000;

/** The O_NONBLOCK bit of fds 0-2 from /proc (undefined where /proc cannot say). */
export function readStdioModes(): Array<boolean | undefined> {
  return [0, 1, 2].map((fd) => {
    try {
      const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
      return flags === undefined ? undefined : (Number.parseInt(flags, 8) & O_NONBLOCK) !== 0;
    } catch {
      return undefined; // No /proc (or a closed fd): nothing to compare, and nothing Node changed can be seen.
    }
  });
}

const STDIO_MODES_AT_START = readStdioModes();

interface BlockingHandle {
  setBlocking?(blocking: boolean): number;
}

function writableLength(stream: NodeJS.ReadStream | NodeJS.WriteStream): number {
  return "writableLength" in stream ? stream.writableLength : 0;
}

/**
 * Gives fds 0-2 their mode from the start back. Only a stream Node created for an fd changes its mode, so a
 * changed mode means that stream exists: what it still buffers is flushed first (execve would discard it),
 * then its libuv handle sets the mode back on the shared open file description.
 */
export async function handOverStdio(modesAtStart: ReadonlyArray<boolean | undefined> = STDIO_MODES_AT_START): Promise<void> {
  const now = readStdioModes();
  for (const fd of [0, 1, 2] as const) {
    const wasNonBlocking = modesAtStart[fd];
    if (wasNonBlocking === undefined || now[fd] === undefined || now[fd] === wasNonBlocking) continue;
    const stream = [process.stdin, process.stdout, process.stderr][fd]!;
    if (writableLength(stream) > 0) await new Promise<void>((resolve) => (stream as NodeJS.WriteStream).write("", () => resolve()));
    (stream as unknown as { _handle?: BlockingHandle })._handle?.setBlocking?.(!wasNonBlocking);
  }
  const after = readStdioModes();
  const unchanged = [0, 1, 2].filter((fd) => modesAtStart[fd] !== undefined && after[fd] !== modesAtStart[fd]);
  if (unchanged.length > 0) {
    warn(`execpack: could not give fd ${unchanged.join(", ")} back in ${modesAtStart[unchanged[0]!] ? "non-" : ""}blocking mode; the binary may see EAGAIN when its reader is slow`);
  }
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

/**
 * What execve accepts (fs/exec.c): the strings of argv and envp (each with its NUL, the file name too) plus
 * one pointer per string must fit in a quarter of the stack rlimit, at most 6 MiB and at least 128 KiB
 * (ARG_MAX, what `getconf ARG_MAX` reports for an 8 MiB stack); and no single string may exceed
 * MAX_ARG_STRLEN (32 pages). Past either, execve fails with E2BIG, which Node 24 turns into an abort.
 */
const MAX_ARG_STRLEN = 131_072;
const MIN_ARG_SPACE = 131_072;
const MAX_ARG_SPACE = ((8 * 1024 * 1024) / 4) * 3; // 3/4 of _STK_LIM (8 MiB)
const POINTER_SIZE = 8;

/** The soft stack rlimit from /proc (Node has no getrlimit); 8 MiB, Linux's default, where it cannot be read. */
function stackLimit(): number {
  try {
    const soft = /^Max stack size\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
    if (soft === "unlimited") return Number.POSITIVE_INFINITY;
    if (soft !== undefined && /^\d+$/.test(soft)) return Number(soft);
  } catch {
    // No /proc: assume the default rather than refuse a start the kernel may well allow.
  }
  return 8 * 1024 * 1024;
}

export function argumentSpace(stackBytes: number): number {
  return Math.max(MIN_ARG_SPACE, Math.min(MAX_ARG_SPACE, Math.floor(stackBytes / 4)));
}

function kib(bytes: number): string {
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/**
 * Throws boot.environment-too-large when execve would fail with E2BIG, naming the largest variables (names
 * and sizes, never values) and arguments (by position). The sum is only worked out in full, and the stack
 * limit only read, when the strings pass the smallest limit any system has, so a normal boot pays one loop.
 */
export function assertFitsExecve(
  file: string,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  stackBytes?: number,
): void {
  const sizes: Array<{ label: string; bytes: number }> = [];
  let total = Buffer.byteLength(file) + 1;
  for (const [index, arg] of argv.entries()) {
    const bytes = Buffer.byteLength(arg) + 1;
    total += bytes + POINTER_SIZE;
    sizes.push({ label: index === 0 ? "argv[0]" : `argument ${index}`, bytes });
  }
  for (const [name, value] of Object.entries(env)) {
    const bytes = Buffer.byteLength(name) + Buffer.byteLength(value) + 2;
    total += bytes + POINTER_SIZE;
    sizes.push({ label: name, bytes });
  }
  const tooLong = sizes.filter((entry) => entry.bytes > MAX_ARG_STRLEN);
  if (tooLong.length === 0 && total <= MIN_ARG_SPACE) return;
  const limit = argumentSpace(stackBytes ?? stackLimit());
  if (tooLong.length === 0 && total <= limit) return;
  const largest = [...sizes].sort((a, b) => b.bytes - a.bytes).slice(0, 5);
  const seen = tooLong.length > 0
    ? tooLong.map((entry) => `${entry.label}: ${kib(entry.bytes)}, over the ${kib(MAX_ARG_STRLEN)} the kernel allows one variable or argument`)
    : [`arguments and environment: ${kib(total)} in ${sizes.length} strings, the limit here is ${kib(limit)}`, ...largest.map((entry) => `${entry.label}: ${kib(entry.bytes)}`)];
  throw new ExecpackError("boot.environment-too-large", "The binary's environment and arguments are too large for the kernel to start it", {
    seen,
    hint:
      "Shorten or remove the largest variables above (`heroku config:unset NAME`), or stop binary.env from copying them; " +
      "pass a large certificate or key as a file rather than a variable.",
  });
}

/** Execs `file` with argv[0] = `argv0` and ARGS untouched. Returns only by throwing an ExecpackError. */
export async function execInPlace(
  file: string,
  argv0: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<never> {
  assertExecutable(file);
  assertFitsExecve(file, [argv0, ...args], env);
  await handOverStdio();
  const planFile = process.env[PLAN_VARIABLE];
  if (planFile) {
    writePlan(planFile, file, argv0, env); // ARGS stay with the launcher, which passes its "$@" untouched.
    process.exit(0);
  }
  if (typeof process.execve !== "function") {
    throw new ExecpackError("boot.execve-unavailable", `This Node.js (${process.version}) cannot exec in place`, {
      hint: "execpack needs Node.js 22.19 or later in the slug; rebuild the app so the buildpack installs it.",
    });
  }
  restoreDefaultSignals();
  process.execve(file, [argv0, ...args], { ...env });
  throw new Error("process.execve returned"); // Unreachable: execve either replaces the process or aborts it.
}
