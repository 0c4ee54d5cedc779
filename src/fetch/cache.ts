/**
 * The archive kept in CACHE_DIR between builds. It is trusted only after checks on this machine: its size and
 * SHA-256 match what was recorded, and the install that first used it succeeded (`confirmCache`, so a body
 * that was damaged on the way but arrived with an ETag is never kept: issue 12). Then it is reused
 *   - with BINARY_SHA256 set and equal to the recorded digest: without any request (content-addressed);
 *   - otherwise on the server's 304 to a conditional request with its ETag and Last-Modified.
 * An entry that fails a check is dropped, and the download starts over in full, without a conditional header.
 * A change of BINARY_URL or BINARY_SHA256 drops it too.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, link, mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { errorCode } from "./failures.js";
import type { DownloadResult, Session } from "./session.js";
import { showUrl } from "./url-policy.js";

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
  /** Set once an install from this archive succeeded; an unconfirmed entry is never reused. */
  confirmed?: boolean;
}

export interface Cache {
  archive: string;
  metadata: string;
  entry: CacheEntry | undefined;
}

/** The ETag and Last-Modified the server sent with the file: what a later build revalidates it with. */
export interface ServerValidators {
  etag: string | undefined;
  lastModified: string | undefined;
}

function cachePaths(dir: string): Cache {
  return { archive: join(dir, "archive"), metadata: join(dir, "archive.json"), entry: undefined };
}

export async function openCache(dir: string, session: Session): Promise<Cache> {
  const cache = cachePaths(dir);
  await sweepPartials(dir);
  const entry = await readFile(cache.metadata, "utf8").then((text) => JSON.parse(text) as CacheEntry).catch(() => undefined);
  if (!entry || typeof entry.sha256 !== "string" || typeof entry.urlDigest !== "string") return cache;
  const changed = entry.urlDigest !== digest(session.url.href) ? "BINARY_URL changed"
    : entry.pin !== (session.pin ?? null) ? "BINARY_SHA256 changed"
      : entry.confirmed !== true ? "the last build did not install from it" : undefined;
  if (changed) {
    session.log(`Ignoring the cached archive: ${changed}`);
    await dropCache(cache);
  } else {
    cache.entry = entry;
  }
  return cache;
}

/** With a pin that the kept archive was recorded under, no request is needed: the bytes are named by their digest. */
export function matchesPin(cache: Cache, session: Session): boolean {
  return session.pin !== undefined && cache.entry?.sha256 === session.pin;
}

export function validators(entry: CacheEntry): Record<string, string> {
  return { ...(entry.etag ? { "if-none-match": entry.etag } : {}), ...(entry.lastModified ? { "if-modified-since": entry.lastModified } : {}) };
}

/**
 * The kept archive, once it passes its local checks (size, SHA-256, the pin), put at the destination by a hard
 * link (no copy). Undefined, with the entry dropped, when a check fails: the caller then downloads in full.
 */
export async function reuseCached(session: Session, cache: Cache, reason: string): Promise<DownloadResult | undefined> {
  const entry = cache.entry!;
  const temp = `${session.destination}.${process.pid}.partial`;
  try {
    const { size } = await stat(cache.archive);
    const sha256 = size === entry.size ? await hashFile(cache.archive, session.stop) : undefined;
    if (sha256 !== entry.sha256 || (session.pin && sha256 !== session.pin)) throw new Error("the cached archive does not match its record");
    await rm(temp, { force: true });
    await keepCopy(cache.archive, temp);
    await rename(temp, session.destination);
    session.log(`Using cached archive (${reason})`);
    return { path: session.destination, size, sha256, contentType: entry.contentType, fromCache: true, finalUrl: entry.finalUrl };
  } catch (error) {
    await rm(temp, { force: true });
    if (session.stop.aborted) throw error;
    session.log("The cached archive is damaged or missing; downloading it again in full");
    await dropCache(cache);
    return undefined;
  }
}

/**
 * Keeps a fresh download for later builds, unconfirmed until `confirmCache`. A cache is an optimisation:
 * failing to keep one is logged, never fatal.
 */
export async function storeCache(cache: Cache, session: Session, result: DownloadResult, served: ServerValidators): Promise<void> {
  const { etag, lastModified } = served;
  const entry: CacheEntry = {
    url: showUrl(session.url, false), urlDigest: digest(session.url.href), pin: session.pin ?? null, etag, lastModified,
    sha256: result.sha256, size: result.size, contentType: result.contentType, finalUrl: result.finalUrl, confirmed: false,
  };
  try {
    await dropCache(cache);
    // Nothing to revalidate with and no pin to name it by: a kept copy could never be reused.
    if (!etag && !lastModified && !session.pin) return;
    await mkdir(dirname(cache.archive), { recursive: true });
    await keepCopy(result.path, `${cache.archive}.partial`);
    await rename(`${cache.archive}.partial`, cache.archive);
    await writeMetadata(cache, entry);
  } catch (error) {
    session.log(`Could not keep the archive in the build cache: ${errorCode(error) ?? (error as Error).message}`);
    await dropCache(cache).catch(() => {}); // already failing on this directory; the metadata went first anyway
  }
}

/** The install from the kept archive succeeded: later builds may reuse it. */
export async function confirmCache(dir: string): Promise<void> {
  const cache = cachePaths(dir);
  const entry = await readFile(cache.metadata, "utf8").then((text) => JSON.parse(text) as CacheEntry).catch(() => undefined);
  if (!entry || entry.confirmed) return;
  await writeMetadata(cache, { ...entry, confirmed: true }).catch(() => {}); // unconfirmed, it is fetched again: safe
}

/** The kept archive could not be installed from: it must never be reused. */
export async function forgetCache(dir: string): Promise<void> {
  await dropCache(cachePaths(dir));
}

async function writeMetadata(cache: Cache, entry: CacheEntry): Promise<void> {
  await writeFile(`${cache.metadata}.partial`, `${JSON.stringify(entry, null, 2)}\n`);
  await rename(`${cache.metadata}.partial`, cache.metadata);
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

/** A file in the works is written to at least once a minute (the body's idle timeout); older ones were left by a killed build. */
const ABANDONED_AFTER_MS = 10 * 60_000;

/** Removes `*.partial` files a killed build left in `dir` (a concurrent build's, still being written, stay). */
export async function sweepPartials(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((entry) => entry.endsWith(".partial"))) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile() && Date.now() - info.mtimeMs > ABANDONED_AFTER_MS) await rm(path, { force: true });
  }
}

async function hashFile(path: string, signal: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024, signal })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
