/**
 * The one top-level handler every command entry point runs through. Expected failures (ExecpackError)
 * print their code, summary, what was seen and a hint, with no stack trace. Anything else is a bug:
 * it says "internal error", prints the stack, and says how to report it.
 */
import { isExecpackError } from "./errors.js";
import { printError, warn } from "./output.js";
import { maskUrl } from "./secrets.js";

const REPORT_URL = "https://github.com/execpack/execpack/issues";

export async function runMain(command: () => Promise<number | void> | number | void): Promise<void> {
  try {
    const status = await command();
    process.exitCode = status ?? 0;
  } catch (error) {
    process.exitCode = reportFailure(error);
  }
}

export function reportFailure(error: unknown): number {
  if (isExecpackError(error)) {
    printError(error);
    return 1;
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  // Even a bug report must not leak a DATABASE_URL that ended up in a message.
  warn(`execpack: internal error\n${maskUrl(stack)}\nThis is a bug in execpack. Please report it with the lines above: ${REPORT_URL}`);
  return 70; // EX_SOFTWARE
}
