/**
 * What a download is given and returns (download.ts re-exports both), and the session: everything one
 * download over the network needs, resolved once from the options with their defaults.
 */
import { loadHttpClient } from "./http-client.js";
import type { HttpClient } from "./http-client.js";
import type { BodyReader } from "./tee.js";

export interface DownloadOptions {
  url: string;
  destination: string;
  sha256?: string;
  token?: string;
  /** The Accept header for BINARY_URL's origin (GitHub's asset API sends the bytes for application/octet-stream). */
  accept?: string;
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
  /**
   * What is fetched and the config var that names its host, for the network errors: BINARY_URL by default;
   * the GitHub API's requests say that API and BINARY_GITHUB_API_URL, so an unreachable API is not blamed on BINARY_URL.
   */
  source?: { what: string; variable: string };
  /**
   * Reads the body while it downloads, once per attempt (tee.ts): the install step extracts a tar.gz as it
   * arrives. A download served from the build cache has no body to read: `bodyRead` then says false.
   */
  readBody?: BodyReader | undefined;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  contentType?: string;
  fromCache: boolean;
  finalUrl: string;
  /** `readBody` read this download's bytes as they came, to the end, and finished without an error. */
  bodyRead?: boolean;
}

const DEFAULTS = { connectMs: 10_000, headersMs: 30_000, bodyMs: 60_000, retries: 4, baseMs: 500, capMs: 10_000, maxRedirects: 10 };

/** Everything one download needs, resolved once from the options. */
export interface Session {
  url: URL;
  pin: string | undefined;
  token: string | undefined;
  accept: string | undefined;
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
  /**
   * undici and its connection pool, loaded at the first request: undici is most of the bootstrapper's load time
   * (some 0.2 s), and a rebuild served from the build cache, or a boot that fetches nothing, never needs it.
   */
  client(): Promise<HttpClient>;
  /** Closes the connections, if any were made. */
  close(): Promise<void>;
  log: (line: string) => void;
  onProgress: DownloadOptions["onProgress"];
  source: { what: string; variable: string };
  readBody: BodyReader | undefined;
}

export type { HttpClient } from "./http-client.js";

/** Resolves the options of one download over the network; `url` and `pin` are already checked. */
export function createSession(options: DownloadOptions, url: URL, pin: string | undefined): Session {
  const stops = [options.signal, options.deadline === undefined ? undefined : AbortSignal.timeout(Math.max(0, options.deadline - Date.now()))];
  let client: Promise<HttpClient> | undefined;
  const loadClient = (): Promise<HttpClient> =>
    (client ??= loadHttpClient({
      connectTimeout: options.timeouts?.connectMs ?? DEFAULTS.connectMs,
      // Our own timers watch headers and body; undici's run on a coarse ~1 s clock and would race them.
      headersTimeout: 0,
      bodyTimeout: 0,
      // Certificates are always verified: NODE_TLS_REJECT_UNAUTHORIZED=0, which Node apps on Heroku set for their
      // database, must not switch it off for the binary execpack downloads at every boot.
      connect: { rejectUnauthorized: true },
      // HTTP/1.1 only, as undici 7 did by default (undici 8 offers h2 by ALPN): one large body gains nothing from
      // HTTP/2, and the bundles leave node:http2 out (lib/build-bootstrapper.mjs), which with tls behind it
      // cost the install step some 10 MB and 25 ms to load.
      allowH2: false,
    }));
  return {
    url, pin, token: options.token || undefined, accept: options.accept, destination: options.destination,
    source: options.source ?? { what: "BINARY_URL", variable: "BINARY_URL" },
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
    client: loadClient,
    close: async () => {
      if (client) await (await client).agent.destroy();
    },
    log: options.log ?? (() => {}), onProgress: options.onProgress, readBody: options.readBody,
  };
}
