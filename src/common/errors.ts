/**
 * Errors a user can act on. Every one carries a stable `code` (never changes once released), a one-line
 * `summary`, what was `seen` (values already masked by the caller), and a `hint` saying what to do.
 * Anything that is not an ExecpackError is a bug and reaches the "internal error" handler in common/main.ts.
 */
export interface ErrorDetails {
  /** What was observed: masked URLs, entries found, expected and actual values. One line each. */
  seen?: readonly string[];
  /** What the user should do next. */
  hint?: string;
  cause?: unknown;
}

/**
 * Marks our errors across bundles: each command is bundled apart, so a bundle loaded by another (tests load
 * source and bundles side by side) has its own ExecpackError class, and `instanceof` alone would call the
 * other's errors bugs.
 */
const BRAND = Symbol.for("execpack.error");

export class ExecpackError extends Error {
  override readonly name = "ExecpackError";
  readonly [BRAND] = true;
  readonly code: string;
  readonly seen: readonly string[];
  readonly hint: string | undefined;

  constructor(code: string, summary: string, details: ErrorDetails = {}) {
    super(summary, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.seen = details.seen ?? [];
    this.hint = details.hint;
  }
}

export function isExecpackError(error: unknown): error is ExecpackError {
  return error instanceof ExecpackError || (error instanceof Error && (error as { [BRAND]?: unknown })[BRAND] === true);
}
