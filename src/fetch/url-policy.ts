/**
 * BINARY_URL before anything is fetched: parsed, its transport checked (again at every redirect), what it
 * is asked for, and how a URL is shown in messages (credentials masked, query cut).
 */
import { isIP } from "node:net";
import { ExecpackError } from "../common/errors.js";
import { displayDownloadUrl } from "../common/secrets.js";

export function parseSourceUrl(raw: string): URL {
  const seen = [`BINARY_URL: ${showRawUrl(raw.trim())}`];
  const hint = "Set BINARY_URL to the download address of the release, e.g. https://github.com/OWNER/REPO/releases/download/v1.2.3/app_linux_amd64.tar.gz";
  // Before parsing: `https://user:tok3n/SECRET@host/x` does not even parse (the token's first part reads as a
  // port), and "not a URL" would send the user hunting for a typo in what is a credential to encode.
  if (!/^\s*file:/i.test(raw)) assertNoStrayAt("BINARY_URL", raw.trim());
  if (!URL.canParse(raw.trim())) throw new ExecpackError("download.invalid-url", "BINARY_URL is not a URL", { seen, hint });
  const url = new URL(raw.trim());
  if (!["https:", "http:", "file:"].includes(url.protocol)) {
    throw new ExecpackError("download.invalid-url", `BINARY_URL must be an https:// URL, not ${quote(url.protocol)}`, { seen, hint });
  }
  // file:// is for `execpackctl try` on a workstation; a host part would mean a network share we do not speak.
  if (url.protocol === "file:" && url.host !== "" && url.hostname !== "localhost") {
    throw new ExecpackError("download.invalid-url", "A file:// BINARY_URL must name a local path (file:///path)", { seen, hint });
  }
  if (url.protocol !== "file:") assertCredentialsDecodable("BINARY_URL", raw.trim(), url);
  return url;
}

/**
 * Where an "@" after the host part means credentials that hold an unencoded "/", "?" or "#"
 * (`https://TOKEN/PART@host/x`): WHATWG URL then takes the token's first part for the host name, and
 * looking that up would hand the secret to DNS and print it in the error. An "@" in a query's key=value
 * (`?email=a@b`) or at the start of a path segment (`/@scope/pkg`) is an ordinary part of a URL.
 */
export function hasStrayAt(raw: string): boolean {
  const start = raw.indexOf("://");
  if (start === -1) return false;
  const rest = raw.slice(start + 3);
  const tail = rest.slice(rest.search(/[/?#\\]|$/));
  const at = tail.lastIndexOf("@");
  if (at <= 0 || tail[at - 1] === "/") return false;
  return !/[=&]/.test(tail.slice(0, at));
}

/**
 * Credentials whose percent-escapes would fail later, when the request decodes them: refused here, before any
 * DNS lookup, with the URL masked. The stray "@" was checked before parsing (assertNoStrayAt).
 */
function assertCredentialsDecodable(variable: string, raw: string, url: URL): void {
  const seen = [`${variable}: ${showRawUrl(raw)}`];
  for (const part of [url.username, url.password]) {
    try {
      decodeURIComponent(part);
    } catch {
      throw new ExecpackError("download.invalid-url", `The credentials in ${variable} hold a "%" that starts no percent-escape`, {
        seen,
        hint: `Write a literal "%" in a user or password as %25, and other special characters percent-encoded too.`,
      });
    }
  }
}

/**
 * Credentials in a URL that would be misread: refused before the URL is even parsed, with the URL masked.
 * `variable` names the config var in the message.
 */
function assertNoStrayAt(variable: string, raw: string): void {
  if (hasStrayAt(raw)) {
    const seen = [`${variable}: ${showRawUrl(raw)}`];
    throw new ExecpackError("download.ambiguous-credentials", `${variable} has an "@" after its host part: it reads as credentials holding an unencoded "/", "?" or "#"`, {
      seen,
      hint:
        `Percent-encode the user and password in ${variable} ("/" as %2F, "?" as %3F, "#" as %23, "@" as %40), or put a token in ` +
        "BINARY_TOKEN and leave it out of the URL. An \"@\" that belongs to the path is written %40. Nothing was looked up or sent.",
    });
  }
}

/**
 * BINARY_TOKEN as an Authorization header value: whitespace around it is dropped (a token copied from a file
 * often ends with a line break); one holding a control character inside cannot be sent and is refused,
 * without showing it.
 */
export function normalizeToken(token: string | undefined): string | undefined {
  const trimmed = token?.trim();
  if (!trimmed) return undefined;
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new ExecpackError("download.invalid-token", "BINARY_TOKEN holds a line break or another control character", {
      seen: [`BINARY_TOKEN: ${trimmed.length} characters, not shown`],
      hint: "Set BINARY_TOKEN again to the token alone, on one line (`heroku config:set BINARY_TOKEN=...` with the token pasted in).",
    });
  }
  return trimmed;
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

function showRawUrl(raw: string): string {
  return quote(displayDownloadUrl(raw));
}

export function showUrl(url: URL, quoted = true): string {
  const text = displayDownloadUrl(url.href);
  return quoted ? quote(text) : text;
}

export function quote(text: string): string {
  return JSON.stringify(text);
}
