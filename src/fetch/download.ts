/**
 * Fetching BINARY_URL to a file: at slug compile time, or at boot when BINARY_FETCH=boot.
 * The destination only ever changes by an atomic rename of a complete and (when pinned) verified file.
 * Redirects are followed by hand so credentials go to the origin of BINARY_URL only.
 * Failures are ExecpackErrors with stable `download.*` codes; undici and socket errors are converted where
 * they enter (failures.ts) and retried as retry.ts decides. The build cache: cache.ts.
 */
import { createReadStream, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { STATUS_CODES } from "node:http";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Dispatcher } from "undici";
import { matchesPin, openCache, reuseCached, storeCache, sweepPartials, validators } from "./cache.js";
import type { Cache } from "./cache.js";
import { writeAtomically } from "./file.js";
import { BodyReaderFailure } from "./tee.js";
import type { BodyReader } from "./tee.js";
import { convertFailure, createWatchdog, errorCode, tooManyRedirects, truncatedFailure } from "./failures.js";
import type { Received, Watchdog } from "./failures.js";
import { RetryableFailure, parseRetryAfter, withRetries } from "./retry.js";
import { createSession } from "./session.js";
import type { DownloadOptions, DownloadResult, Session } from "./session.js";
import { acceptHeader, assertTransportAllowed, normalizeToken, parseSourceUrl, quote, showUrl } from "./url-policy.js";
import { diskFailure } from "../common/disk.js";
import { ExecpackError } from "../common/errors.js";
import { displayDownloadUrl } from "../common/secrets.js";

export type { DownloadOptions, DownloadResult } from "./session.js";
export { acceptHeader, assertTransportAllowed, isLoopbackHost } from "./url-policy.js";

const PROGRESS_EVERY_MS = 2_000;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const url = parseSourceUrl(options.url);
  const pin = normalizePin(options.sha256);
  const token = normalizeToken(options.token);
  if (url.protocol !== "file:") assertTransportAllowed(url, { sha256: pin, allowInsecureHttp: options.allowInsecureHttp });
  await mkdir(dirname(options.destination), { recursive: true }).catch((error: unknown) => {
    throw diskFailure(error, { directory: dirname(options.destination), what: "the download's directory" }) ?? error;
  });
  if (url.protocol === "file:") return copyLocalFile(url, pin, options.destination, options.readBody);

  await sweepPartials(dirname(options.destination));
  const session = createSession({ ...options, token }, url, pin);
  try {
    const cache = options.cache ? await openCache(options.cache.dir, session) : undefined;
    // Pinned and kept: the bytes are known by their digest, so no host is asked (a rebuild needs no network).
    const kept = cache && matchesPin(cache, session) ? await reuseCached(session, cache, "BINARY_SHA256 matches; nothing was fetched") : undefined;
    if (kept) return kept;
    return await withRetries(session, () => attempt(session, cache));
  } finally {
    await session.close();
  }
}

function normalizePin(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  // GitHub shows release asset digests as "sha256:<hex>"; accept them pasted as they are.
  const hex = raw.trim().replace(/^sha256:/i, "").toLowerCase();
  if (/^[0-9a-f]{64}$/.test(hex)) return hex;
  throw new ExecpackError("download.invalid-sha256", "BINARY_SHA256 is not a SHA-256 digest", {
    seen: [`BINARY_SHA256: ${quote(raw.length > 80 ? `${raw.slice(0, 80)}...` : raw)}`],
    hint: "Set BINARY_SHA256 to the 64 hex digits printed by `sha256sum` for the release file, or unset it.",
  });
}

// ---- attempts and redirects -----------------------------------------------------------------------

