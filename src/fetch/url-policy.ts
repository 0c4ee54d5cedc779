/**
 * BINARY_URL before anything is fetched: parsed, its transport checked (again at every redirect), what it
 * is asked for, and how a URL is shown in messages (credentials masked, query cut).
 */
import { isIP } from "node:net";
import { ExecpackError } from "../common/errors.js";
import { displayUrl } from "../common/secrets.js";

export function parseSourceUrl(raw: string): URL {
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
  return quote(displayUrl(raw));
}

export function showUrl(url: URL, quoted = true): string {
  const text = displayUrl(url.href);
  return quoted ? quote(text) : text;
}

export function quote(text: string): string {
  return JSON.stringify(text);
}
