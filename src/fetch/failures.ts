/**
 * Converting failures where they enter: undici's UND_ERR_* codes, socket and TLS errors, and our own
 * watchdog's timeouts become download.* errors, retryable where another attempt may fix them.
 */
import { dirname } from "node:path";
import { RetryableFailure, stopped } from "./retry.js";
import type { Session } from "./session.js";
import { showUrl } from "./url-policy.js";
import { diskFailure } from "../common/disk.js";
import { ExecpackError } from "../common/errors.js";
import { escapeControl } from "../common/output.js";
import { maskUrl } from "../common/secrets.js";

/** How far the body got, so a connection that closes early can be told apart from one that fails. */
export interface Received {
  bytes: number;
  total: number | undefined;
}

type Phase = "connect" | "headers" | "body";
const UNDICI_TIMEOUTS: Partial<Record<string, Phase>> = {
  UND_ERR_CONNECT_TIMEOUT: "connect", UND_ERR_HEADERS_TIMEOUT: "headers", UND_ERR_BODY_TIMEOUT: "body",
};
const WAITING_FOR: Record<Phase, string> = {
  connect: "a connection to the server", headers: "the response headers", body: "more data (the download stalled)",
};

export function convertFailure(session: Session, error: unknown, watchdog: Watchdog, received: Received): unknown {
  if (error instanceof RetryableFailure || error instanceof ExecpackError) return error;
  if (session.stop.aborted) return stopped(session);
  const url = `URL: ${showUrl(session.url)}`;
  const code = errorCode(error);
  const phase = watchdog.fired ?? UNDICI_TIMEOUTS[code ?? ""];
  if (phase) {
    const limit = session.timeouts[`${phase}Ms`];
    return new RetryableFailure(new ExecpackError("download.timeout", `Timed out after ${formatSeconds(limit)} waiting for ${WAITING_FOR[phase]}`, {
      seen: [url], hint: "The server is slow or unreachable from Heroku; deploy again later or host the release elsewhere.", cause: error,
    }), `a ${phase} timeout`);
  }
  const disk = diskFailure(error, { directory: dirname(session.destination), what: "the download", needed: received.total });
  if (disk) return disk; // Never retried: another attempt would fill the same disk.
  if (isHttpParserError(error)) return badResponse(session, error);
  if (received.total !== undefined && received.bytes < received.total && (code === "UND_ERR_SOCKET" || code === "UND_ERR_RES_CONTENT_LENGTH_MISMATCH")) {
    return truncatedFailure(session.url, received.bytes, received.total, error);
  }
  // No code, or a bad argument: a bug of ours, for the internal-error handler rather than a retry.
  if (code === undefined || /INVALID_ARG/.test(code)) return error;
  const detail = `error: ${code} ${maskUrl(error instanceof Error ? error.message : String(error))}`;
  const { what, variable } = session.source;
  const network = new ExecpackError("download.network", `Could not download ${what}: the connection failed`, {
    seen: [url, detail], hint: `Check the host name in ${variable} and that it is reachable from Heroku.`, cause: error,
  });
  // A certificate problem will be the same on the next attempt; everything else on the wire may not be.
  if (/CERT|ERR_TLS/.test(code)) return network;
  // A host name that does not exist will not exist a second later either (curl does not retry it either);
  // a resolver that could not answer says EAI_AGAIN, which is retried like the rest.
  if (code === "ENOTFOUND") {
    return new ExecpackError("download.network", `Could not download ${what}: its host name does not resolve`, {
      seen: [url, detail], hint: `Check the host name in ${variable} for a typo; it must be a public name that Heroku's resolvers know.`, cause: error,
    });
  }
  return new RetryableFailure(network, code === "ECONNRESET" ? "a connection reset" : code);
}

/** undici's HTTPParserError carries no code; it is known by its name (also when a socket error wraps it). */
function isHttpParserError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 3; current = current.cause, depth += 1) {
    if (current.name === "HTTPParserError") return true;
  }
  return false;
}

/** A server that does not speak HTTP (a wrong port, https:// against plain http) or sends a broken body framing. */
function badResponse(session: Session, error: unknown): ExecpackError {
  return new ExecpackError("download.bad-response", "The server's answer is not valid HTTP", {
    seen: [`URL: ${showUrl(session.url)}`, `error: ${escapeControl(maskUrl(error instanceof Error ? error.message : String(error)))}`],
    hint: "Check BINARY_URL's scheme and port: it may point at something that is not a web server, or a proxy on the way broke the response.",
    cause: error,
  });
}

export function truncatedFailure(url: URL, bytes: number, total: number, cause?: unknown): RetryableFailure {
  return new RetryableFailure(new ExecpackError("download.truncated", `The download ended early: ${bytes} of ${total} bytes`, {
    seen: [`URL: ${showUrl(url)}`, `received: ${bytes} bytes`, `Content-Length: ${total}`],
    hint: "The server or a proxy cut the transfer; deploy again, or host the release elsewhere if it keeps happening.", cause,
  }), "a truncated body");
}

export function tooManyRedirects(session: Session, chain: URL[], loop: boolean): ExecpackError {
  const summary = loop ? "The redirects of BINARY_URL go round in a loop" : `BINARY_URL redirects more than ${session.maxRedirects} times`;
  return new ExecpackError("download.too-many-redirects", summary, {
    seen: chain.map((url, index) => `${index === 0 ? "URL" : "then"}: ${showUrl(url)}`),
    hint: "Point BINARY_URL at the final download address, or check the server's redirect rules.",
  });
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

export type Watchdog = ReturnType<typeof createWatchdog>;

/** One timer per attempt, re-armed per phase (headers, then each body chunk); it remembers which phase ran out. */
export function createWatchdog() {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const state = {
    signal: controller.signal,
    fired: undefined as Phase | undefined,
    arm(ms: number, phase: Phase) {
      clearTimeout(timer);
      timer = setTimeout(() => {
        state.fired = phase;
        controller.abort(new Error(`${phase} timeout`));
      }, ms);
    },
    disarm: () => clearTimeout(timer),
  };
  return state;
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
