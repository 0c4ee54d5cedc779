/**
 * The hand-off: replace this process with the binary, like a Docker entrypoint's `exec "$@"`.
 * The binary keeps the PID, stdin/stdout/stderr, the working directory; signals and the exit status are its
 * own and nothing of Node stays resident.
 *
 * process.execve on Node 24 aborts the process (status 134) when the call fails instead of throwing, so
 * everything that can be checked is checked first, and output still buffered for a pipe is flushed first,
 * since execve discards it.
 */
import { writeFileSync } from "node:fs";
import { assertExecutable } from "../archive/runnable.js";
import { ExecpackError } from "../common/errors.js";

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
      hint: "execpack needs Node.js 22.19 or later in the slug; rebuild the app so the buildpack installs it.",
    });
  }
  restoreDefaultSignals();
  process.execve(file, [argv0, ...args], { ...env });
  throw new Error("process.execve returned"); // Unreachable: execve either replaces the process or aborts it.
}
