/**
 * The one top-level handler every command entry point runs through. Expected failures (ExecpackError)
 * print their code, summary, what was seen and a hint, with no stack trace. Anything else is a bug:
 * it says "internal error" with the code `internal.error`, prints the stack, and says how to report it,
 * whether it was thrown into our promises or where none of ours could see it (a dependency's event handler).
 */
import { isExecpackError } from "./errors.js";
import { printError, warn } from "./output.js";
import { maskUrl } from "./secrets.js";

export const REPORT_URL = "https://github.com/execpack/execpack/issues";
/** EX_SOFTWARE: what a command exits with on a bug. */
export const INTERNAL_ERROR_STATUS = 70;

export async function runMain(command: () => Promise<number | void> | number | void): Promise<void> {
  // Thrown outside any promise of ours, or rejected with nobody waiting: a bug all the same, reported the same
  // way, and the process ends now rather than going on in a state nobody planned for.
  const onStray = (error: unknown): void => {
    process.exitCode = reportFailure(error);
    process.exit();
  };
  process.on("uncaughtException", onStray);
  process.on("unhandledRejection", onStray);
  // A command still waiting when nothing is left to wake it (a promise that never settles) would otherwise end
  // the process with status 0: a build that "succeeded" with nothing installed. Until the command settles, the
  // status is a bug's, and the loop running dry says so.
  process.exitCode = INTERNAL_ERROR_STATUS;
  const onDrained = (): void => {
    process.exitCode = reportFailure(new Error("the command stopped with work unfinished: it waited for something that will never happen"));
  };
  process.once("beforeExit", onDrained);
  try {
    const status = await command();
    process.exitCode = status ?? 0;
  } catch (error) {
    process.exitCode = reportFailure(error);
  } finally {
    process.off("beforeExit", onDrained);
  }
}

export function reportFailure(error: unknown): number {
  if (isExecpackError(error)) {
    printError(error);
    return 1;
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  const cause = typeof code === "string" ? ` (${code})` : "";
  // Even a bug report must not leak a DATABASE_URL that ended up in a message.
  warn(`execpack: internal error${cause} [internal.error]\n${maskUrl(stack)}\nThis is a bug in execpack. Please report it with the lines above: ${REPORT_URL}`);
  return INTERNAL_ERROR_STATUS;
}
