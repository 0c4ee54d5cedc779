/**
 * Fetching BINARY_URL to a file: at slug compile time, or at boot when BINARY_FETCH=boot.
 * The destination only ever changes by an atomic rename of a complete and (when pinned) verified file.
 * Redirects are followed by hand so credentials go to the origin of BINARY_URL only.
 * Failures are ExecpackErrors with stable `download.*` codes; undici and socket errors are converted here.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { STATUS_CODES } from "node:http";
import { isIP } from "node:net";
import { basename, dirname, join } from "node:path";
import { Transform } from "node:stream";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import type { Dispatcher } from "undici";
import { ExecpackError } from "./errors.js";
import { displayUrl, maskUrl } from "./secrets.js";

export interface DownloadOptions {
  url: string;
  destination: string;
  sha256?: string;
  token?: string;
  cache?: { dir: string };
  timeouts?: { connectMs?: number; headersMs?: number; bodyMs?: number };
  retries?: number;
  backoff?: { baseMs?: number; capMs?: number };
  maxRedirects?: number;
  allowInsecureHttp?: boolean;
  deadline?: number;
  onProgress?: (progress: { bytes: number; total?: number; rate: number }) => void;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  contentType?: string;
  fromCache: boolean;
  finalUrl: string;
}

const DEFAULTS = { connectMs: 10_000, headersMs: 30_000, bodyMs: 60_000, retries: 4, baseMs: 500, capMs: 10_000, maxRedirects: 10 };
const PROGRESS_EVERY_MS = 2_000;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Everything one download needs, resolved once from the options. */
interface Session {
  url: URL;
  pin: string | undefined;
  token: string | undefined;
  destination: string;
  timeouts: { connectMs: number; headersMs: number; bodyMs: number };
  attempts: number;
  backoff: { baseMs: number; capMs: number };
  maxRedirects: number;
  allowInsecureHttp: boolean;
  deadline: number | undefined;
  /** Aborts on the caller's signal or at the deadline: whatever is running then stops. */
  stop: AbortSignal;
  userSignal: AbortSignal | undefined;
  agent: Dispatcher;
  log: (line: string) => void;
  onProgress: DownloadOptions["onProgress"];
}

/** A failed attempt that another attempt may fix; `error` is what the user sees when none is left. */
class RetryableFailure extends Error {
  readonly error: ExecpackError;
  readonly retryAfterMs: number | undefined;
  constructor(error: ExecpackError, reason: string, retryAfterMs?: number) {
    super(reason);
    this.error = error;
    this.retryAfterMs = retryAfterMs;
  }
}

export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const url = parseSourceUrl(options.url);
  const pin = normalizePin(options.sha256);
  if (url.protocol !== "file:") assertTransportAllowed(url, { sha256: pin, allowInsecureHttp: options.allowInsecureHttp });
  await mkdir(dirname(options.destination), { recursive: true });
  if (url.protocol === "file:") return copyLocalFile(url, pin, options.destination);

  const stops = [options.signal, options.deadline === undefined ? undefined : AbortSignal.timeout(Math.max(0, options.deadline - Date.now()))];
  // Our own timers watch headers and body; undici's run on a coarse ~1 s clock and would race them.
  const agent = new Agent({ connectTimeout: options.timeouts?.connectMs ?? DEFAULTS.connectMs, headersTimeout: 0, bodyTimeout: 0 });
  const session: Session = {
    url, pin, token: options.token || undefined, destination: options.destination,
    timeouts: {
      connectMs: options.timeouts?.connectMs ?? DEFAULTS.connectMs,
      headersMs: options.timeouts?.headersMs ?? DEFAULTS.headersMs,
      bodyMs: options.timeouts?.bodyMs ?? DEFAULTS.bodyMs,
    },
    attempts: (options.retries ?? DEFAULTS.retries) + 1,
    backoff: { baseMs: options.backoff?.baseMs ?? DEFAULTS.baseMs, capMs: options.backoff?.capMs ?? DEFAULTS.capMs },
    maxRedirects: options.maxRedirects ?? DEFAULTS.maxRedirects,
    allowInsecureHttp: options.allowInsecureHttp ?? false,
    deadline: options.deadline,
    stop: AbortSignal.any(stops.filter((signal) => signal !== undefined)),
    userSignal: options.signal,
    agent, log: options.log ?? (() => {}), onProgress: options.onProgress,
  };
  try {
    const cache = options.cache ? await openCache(options.cache.dir, session) : undefined;
    return await withRetries(session, () => attempt(session, cache));
  } finally {
    await agent.destroy();
  }
}