async function attempt(session: Session, cache: Cache | undefined): Promise<DownloadResult> {
  const watchdog = createWatchdog();
  const signal = AbortSignal.any([session.stop, watchdog.signal]);
  const received: Received = { bytes: 0, total: undefined };
  try {
    const { response, url } = await followRedirects(session, cache?.entry ? validators(cache.entry) : {}, signal, watchdog);
    if (response.statusCode === 304 && cache?.entry) {
      discard(response);
      return (await reuseCached(session, cache, "304 Not Modified")) ?? (await attempt(session, cache));
    }
    checkStatus(session, response, url);
    const result = await saveBody(session, response, url, signal, watchdog, received);
    if (cache) await storeCache(cache, session, result, { etag: header(response, "etag"), lastModified: header(response, "last-modified") });
    return result;
  } catch (error) {
    // The body's reader (an extraction) failed on its own: its error is the user's, never a retry.
    if (error instanceof BodyReaderFailure) throw error.failure;
    throw convertFailure(session, error, watchdog, received);
  } finally {
    watchdog.disarm();
  }
}

async function saveBody(
  session: Session, response: Dispatcher.ResponseData, url: URL, signal: AbortSignal, watchdog: Watchdog, received: Received,
): Promise<DownloadResult> {
  const total = (received.total = contentLength(response));
  const meter = progressMeter(total, session.onProgress);
  watchdog.arm(session.timeouts.bodyMs, "body");
  const saved = await writeAtomically(session.destination, response.body, signal, (chunk) => {
    watchdog.arm(session.timeouts.bodyMs, "body"); // an idle limit, not a total one: big files on slow links are fine
    received.bytes += chunk.length;
    meter.add(chunk.length);
  }, (sha256, size) => {
    // undici normally notices a short body itself; this guards a server that closes at a chunk boundary.
    if (total !== undefined && size < total) throw truncatedFailure(url, size, total);
    verifyPin(session.pin, sha256, url);
  }, total, session.readBody);
  watchdog.disarm();
  meter.finish();
  return {
    path: session.destination, ...saved, contentType: header(response, "content-type"), fromCache: false, finalUrl: showUrl(url, false),
    bodyRead: session.readBody !== undefined,
  };
}

async function followRedirects(session: Session, extraHeaders: Record<string, string>, signal: AbortSignal, watchdog: Watchdog) {
  const { request, agent } = await session.client();
  const chain = [session.url];
  for (;;) {
    const url = chain.at(-1)!;
    watchdog.arm(session.timeouts.headersMs, "headers");
    const response = await request(withoutCredentials(url), {
      dispatcher: agent, method: "GET", signal,
      headers: { "user-agent": "execpack", accept: accept(session, url), ...extraHeaders, ...authorization(session, url) },
    });
    watchdog.disarm();
    const location = REDIRECTS.has(response.statusCode) ? header(response, "location") : undefined;
    if (location === undefined) return { response, url };
    discard(response); // a redirect's body is noise
    const next = URL.canParse(location, url.href) ? new URL(location, url) : undefined;
    if (!next || !["https:", "http:"].includes(next.protocol)) {
      throw new ExecpackError("download.invalid-url", "A redirect pointed to an address that is not http(s)", {
        seen: [`URL: ${showUrl(url)}`, `redirect to: ${quote(displayDownloadUrl(location))}`],
        hint: "Check BINARY_URL: it should lead to the release file itself.",
      });
    }
    assertTransportAllowed(next, { sha256: session.pin, allowInsecureHttp: session.allowInsecureHttp });
    const loop = chain.some((seen) => seen.href === next.href);
    if (loop || chain.length > session.maxRedirects) throw tooManyRedirects(session, [...chain, next], loop);
    if (session.token && next.origin !== session.url.origin && url.origin === session.url.origin) {
      session.log(`Not sending BINARY_TOKEN to ${next.origin} (redirected to another host)`);
    }
    chain.push(next);
  }
}

/** The caller's Accept goes to the origin it was meant for; a redirect target gets the usual one. */
function accept(session: Session, url: URL): string {
  return session.accept !== undefined && url.origin === session.url.origin ? session.accept : acceptHeader(url);
}

/** Credentials (BINARY_TOKEN, or user:password in BINARY_URL) go to the origin the user named, nowhere else. */
function authorization(session: Session, url: URL): Record<string, string> {
  if (url.origin !== session.url.origin) return {};
  if (session.token) return { authorization: `Bearer ${session.token}` };
  const { username, password } = session.url;
  if (!username && !password) return {};
  const pair = `${decodeURIComponent(username)}:${decodeURIComponent(password)}`;
  return { authorization: `Basic ${Buffer.from(pair).toString("base64")}` };
}

