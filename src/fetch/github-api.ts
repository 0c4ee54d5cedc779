/**
 * GETs of GitHub's REST API (BINARY_GITHUB_API_URL): JSON answers, BINARY_TOKEN sent to the API's origin
 * only, the download's timeouts, retries and deadline (session.ts, retry.ts), and the API's own failures
 * turned into `release.*` codes where they enter: a used-up rate limit (403/429 with
 * `x-ratelimit-remaining: 0`, or a Retry-After) says when it resets, and waits for a short Retry-After.
 */
import { STATUS_CODES } from "node:http";
import type { Dispatcher } from "undici";
import { convertFailure, createWatchdog } from "./failures.js";
import { RetryableFailure, parseRetryAfter, withRetries } from "./retry.js";
import { createSession } from "./session.js";
import type { DownloadOptions, Session } from "./session.js";
import { quote, showUrl } from "./url-policy.js";
import { ExecpackError } from "../common/errors.js";

/** A Retry-After up to this long is waited for; a longer one fails the build at once, saying when to retry. */
const SHORT_RETRY_AFTER_MS = 10_000;
const MAX_REDIRECTS = 5; // a renamed repository answers 301 to its new address
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export type ApiOptions = Pick<DownloadOptions, "timeouts" | "retries" | "backoff" | "deadline" | "log" | "signal"> & {
  api: URL;
  token?: string | undefined;
};

export interface ApiAnswer {
  status: number;
  /** The parsed JSON of a 2xx answer; undefined for a 404. */
  body: unknown;
}

export interface GithubApi {
  /** `path` below the API base, e.g. `/repos/acme/widget/releases/latest`. A 404 is returned, not thrown. */
  get(path: string): Promise<ApiAnswer>;
  close(): Promise<void>;
}

export function githubApi(options: ApiOptions): GithubApi {
  const source = { what: "from the GitHub API", variable: "BINARY_GITHUB_API_URL (default https://api.github.com)" };
  const session = createSession({ ...options, url: options.api.href, destination: "", source }, options.api, undefined);
  return {
    get: (path) => withRetries(session, () => attempt(session, new URL(`${options.api.href.replace(/\/$/, "")}${path}`))),
    close: () => session.close(),
  };
}

async function attempt(session: Session, start: URL): Promise<ApiAnswer> {
  const watchdog = createWatchdog();
  const signal = AbortSignal.any([session.stop, watchdog.signal]);
  try {
    let url = start;
    const { request, agent } = await session.client();
    for (let hop = 0; ; hop++) {
      watchdog.arm(session.timeouts.headersMs, "headers");
      const response = await request(url, { dispatcher: agent, method: "GET", signal, headers: headers(session, url) });
      watchdog.arm(session.timeouts.bodyMs, "body");
      const text = await response.body.text();
      watchdog.disarm();
      const location = REDIRECTS.has(response.statusCode) ? header(response, "location") : undefined;
      if (location !== undefined && hop < MAX_REDIRECTS && URL.canParse(location, url.href)) {
        url = new URL(location, url);
        continue;
      }
      return interpret(session, response, text, url);
    }
  } catch (error) {
    throw convertFailure(session, error, watchdog, { bytes: 0, total: undefined });
  } finally {
    watchdog.disarm();
  }
}

function headers(session: Session, url: URL): Record<string, string> {
  return {
    accept: "application/vnd.github+json",
    "x-github-api-version": "2022-11-28",
    "user-agent": "execpack",
    // BINARY_TOKEN is for the API: a redirect to another origin does not get it.
    ...(session.token && url.origin === session.url.origin ? { authorization: `Bearer ${session.token}` } : {}),
  };
}

function interpret(session: Session, response: Dispatcher.ResponseData, text: string, url: URL): ApiAnswer {
  const code = response.statusCode;
  if (code === 404) return { status: 404, body: undefined };
  const status = `HTTP ${code}${STATUS_CODES[code] ? ` ${STATUS_CODES[code]}` : ""}`;
  const seen = [`API: ${showUrl(url)}`, `status: ${status}`];
  if (code >= 200 && code < 300) {
    try {
      return { status: code, body: JSON.parse(text) as unknown };
    } catch {
      throw apiError(`The GitHub API answered with something that is not JSON (${status})`, [...seen, `answer starts: ${quote(text.slice(0, 80))}`]);
    }
  }
  const remaining = header(response, "x-ratelimit-remaining");
  const retryAfter = header(response, "retry-after");
  if ((code === 403 || code === 429) && (remaining === "0" || retryAfter !== undefined)) {
    const error = rateLimited(session, response, seen);
    const waitMs = parseRetryAfter(retryAfter);
    if (waitMs !== undefined && waitMs <= SHORT_RETRY_AFTER_MS) throw new RetryableFailure(error, `a rate limit (Retry-After ${retryAfter})`, waitMs);
    throw error;
  }
  if (code === 401 || code === 403) {
    throw new ExecpackError("release.unauthorized", `The GitHub API refused the request (${status})`, {
      seen: [...seen, ...apiMessage(text)],
      hint: session.token
        ? "BINARY_TOKEN was sent and refused: check that it has not expired and may read the repository's contents."
        : "Set BINARY_TOKEN to a GitHub token that may read the repository.",
    });
  }
  const error = apiError(`The GitHub API answered ${status}`, [...seen, ...apiMessage(text)]);
  if (code === 408 || code === 429 || code >= 500) throw new RetryableFailure(error, `HTTP ${code}`, parseRetryAfter(retryAfter));
  throw error;
}

function rateLimited(session: Session, response: Dispatcher.ResponseData, seen: string[]): ExecpackError {
  const reset = Number(header(response, "x-ratelimit-reset"));
  const limit = header(response, "x-ratelimit-limit");
  const retryAfter = header(response, "retry-after");
  const when = Number.isFinite(reset) && reset > 0
    ? [`the limit resets at ${new Date(reset * 1000).toISOString()} (in ${Math.max(1, Math.ceil((reset * 1000 - Date.now()) / 60_000))} min)`]
    : retryAfter !== undefined ? [`the API asks to retry after ${retryAfter} s`] : [];
  return new ExecpackError("release.rate-limited", "GitHub's API rate limit is used up", {
    seen: [...seen, ...(limit ? [`limit: ${limit} requests an hour`] : []), ...when],
    hint: session.token
      ? "BINARY_TOKEN was sent and its limit is used up too: build again after the reset, or use another token."
      : "Set BINARY_TOKEN to a GitHub token (a public repository needs no scope): without one, every build machine behind the same address shares 60 requests an hour; with one, the token has 5,000.",
  });
}

function apiError(summary: string, seen: string[]): ExecpackError {
  return new ExecpackError("release.api-error", summary, {
    seen, hint: "Check BINARY_GITHUB_API_URL when it is set; if GitHub is having trouble (https://www.githubstatus.com), build again later.",
  });
}

/** GitHub explains its refusals in a `message` field: worth showing, it never holds the token. */
function apiMessage(text: string): string[] {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    return typeof message === "string" ? [`message: ${quote(message.slice(0, 200))}`] : [];
  } catch {
    return [];
  }
}

function header(response: Dispatcher.ResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