// ---- checks on the configuration ------------------------------------------------------------------

function parseSourceUrl(raw: string): URL {
  const seen = [`BINARY_URL: ${showRawUrl(raw.trim())}`];
  const hint = "Set BINARY_URL to the download address of the release, e.g. https://github.com/OWNER/REPO/releases/download/v1.2.3/app_linux_amd64.tar.gz";
  if (!URL.canParse(raw.trim())) throw new ExecpackError("download.invalid-url", "BINARY_URL is not a URL", { seen, hint });
  const url = new URL(raw.trim());
  if (!["https:", "http:", "file:"].includes(url.protocol)) {
    throw new ExecpackError("download.invalid-url", `BINARY_URL must be an https:// URL, not ${quote(url.protocol)}`, { seen, hint });
  }
  // file:// is for `execpackctl try` on a workstation; a host part would mean a network share we do not speak.
  if (url.protocol === "file:" && url.host !== "" && url.hostname !== "localhost") {
    throw new ExecpackError("download.invalid-url", "A file:// BINARY_URL must name a local path (file:///path)", { seen, hint });
  }
  return url;
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

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/**
 * GitHub's release asset API (the way to private assets with a token) answers with the asset's JSON unless
 * asked for the bytes; every other server gets "any type".
 */
export function acceptHeader(url: URL): string {
  return url.hostname === "api.github.com" && /\/releases\/assets\/\d+\/?$/.test(url.pathname) ? "application/octet-stream" : "*/*";
}

/** Plain http:// can be altered on the way; it is accepted only when the damage is contained or accepted. */
export function assertTransportAllowed(url: URL, policy: { sha256?: string | undefined; allowInsecureHttp?: boolean | undefined }): void {
  if (url.protocol !== "http:" || policy.sha256 || policy.allowInsecureHttp || isLoopbackHost(url.hostname)) return;
  throw new ExecpackError("download.insecure-url", "Refusing to download over plain http:// without a checksum", {
    seen: [`URL: ${showUrl(url)}`],
    hint: "Use an https:// URL, or pin the file with BINARY_SHA256, or set BINARY_ALLOW_HTTP=1 to accept the risk.",
  });
}

// ---- attempts, retries and redirects --------------------------------------------------------------

async function withRetries<T>(session: Session, run: () => Promise<T>): Promise<T> {
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

function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** How far the body got, so a connection that closes early can be told apart from one that fails. */
interface Received {
  bytes: number;
  total: number | undefined;
}

async function attempt(session: Session, cache: Cache | undefined): Promise<DownloadResult> {
  const watchdog = createWatchdog();
  const signal = AbortSignal.any([session.stop, watchdog.signal]);
  const received: Received = { bytes: 0, total: undefined };
  try {
    const { response, url } = await followRedirects(session, cache?.entry ? validators(cache.entry) : {}, signal, watchdog);
    if (response.statusCode === 304 && cache?.entry) {
      discard(response);
      return (await reuseCached(session, cache, signal)) ?? (await attempt(session, cache));
    }
    checkStatus(session, response, url);
    const result = await saveBody(session, response, url, signal, watchdog, received);
    if (cache) await storeCache(cache, session, result, response);
    return result;
  } catch (error) {
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
  });
  watchdog.disarm();
  meter.finish();
  return { path: session.destination, ...saved, contentType: header(response, "content-type"), fromCache: false, finalUrl: showUrl(url, false) };
}

async function followRedirects(session: Session, extraHeaders: Record<string, string>, signal: AbortSignal, watchdog: Watchdog) {
  const chain = [session.url];
  for (;;) {
    const url = chain.at(-1)!;
    watchdog.arm(session.timeouts.headersMs, "headers");
    const response = await request(withoutCredentials(url), {
      dispatcher: session.agent, method: "GET", signal,
      headers: { "user-agent": "execpack", accept: acceptHeader(url), ...extraHeaders, ...authorization(session, url) },
    });
    watchdog.disarm();
    const location = REDIRECTS.has(response.statusCode) ? header(response, "location") : undefined;
    if (location === undefined) return { response, url };
    discard(response); // a redirect's body is noise
    const next = URL.canParse(location, url.href) ? new URL(location, url) : undefined;
    if (!next || !["https:", "http:"].includes(next.protocol)) {
      throw new ExecpackError("download.invalid-url", "A redirect pointed to an address that is not http(s)", {
        seen: [`URL: ${showUrl(url)}`, `redirect to: ${quote(maskUrl(location.replace(/\?.*/s, "?...")))}`],
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

// ---- converting failures where they enter -----------------------------------------------------------

type Phase = "connect" | "headers" | "body";
const UNDICI_TIMEOUTS: Partial<Record<string, Phase>> = {
  UND_ERR_CONNECT_TIMEOUT: "connect", UND_ERR_HEADERS_TIMEOUT: "headers", UND_ERR_BODY_TIMEOUT: "body",
};
const WAITING_FOR: Record<Phase, string> = {
  connect: "a connection to the server", headers: "the response headers", body: "more data (the download stalled)",
};

function convertFailure(session: Session, error: unknown, watchdog: Watchdog, received: Received): unknown {
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
  if (received.total !== undefined && received.bytes < received.total && (code === "UND_ERR_SOCKET" || code === "UND_ERR_RES_CONTENT_LENGTH_MISMATCH")) {
    return truncatedFailure(session.url, received.bytes, received.total, error);
  }
  // No code, or a bad argument: a bug of ours, for the internal-error handler rather than a retry.
  if (code === undefined || /INVALID_ARG/.test(code)) return error;
  const detail = `error: ${code} ${maskUrl(error instanceof Error ? error.message : String(error))}`;
  const network = new ExecpackError("download.network", "Could not download BINARY_URL: the connection failed", {
    seen: [url, detail], hint: "Check the host name in BINARY_URL and that it is reachable from Heroku.", cause: error,
  });
  // A certificate problem will be the same on the next attempt; everything else on the wire may not be.
  if (/CERT|ERR_TLS/.test(code)) return network;
  return new RetryableFailure(network, code === "ECONNRESET" ? "a connection reset" : code);
}

function truncatedFailure(url: URL, bytes: number, total: number, cause?: unknown): RetryableFailure {
  return new RetryableFailure(new ExecpackError("download.truncated", `The download ended early: ${bytes} of ${total} bytes`, {
    seen: [`URL: ${showUrl(url)}`, `received: ${bytes} bytes`, `Content-Length: ${total}`],
    hint: "The server or a proxy cut the transfer; deploy again, or host the release elsewhere if it keeps happening.", cause,
  }), "a truncated body");
}

function tooManyRedirects(session: Session, chain: URL[], loop: boolean): ExecpackError {
  const summary = loop ? "The redirects of BINARY_URL go round in a loop" : `BINARY_URL redirects more than ${session.maxRedirects} times`;
  return new ExecpackError("download.too-many-redirects", summary, {
    seen: chain.map((url, index) => `${index === 0 ? "URL" : "then"}: ${showUrl(url)}`),
    hint: "Point BINARY_URL at the final download address, or check the server's redirect rules.",
  });
}

/** Cancelled by the caller (their reason propagates untouched) or out of time. */
function stopped(session: Session): never {
  if (session.userSignal?.aborted) throw session.userSignal.reason;
  throw deadlineError(session);
}

function deadlineError(session: Session, lastFailure?: string): ExecpackError {
  return new ExecpackError("download.deadline", "The download could not finish before the deadline", {
    seen: [`URL: ${showUrl(session.url)}`, ...(lastFailure ? [`last failure: ${lastFailure}`] : [])],
    hint: "A boot-time download must finish before Heroku's 60 s bind limit: use BINARY_FETCH=build, or a faster host.",
  });
}

function withAttempts(error: ExecpackError, attempts: number): ExecpackError {
  if (attempts < 2) return error;
  return new ExecpackError(error.code, error.message, { seen: [...error.seen, `attempts: ${attempts}`], hint: error.hint, cause: error.cause });
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

// ---- writing files ----------------------------------------------------------------------------------

/**
 * Streams `source` into a temp file beside `destination` (same file system, so the rename is atomic),
 * hashing on the way; `accept` sees the digest before the rename and throws to abandon the file.
 */
async function writeAtomically(
  destination: string, source: Readable, signal: AbortSignal | undefined,
  onChunk: (chunk: Buffer) => void, accept: (sha256: string, size: number) => void,
): Promise<{ size: number; sha256: string }> {
  const temp = join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString("hex")}.partial`);
  const hash = createHash("sha256");
  let size = 0;
  try {
    // A Transform, not an async generator: iterating a stream joins whatever it has buffered into a new
    // Buffer, a copy of most of the download that added some 25 MiB to the peak RSS (bench/fetch.ts).
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        try {
          hash.update(chunk);
          size += chunk.length;
          onChunk(chunk);
          callback(null, chunk);
        } catch (error) {
          callback(error as Error);
        }
      },
    });
    // No fsync: the rename is what keeps a half-written file out of sight (see "Installing" in archive.ts).
    await pipeline(source, tap, createWriteStream(temp, { flags: "wx" }), { signal });
    const sha256 = hash.digest("hex");
    accept(sha256, size);
    await rename(temp, destination);
    return { size, sha256 };
  } catch (error) {
    await rm(temp, { force: true });
    const path = (error as { path?: unknown }).path;
    if (path !== temp && path !== destination) throw error;
    throw new ExecpackError("download.write-failed", `Could not write ${quote(destination)}`, {
      seen: [`error: ${errorCode(error) ?? ""} ${(error as Error).message}`.trim()],
      hint: "Check free disk space (a slug may be at most 500 MB) and that the directory is writable.", cause: error,
    });
  }
}

async function copyLocalFile(url: URL, pin: string | undefined, destination: string): Promise<DownloadResult> {
  const path = fileURLToPath(url);
  try {
    const saved = await writeAtomically(destination, createReadStream(path), undefined, () => {}, (sha256) => verifyPin(pin, sha256, url));
    return { path: destination, ...saved, fromCache: false, finalUrl: showUrl(url, false) };
  } catch (error) {
    if (error instanceof ExecpackError) throw error;
    throw new ExecpackError("download.not-found", `Could not read the local file ${quote(path)}`, {
      seen: [`error: ${errorCode(error) ?? ""} ${(error as Error).message}`.trim()],
      hint: "A file:// BINARY_URL must name a readable file on this machine.", cause: error,
    });
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

// ---- the cache in CACHE_DIR -------------------------------------------------------------------------

interface CacheEntry {
  /** Masked, for people reading the directory; `urlDigest` is what is compared. */
  url: string;
  urlDigest: string;
  pin: string | null;
  etag?: string;
  lastModified?: string;
  sha256: string;
  size: number;
  contentType?: string;
  finalUrl: string;
}

interface Cache {
  archive: string;
  metadata: string;
  entry: CacheEntry | undefined;
}

async function openCache(dir: string, session: Session): Promise<Cache> {
  const cache: Cache = { archive: join(dir, "archive"), metadata: join(dir, "archive.json"), entry: undefined };
  const entry = await readFile(cache.metadata, "utf8").then((text) => JSON.parse(text) as CacheEntry).catch(() => undefined);
  if (!entry || typeof entry.sha256 !== "string" || typeof entry.urlDigest !== "string") return cache;
  const changed = entry.urlDigest !== digest(session.url.href) ? "BINARY_URL" : entry.pin !== (session.pin ?? null) ? "BINARY_SHA256" : undefined;
  if (changed) {
    session.log(`Ignoring the cached archive: ${changed} changed`);
    await dropCache(cache);
  } else {
    cache.entry = entry;
  }
  return cache;
}

function validators(entry: CacheEntry): Record<string, string> {
  return { ...(entry.etag ? { "if-none-match": entry.etag } : {}), ...(entry.lastModified ? { "if-modified-since": entry.lastModified } : {}) };
}

/** 304: the cached copy is current, but it is copied only if it still hashes to what was stored. */
async function reuseCached(session: Session, cache: Cache, signal: AbortSignal): Promise<DownloadResult | undefined> {
  const entry = cache.entry!;
  try {
    const saved = await writeAtomically(session.destination, createReadStream(cache.archive), signal, () => {}, (sha256) => {
      if (sha256 !== entry.sha256 || (session.pin && sha256 !== session.pin)) throw new Error("cached archive is corrupt");
    });
    session.log("Using cached archive (304 Not Modified)");
    return { path: session.destination, ...saved, contentType: entry.contentType, fromCache: true, finalUrl: entry.finalUrl };
  } catch (error) {
    if (session.stop.aborted || error instanceof ExecpackError) throw error;
    session.log("The cached archive is damaged or missing; downloading it again");
    await dropCache(cache);
    return undefined;
  }
}

/** A cache is an optimisation: failing to keep one is logged, never fatal. */
async function storeCache(cache: Cache, session: Session, result: DownloadResult, response: Dispatcher.ResponseData): Promise<void> {
  const etag = header(response, "etag");
  const lastModified = header(response, "last-modified");
  const entry: CacheEntry = {
    url: showUrl(session.url, false), urlDigest: digest(session.url.href), pin: session.pin ?? null, etag, lastModified,
    sha256: result.sha256, size: result.size, contentType: result.contentType, finalUrl: result.finalUrl,
  };
  try {
    await dropCache(cache);
    if (!etag && !lastModified) return; // nothing to revalidate with: a kept copy could never be reused
    await mkdir(dirname(cache.archive), { recursive: true });
    await keepCopy(result.path, `${cache.archive}.partial`);
    await rename(`${cache.archive}.partial`, cache.archive);
    await writeFile(`${cache.metadata}.partial`, `${JSON.stringify(entry, null, 2)}\n`);
    await rename(`${cache.metadata}.partial`, cache.metadata);
  } catch (error) {
    session.log(`Could not keep the archive in the build cache: ${errorCode(error) ?? (error as Error).message}`);
    await dropCache(cache).catch(() => {}); // already failing on this directory; the metadata went first anyway
  }
}

/**
 * The download and the cache sit side by side in CACHE_DIR: a hard link keeps the archive without copying it,
 * and is safe because neither name is ever written in place (both are only replaced by rename or removed).
 */
async function keepCopy(source: string, target: string): Promise<void> {
  try {
    await link(source, target);
  } catch {
    // Another file system, or one without hard links: a copy does the same, only slower.
    await copyFile(source, target);
  }
}

async function dropCache(cache: Cache): Promise<void> {
  cache.entry = undefined;
  // Metadata first: an archive without metadata is never used, metadata without an archive would be.
  for (const path of [cache.metadata, `${cache.metadata}.partial`, cache.archive, `${cache.archive}.partial`]) {
    await rm(path, { force: true });
  }
}

// ---- small helpers ----------------------------------------------------------------------------------

type Watchdog = ReturnType<typeof createWatchdog>;

/** One timer per attempt, re-armed per phase (headers, then each body chunk); it remembers which phase ran out. */
function createWatchdog() {
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

function showRawUrl(raw: string): string {
  return quote(displayUrl(raw));
}

function showUrl(url: URL, quoted = true): string {
  const text = displayUrl(url.href);
  return quoted ? quote(text) : text;
}

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

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function quote(text: string): string {
  return JSON.stringify(text);
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