function withoutCredentials(url: URL): URL {
  const bare = new URL(url);
  bare.username = "";
  bare.password = "";
  return bare;
}

function checkStatus(session: Session, response: Dispatcher.ResponseData, url: URL): void {
  const code = response.statusCode;
  if (code >= 200 && code < 300 && code !== 204 && code !== 206) return;
  discard(response);
  const status = `HTTP ${code}${STATUS_CODES[code] ? ` ${STATUS_CODES[code]}` : ""}`;
  const contentType = header(response, "content-type");
  const seen = [`URL: ${showUrl(url)}`, `status: ${status}`, ...(contentType ? [`content type: ${quote(contentType)}`] : [])];
  if (code === 401 || code === 403) {
    throw new ExecpackError("download.unauthorized", `The server refused the download (${status})`, {
      seen, hint: session.token
        ? "BINARY_TOKEN was sent and refused: check that it has not expired and may read this release."
        : "For a private release, set BINARY_TOKEN to a token that may read it (sent as a Bearer token).",
    });
  }
  if (code === 404 || code === 410) {
    throw new ExecpackError("download.not-found", `The release file was not found (${status})`, {
      seen, hint: "Check BINARY_URL: the version or asset name may have changed. Private repositories on some hosts answer 404 without BINARY_TOKEN.",
    });
  }
  const error = new ExecpackError("download.http-status", `The server answered ${status}`, {
    seen, hint: "Check BINARY_URL; if the server is having trouble, deploy again later.",
  });
  if (code === 408 || code === 429 || code >= 500) throw new RetryableFailure(error, `HTTP ${code}`, parseRetryAfter(header(response, "retry-after")));
  throw error;
}

function verifyPin(pin: string | undefined, actual: string, url: URL): void {
  if (pin === undefined || pin === actual) return;
  throw new ExecpackError("download.checksum-mismatch", "The downloaded file does not match BINARY_SHA256", {
    seen: [`URL: ${showUrl(url)}`, `expected: ${pin}`, `actual:   ${actual}`],
    hint: "Nothing was installed. If the release changed on purpose, set BINARY_SHA256 to the new digest; otherwise check BINARY_URL.",
  });
}

// ---- local files and progress ---------------------------------------------------------------------

async function copyLocalFile(url: URL, pin: string | undefined, destination: string, readBody: BodyReader | undefined): Promise<DownloadResult> {
  const path = fileURLToPath(url);
  try {
    const saved = await writeAtomically(destination, createReadStream(path), undefined, () => {}, (sha256) => verifyPin(pin, sha256, url), sizeOf(path), readBody);
    return { path: destination, ...saved, fromCache: false, finalUrl: showUrl(url, false), bodyRead: readBody !== undefined };
  } catch (error) {
    if (error instanceof BodyReaderFailure) throw error.failure;
    if (error instanceof ExecpackError) throw error;
    throw new ExecpackError("download.not-found", `Could not read the local file ${quote(path)}`, {
      seen: [`error: ${errorCode(error) ?? ""} ${(error as Error).message}`.trim()],
      hint: "A file:// BINARY_URL must name a readable file on this machine.", cause: error,
    });
  }
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined; // Unreadable: the copy fails next and says so.
  }
}

function progressMeter(total: number | undefined, onProgress: DownloadOptions["onProgress"]) {
  const start = Date.now();
  let bytes = 0;
  let last = start;
  const report = (now: number) => onProgress?.({ bytes, total, rate: bytes / Math.max((now - start) / 1000, 0.001) });
  return {
    add(count: number) {
      bytes += count;
      const now = Date.now();
      if (now - last < PROGRESS_EVERY_MS) return;
      last = now;
      report(now);
    },
    finish: () => report(Date.now()),
  };
}

// ---- responses ------------------------------------------------------------------------------------

/** Drops a body we will not read. Costs at most a kept-alive socket; the abort error it raises means nothing. */
function discard(response: Dispatcher.ResponseData): void {
  response.body.on("error", () => {});
  response.body.destroy();
}

function header(response: Dispatcher.ResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function contentLength(response: Dispatcher.ResponseData): number | undefined {
  const value = header(response, "content-length");
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}
