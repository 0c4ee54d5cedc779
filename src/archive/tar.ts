/**
 * tar, tar.gz, tar.xz, and single gzip/xz-compressed binaries: one streaming pass. The download is
 * decompressed once (decompress.ts) and read as it streams; nothing is extracted to the path an entry names.
 */
import { once } from "node:events";
import { basename } from "node:path";
import { Parser } from "tar";
import type { ReadEntry } from "tar";
import { asArchiveError, bounded, formatBytes, normalizeEntryPath, refuseUnsafePath, tooLarge, tooManyEntries } from "./safety.js";
import type { ArchiveEntry, ArchiveFormat, ExtractResult, Job } from "./types.js";
import { peek } from "./byte-stream.js";
import { chooseBinary, isSharedLibrary, lastByPath, matchesBinaryName, requireRunnable } from "./choose-binary.js";
import { decompressed } from "./decompress.js";
import type { StreamedFormat } from "./decompress.js";
import { ELF_HEADER_BYTES, describeFile, isRunnableOn, readElfHeader } from "./elf.js";
import { TempFile, install } from "./install-file.js";

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
 * Decompresses once and decides on the first decompressed block: a tar is scanned, anything else is a
 * single compressed file that must itself be the binary.
 */
export async function extractFromStream(job: Job, format: StreamedFormat): Promise<ExtractResult> {
  let release: (() => Promise<unknown>) | undefined;
  try {
    const peeked = await peek(bounded(job, decompressed(format, job.archivePath)), TAR_BLOCK);
    release = peeked.release;
    const { head, all } = peeked;
    if (isTarHeader(head)) return await scanTar(all, job, format);
    const name = basename(job.archivePath);
    const packing = format === "tar.xz" ? "xz" : "gzip";
    requireRunnable(job, name, head.subarray(0, ELF_HEADER_BYTES), `${packing}-compressed `);
    const installed = await install(job.destination, all);
    return { entry: name, ...installed, format: packing, candidates: [name] };
  } catch (error) {
    throw asArchiveError(error, format);
  } finally {
    await release?.();
  }
}

interface Scanned {
  entry: ArchiveEntry;
  /** A runnable candidate, already written beside the destination while the archive streamed past. */
  temp: TempFile | undefined;
}

/**
 * One pass over a tar stream. Each runnable candidate is written to a temp file as it streams past, so the
 * archive is decompressed once (xz is slow) and memory stays at one chunk; the choice is made at the end,
 * when every entry is known. Disk use is bounded by the candidates, which maxTotalBytes bounds.
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
  parser.on("ignoredEntry", countEntry);
  parser.on("entry", (entry: ReadEntry) => {
    if (abort.signal.aborted || !countEntry()) return void entry.resume();
    reading.add(entry);
    const task = scanTarEntry(entry, job).finally(() => reading.delete(entry));
    task.catch(fail);
    tasks.push(task);
  });

  try {
    for await (const chunk of chunks) {
      abort.signal.throwIfAborted();
      if (!parser.write(chunk)) await once(parser, "drain", { signal: abort.signal });
    }
    const ended = once(parser, "end", { signal: abort.signal });
    parser.end();
    await ended;
    const scanned = (await Promise.all(tasks)).filter((item) => item !== undefined);
    return await installChosen(scanned, job, format);
  } catch (error) {
    fail(error);
    throw abort.signal.reason;
  } finally {
    await discardAll(tasks);
  }
}

async function scanTarEntry(entry: ReadEntry, job: Job): Promise<Scanned | undefined> {
  refuseUnsafePath(entry.path);
  const path = normalizeEntryPath(entry.path);
  if (entry.size > job.maxTotalBytes) throw tooLarge(job, `entry "${path}" declares ${formatBytes(entry.size)}`);
  const kind = tarKind(entry.type);
  if (kind !== "file" || path === "") {
    entry.resume();
    if (path === "") return undefined; // the archive's own root, "./"
    return { entry: { path, kind, description: tarDescription(entry, kind), runnable: false }, temp: undefined };
  }
  const { head, all } = await peek(entry, ELF_HEADER_BYTES);
  const header = readElfHeader(head);
  const runnable = header !== undefined && isRunnableOn(header, job.architecture);
  const description = describeFile(head.subarray(0, ELF_HEADER_BYTES));
  const scanned: Scanned = { entry: { path, kind, description, runnable }, temp: undefined };
  if (!runnable || !worthKeeping(path, job)) {
    entry.resume(); // discards the rest of the entry
    return scanned;
  }
  scanned.temp = await TempFile.create(job.destination);
  try {
    for await (const chunk of all) await scanned.temp.write(chunk);
  } catch (error) {
    await scanned.temp.discard();
    throw error;
  }
  return scanned;
}

/** Only what could be chosen is written to disk: every candidate, or with BINARY_NAME the ones it matches. */
function worthKeeping(path: string, job: Job): boolean {
  return job.binaryName === undefined ? !isSharedLibrary(path) : matchesBinaryName(path, job.binaryName);
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

/** Picks from the scanned entries and moves the chosen one, already on disk, into place. */
async function installChosen(scanned: readonly Scanned[], job: Job, format: ArchiveFormat): Promise<ExtractResult> {
  const byPath = lastByPath(scanned);
  const { chosen, candidates } = chooseBinary([...byPath.values()].map((item) => item.entry), job);
  const temp = byPath.get(chosen.path)?.temp;
  // chooseBinary only returns runnable files that worthKeeping accepted, and every such file was kept.
  if (!temp) throw new Error(`internal: no temp file kept for "${chosen.path}"`);
  const installed = await temp.commit();
  return { entry: chosen.path, ...installed, format, candidates };
}

async function discardAll(tasks: readonly Promise<Scanned | undefined>[]): Promise<void> {
  const settled = await Promise.allSettled(tasks);
  // A committed temp file no longer exists under its temp name; discard() then finds nothing to remove.
  await Promise.all(settled.map((outcome) => (outcome.status === "fulfilled" ? outcome.value?.temp?.discard() : undefined)));
}
