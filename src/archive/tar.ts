/**
 * tar, tar.gz, tar.xz, and single gzip/xz-compressed binaries: one streaming pass. The download is
 * decompressed once (decompress.ts) and read as it streams; nothing is extracted to the path an entry names.
 */
import { once } from "node:events";
import { basename } from "node:path";
import { Parser } from "tar/parse";
import type { ReadEntry } from "tar/read-entry";
import { asArchiveError, bounded, normalizeEntryPath, refuseUnsafePath, tooLarge, tooManyEntries } from "./safety.js";
import type { ArchiveEntry, ArchiveFormat, ExtractResult, Job, Scanned } from "./types.js";
import { SMALL_FILE_BYTES, concatAll, peek } from "./byte-stream.js";
import { isSharedLibrary, noLinuxBinary, requireRunnable } from "./choose-binary.js";
import { decompressed } from "./decompress.js";
import type { StreamedFormat } from "./decompress.js";
import { ELF_HEADER_BYTES, describeFile, isRunnableOn, readElfHeader } from "./elf.js";
import { finishRelease, installedMode, runsElsewhere } from "./release.js";
import { isSharedLibraryFile } from "./runnable.js";
import { isContinuation, isOldGnuSparse, sparseFromPax, unsupportedContinuation, unsupportedSparse } from "./unsupported-entries.js";
import type { SparseEntry } from "./unsupported-entries.js";
import { formatBytes } from "../common/output.js";

const TAR_BLOCK = 512;

/** A tar header: "ustar" at offset 257 (POSIX and GNU), or a pre-POSIX header whose checksum adds up. */
export function isTarHeader(bytes: Uint8Array): boolean {
  if (bytes.length >= 262 && Buffer.from(bytes.subarray(257, 262)).toString("latin1") === "ustar") return true;
  if (bytes.length < TAR_BLOCK) return false;
  const stored = Number.parseInt(Buffer.from(bytes.subarray(148, 156)).toString("latin1").replace(/[\0 ]/g, ""), 8);
  let sum = 0;
  for (let index = 0; index < TAR_BLOCK; index++) sum += index >= 148 && index < 156 ? 0x20 : (bytes[index] ?? 0);
  return sum === stored && sum !== 8 * 0x20; // an all-zero block is the end of an archive, not a header
}

/**
 * Decompresses once and decides on the first decompressed block: a tar is extracted whole, anything else is
 * a single compressed file that must itself be the binary. `compressed` is the download from its first byte.
 */
export async function extractFromStream(job: Job, format: StreamedFormat, compressed: AsyncIterable<Buffer>): Promise<ExtractResult> {
  let release: (() => Promise<unknown>) | undefined;
  try {
    const peeked = await peek(bounded(job, decompressed(format, compressed)), TAR_BLOCK);
    release = peeked.release;
    const { head, all } = peeked;
    if (isTarHeader(head)) return await scanTar(all, job, format);
    const packing = format === "tar.xz" ? "xz" : "gzip";
    return await installSingleFile(job, head, all, packing, `${packing}-compressed `);
  } catch (error) {
    throw asArchiveError(error, format);
  } finally {
    await release?.();
  }
}

/** A download that is one file (bare, gzip or xz): it must be the binary, and it is the whole release. */
export async function installSingleFile(job: Job, head: Buffer, all: AsyncIterable<Buffer>, format: string, packing: string): Promise<ExtractResult> {
  const name = singleFileName(job);
  requireRunnable(job, name, head.subarray(0, ELF_HEADER_BYTES), packing);
  await job.tree.create();
  const written = await job.tree.file(name, 0o755, all, { hash: true });
  if (isSharedLibraryFile(`${job.tree.staging}/${name}`)) {
    // Its header alone calls a library and a PIE program alike "shared": the written file tells them apart.
    const description = `${packing}${describeFile(head.subarray(0, ELF_HEADER_BYTES))} shared library`;
    throw noLinuxBinary(job, [{ path: name, kind: "file", description, runnable: false }], { single: true });
  }
  const layout = await job.tree.finish();
  return {
    root: layout.root,
    entry: name,
    path: name,
    size: written.size,
    sha256: written.sha256 as string,
    format,
    candidates: [name],
    executables: [name],
    leftOut: [],
    files: 1,
    bytes: written.size,
  };
}

/** The download's own file name (the release name), or the local file's when there is none. */
function singleFileName(job: Job): string {
  const name = job.releaseName ?? basename(job.archivePath);
  return /^[^/\\\0]+$/.test(name) && name !== "." && name !== ".." ? name : "binary";
}

/**
 * One pass over a tar stream, writing every entry into the release tree as it streams past (each file is
 * closed when its entry ends, so a release of thousands of programs holds a handful of files open), and
 * choosing at the end, when every entry is known. The archive is decompressed once (xz is slow) and memory
 * stays at one chunk.
 */
