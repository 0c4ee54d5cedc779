/**
 * The archive kept in CACHE_DIR between builds, revalidated with the server's ETag and Last-Modified: a
 * 304 reuses it (once it hashes to what was stored), a change of BINARY_URL or BINARY_SHA256 drops it.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeAtomically } from "./file.js";
import { errorCode } from "./failures.js";
import type { DownloadResult, Session } from "./session.js";
import { showUrl } from "./url-policy.js";
import { ExecpackError } from "../common/errors.js";

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

export async function openCache(dir: string, session: Session): Promise<Cache> {
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

export function validators(entry: CacheEntry): Record<string, string> {
  return { ...(entry.etag ? { "if-none-match": entry.etag } : {}), ...(entry.lastModified ? { "if-modified-since": entry.lastModified } : {}) };
}

/** 304: the cached copy is current, but it is copied only if it still hashes to what was stored. */
export async function reuseCached(session: Session, cache: Cache, signal: AbortSignal): Promise<DownloadResult | undefined> {
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
export async function storeCache(cache: Cache, session: Session, result: DownloadResult, served: ServerValidators): Promise<void> {
  const { etag, lastModified } = served;
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

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
