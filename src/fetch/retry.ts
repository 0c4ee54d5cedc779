/**
 * The retry policy: which failures another attempt may fix (RetryableFailure), how long to wait before it
 * (full jitter, or the server's Retry-After), and when to give up (out of attempts, or past the deadline).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Session } from "./session.js";
import { showUrl } from "./url-policy.js";
import { ExecpackError } from "../common/errors.js";

/** A failed attempt that another attempt may fix; `error` is what the user sees when none is left. */
export class RetryableFailure extends Error {
  readonly error: ExecpackError;
  readonly retryAfterMs: number | undefined;
  constructor(error: ExecpackError, reason: string, retryAfterMs?: number) {
    super(reason);
    this.error = error;
    this.retryAfterMs = retryAfterMs;
  }
}

export async function withRetries<T>(session: Session, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (session.deadline !== undefined && Date.now() >= session.deadline) throw deadlineError(session);
      return await run();
    } catch (error) {
      if (!(error instanceof RetryableFailure)) throw error;
      if (attempt >= session.attempts) throw withAttempts(error.error, attempt);
      const waitMs = backoffDelay(session.backoff, attempt, error.retryAfterMs);
      // Sleeping past the deadline only to fail then would waste what is left of the 60 s boot window.
      if (session.deadline !== undefined && Date.now() + waitMs >= session.deadline) throw deadlineError(session, error.message);
      session.log(`Retrying in ${(waitMs / 1000).toFixed(1)}s after ${error.message} (attempt ${attempt + 1} of ${session.attempts})`);
      await sleep(waitMs, undefined, { signal: session.stop }).catch(() => stopped(session));
    }
  }
}

/** Full jitter (AWS architecture blog): spreads retries of many dynos booting at once. */
function backoffDelay(backoff: { baseMs: number; capMs: number }, attempt: number, retryAfterMs: number | undefined): number {
  if (retryAfterMs !== undefined) return Math.min(backoff.capMs, retryAfterMs);
  return Math.round(Math.random() * Math.min(backoff.capMs, backoff.baseMs * 2 ** (attempt - 1)));
}

export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Cancelled by the caller (their reason propagates untouched) or out of time. */
export function stopped(session: Session): never {
  if (session.userSignal?.aborted) throw session.userSignal.reason;
  throw deadlineError(session);
}

export function deadlineError(session: Session, lastFailure?: string): ExecpackError {
  return new ExecpackError("download.deadline", "The download could not finish before the deadline", {
    seen: [`URL: ${showUrl(session.url)}`, ...(lastFailure ? [`last failure: ${lastFailure}`] : [])],
    hint:
      "At build time the download has BINARY_DOWNLOAD_TIMEOUT seconds in all (default 600): raise it for a slow host, " +
      "or host the release closer. A boot-time download must finish within BINARY_FETCH_TIMEOUT, before Heroku's 60 s bind limit: use BINARY_FETCH=build, or a faster host.",
  });
}

function withAttempts(error: ExecpackError, attempts: number): ExecpackError {
  if (attempts < 2) return error;
  return new ExecpackError(error.code, error.message, { seen: [...error.seen, `attempts: ${attempts}`], hint: error.hint, cause: error.cause });
}