async function scanTar(chunks: AsyncIterable<Buffer>, job: Job, format: ArchiveFormat): Promise<ExtractResult> {
  const abort = new AbortController();
  const parser = new Parser({ strict: true });
  const tasks: Promise<Scanned | undefined>[] = [];
  const reading = new Set<ReadEntry>();
  let entryCount = 0;
  const fail = (error: unknown): void => {
    if (abort.signal.aborted) return;
    abort.abort(asArchiveError(error, format));
    // Entries still being read would wait forever for data that no longer comes.
    for (const entry of reading) entry.destroy();
  };
  const countEntry = (): boolean => {
    entryCount += 1;
    if (entryCount <= job.maxEntries) return true;
    fail(tooManyEntries(job));
    return false;
  };
  parser.on("error", fail);
  // A pax header announcing a GNU sparse file comes just before its entry (unsupported-entries.ts): node-tar
  // would give the packed data as the file, and skips an old-GNU sparse entry and a multi-volume continuation,
  // so each refuses the archive.
  let sparseNext: SparseEntry | undefined;
  parser.on("meta", (headerText: string) => {
    sparseNext = sparseFromPax(headerText) ?? sparseNext;
  });
  parser.on("ignoredEntry", (entry: ReadEntry) => {
    sparseNext = undefined;
    if (!countEntry()) return;
    if (isOldGnuSparse(entry.type)) fail(unsupportedSparse(entry.path, { name: undefined, format: "old GNU" }));
    else if (isContinuation(entry.type)) fail(unsupportedContinuation(entry.path));
  });
  // Entries of one path are written in archive order: the last one wins, as when tar extracts.
  let previous: Promise<unknown> = Promise.resolve();
  parser.on("entry", (entry: ReadEntry) => {
    const sparse = sparseNext;
    sparseNext = undefined;
    if (abort.signal.aborted || !countEntry()) return void entry.resume();
    if (sparse) {
      entry.resume();
      return fail(unsupportedSparse(entry.path, sparse));
    }
    reading.add(entry);
    const after = previous;
    const task = untilAborted(scanTarEntry(entry, job, after, abort.signal), abort.signal).finally(() => reading.delete(entry));
    previous = task.catch(() => undefined);
    task.catch(fail);
    tasks.push(task);
  });

  await job.tree.create();
  try {
    for await (const chunk of chunks) {
      abort.signal.throwIfAborted();
      if (!parser.write(chunk)) await once(parser, "drain", { signal: abort.signal });
    }
    const ended = once(parser, "end", { signal: abort.signal });
    parser.end();
    await ended;
    const scanned = (await Promise.all(tasks)).filter((item) => item !== undefined);
    return await finishRelease(job, scanned, format);
  } catch (error) {
    fail(error);
    await Promise.allSettled(tasks);
    throw abort.signal.reason;
  }
}

/**
 * One entry, written once the entries before it are (`previous`). When the archive failed meanwhile (`signal`),
 * its entries were destroyed, and reading one would wait forever: the entry gives up instead, writing nothing.
 */
async function scanTarEntry(entry: ReadEntry, job: Job, previous: Promise<unknown>, signal: AbortSignal): Promise<Scanned | undefined> {
  refuseUnsafePath(entry.path);
  const path = normalizeEntryPath(entry.path);
  if (entry.size > job.maxTotalBytes) throw tooLarge(job, `entry "${path}" declares ${formatBytes(entry.size)}`);
  const kind = tarKind(entry.type);
  if (kind !== "file" || path === "") {
    entry.resume();
    if (path === "") return undefined; // the archive's own root, "./"
    const scanned: Scanned = { entry: { path, kind, description: tarDescription(entry, kind), runnable: false } };
    await previous;
    signal.throwIfAborted();
    if (kind === "directory") await job.tree.directory(path);
    else if (kind === "symlink") job.tree.link("symlink", path, entry.linkpath ?? "");
    else if (kind === "hardlink") job.tree.link("hardlink", path, hardLinkTarget(entry.linkpath ?? ""));
    else {
      job.tree.forget(path);
      scanned.leftOut = true; // devices and pipes are never created
    }
    return scanned;
  }
  const { head, all } = await peek(entry, ELF_HEADER_BYTES);
  const header = readElfHeader(head);
  const runnable = header !== undefined && isRunnableOn(header, job.architecture);
  const description = describeFile(head.subarray(0, ELF_HEADER_BYTES));
  const scanned: Scanned = { entry: { path, kind, description, runnable } };
  await previous;
  signal.throwIfAborted();
  if (runsElsewhere(header, description, job)) {
    entry.resume(); // discards the rest of the entry
    job.tree.forget(path);
    scanned.leftOut = true;
    return scanned;
  }
  const content = entry.size <= SMALL_FILE_BYTES ? await concatAll(all) : all; // node-tar yields exactly entry.size bytes
  signal.throwIfAborted();
  scanned.written = await job.tree.file(path, installedMode(entry.mode, runnable), content, { hash: runnable && !isSharedLibrary(path), size: entry.size });
  return scanned;
}

/**
 * `task`, or the archive's failure as soon as there is one. A destroyed entry's stream never answers a read that
 * starts after it was destroyed (minipass), so a task in the middle of a file would otherwise wait forever, and
 * the extraction with it; it stops at that read, having written nothing more.
 */
function untilAborted<T>(task: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    task.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** A hard link names another entry by its archive path: refused like any entry path when it could escape. */
function hardLinkTarget(linkpath: string): string {
  refuseUnsafePath(linkpath);
  return normalizeEntryPath(linkpath);
}

function tarKind(type: string): ArchiveEntry["kind"] {
  switch (type) {
    case "File":
    case "OldFile":
    case "ContiguousFile":
      return "file";
    case "Directory":
    case "GNUDumpDir":
      return "directory";
    case "SymbolicLink":
      return "symlink";
    case "Link":
      return "hardlink";
    default:
      return "device"; // CharacterDevice, BlockDevice, FIFO
  }
}

function tarDescription(entry: ReadEntry, kind: ArchiveEntry["kind"]): string {
  if (kind === "symlink") return `symlink to "${entry.linkpath ?? ""}"`;
  if (kind === "hardlink") return `hard link to "${entry.linkpath ?? ""}"`;
  if (kind === "directory") return "directory";
  return entry.type === "FIFO" ? "named pipe" : `${entry.type === "BlockDevice" ? "block" : "character"} device`;
}
