/**
 * From a downloaded release to one installed binary: recognise the format by its magic bytes, stream the
 * archive once, pick the Linux binary for the dyno's architecture, and move it into place atomically.
 *
 * Nothing is ever extracted to the path an entry names: the only file written is a temp file beside the
 * destination, renamed over it once complete. A failure at any point leaves the previous binary untouched.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, stat, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { constants as zlibConstants, crc32, createGunzip, createInflateRaw, gunzipSync } from "node:zlib";
import { Parser } from "tar";
import type { ReadEntry } from "tar";
import yauzl from "yauzl";
import type { Entry as ZipEntry, ZipFile } from "yauzl";
import { ELF_HEADER_BYTES, describeFile, dynoArchitecture, isRunnableOn, readElfHeader } from "./elf.js";
import type { Architecture } from "./elf.js";
import { ExecpackError } from "./errors.js";
import { maskUrl } from "./secrets.js";

export type ArchiveFormat = "zip" | "tar.gz" | "tar.xz" | "gzip" | "tar" | "elf";

export interface ExtractOptions {
  /** The downloaded file. */
  archivePath: string;
  /** Final path of the installed binary. A temp file beside it is renamed over it once complete. */
  destination: string;
  /** BINARY_NAME: an exact entry path, a basename, or a glob (`*`, `?`, `**`) matched against entry paths. */
  binaryName?: string;
  /** Defaults to dynoArchitecture(). */
  architecture?: Architecture;
  /** Archive-bomb bounds: uncompressed bytes (default 2 GiB) and entries (default 10,000). */
  limits?: { maxTotalBytes?: number; maxEntries?: number };
  /** The Content-Type the server sent, shown when the download is not an archive. */
  contentType?: string;
}

export interface ExtractResult {
  /** The entry installed; for a bare or single compressed binary, the download's file name. */
  entry: string;
  size: number;
  /** SHA-256 (hex) of the installed binary. */
  sha256: string;
  /** The format read: an ArchiveFormat, or "xz" for a single xz-compressed binary. */
  format: string;
  /** Every entry that would run on the architecture, in archive order. */
  candidates: string[];
}

/** How much of the download detectFormat is given. */
export const SNIFF_BYTES = 64 * 1024;
const DEFAULT_MAX_TOTAL_BYTES = 2 * 1024 ** 3;
const DEFAULT_MAX_ENTRIES = 10_000;
const TAR_BLOCK = 512;
/** Entries listed in an error before "... and N more". */
const LISTED_ENTRIES = 20;
/**
 * Chunk sizes of the extraction. Node's defaults (64 KiB reads, 16 KiB of inflated output) cut a 200 MB
 * binary into some 13,000 chunks, each a hash update, a write and a trip through the stream machinery:
 * that overhead, not zlib, made extraction take half again as long as `unzip` (bench/fetch.ts). Larger
 * chunks are barely faster but cost memory: spent chunks wait for a garbage collection, and the fewer the
 * chunks the rarer those are (1 MiB chunks added some 40 MiB to the peak RSS).
 */
const READ_CHUNK = 256 * 1024;
const INFLATE_CHUNK = 256 * 1024;

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04]; // "PK\3\4", a local file header
const EMPTY_ZIP_MAGIC = [0x50, 0x4b, 0x05, 0x06]; // "PK\5\6", end of central directory only
const GZIP_MAGIC = [0x1f, 0x8b];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

// ---------------------------------------------------------------------------------------------------------
// Recognising the download

/** The format of a download from its first bytes (SNIFF_BYTES is plenty), never from its name or URL. */
export function detectFormat(firstBytes: Uint8Array): ArchiveFormat | undefined {
  if (startsWith(firstBytes, ZIP_MAGIC) || startsWith(firstBytes, EMPTY_ZIP_MAGIC)) return "zip";
  if (startsWith(firstBytes, GZIP_MAGIC)) return isTarHeader(gunzipPrefix(firstBytes)) ? "tar.gz" : "gzip";
  if (startsWith(firstBytes, XZ_MAGIC)) return "tar.xz";
  if (startsWith(firstBytes, ELF_MAGIC)) return "elf";
  if (isTarHeader(firstBytes)) return "tar";
  return undefined;
}

/**
 * The first decompressed bytes of a gzip stream that may be cut anywhere. Only 4 KiB of input is inflated,
 * so a gzip bomb cannot make this allocate more than a few megabytes.
 */
function gunzipPrefix(bytes: Uint8Array): Uint8Array {
  try {
    return gunzipSync(bytes.subarray(0, 4096), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    // A damaged stream is reported by the extraction itself, with zlib's reason; here it is just "not a tar".
    return new Uint8Array(0);
  }
}

/** A tar header: "ustar" at offset 257 (POSIX and GNU), or a pre-POSIX header whose checksum adds up. */
function isTarHeader(bytes: Uint8Array): boolean {
  if (bytes.length >= 262 && Buffer.from(bytes.subarray(257, 262)).toString("latin1") === "ustar") return true;
  if (bytes.length < TAR_BLOCK) return false;
  const stored = Number.parseInt(Buffer.from(bytes.subarray(148, 156)).toString("latin1").replace(/[\0 ]/g, ""), 8);
  let sum = 0;
  for (let index = 0; index < TAR_BLOCK; index++) sum += index >= 148 && index < 156 ? 0x20 : (bytes[index] ?? 0);
  return sum === stored && sum !== 8 * 0x20; // an all-zero block is the end of an archive, not a header
}

// ---------------------------------------------------------------------------------------------------------
// Extraction

interface Job {
  archivePath: string;
  destination: string;
  binaryName: string | undefined;
  architecture: Architecture;
  maxTotalBytes: number;
  maxEntries: number;
}

export async function extractBinary(options: ExtractOptions): Promise<ExtractResult> {
  const job: Job = {
    archivePath: options.archivePath,
    destination: options.destination,
    binaryName: options.binaryName?.trim() || undefined,
    architecture: options.architecture ?? dynoArchitecture(),
    maxTotalBytes: options.limits?.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES,
    maxEntries: options.limits?.maxEntries ?? DEFAULT_MAX_ENTRIES,
  };
  const head = await readFileHead(job.archivePath, SNIFF_BYTES);
  const format = detectFormat(head);
  switch (format) {
    case undefined:
      throw notAnArchive(job, head, options.contentType, (await stat(job.archivePath)).size);
    case "zip":
      return extractFromZip(job);
    case "elf":
      return installBareBinary(job, head);
    default:
      return extractFromStream(job, format);
  }
}

async function readFileHead(path: string, length: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** What each entry of an archive is, as far as choosing and reporting need. */
export interface ArchiveEntry {
  /** Normalised: no "./" prefix, no trailing "/". */
  path: string;
  kind: "file" | "directory" | "symlink" | "hardlink" | "device";
  /** For messages: "text", "ELF aarch64", "Windows PE", "symlink to \"app\"". */
  description: string;
  /** A regular file holding an ELF the dyno can run. */
  runnable: boolean;
}

async function installBareBinary(job: Job, head: Buffer): Promise<ExtractResult> {
  const name = basename(job.archivePath);
  requireRunnable(job, name, head, "");
  const installed = await install(job.destination, bounded(job, createReadStream(job.archivePath, { highWaterMark: READ_CHUNK })));
  return { entry: name, ...installed, format: "elf", candidates: [name] };
}

/** A download that is a single file (maybe compressed, `packing` says how) must itself be the binary. */
function requireRunnable(job: Job, name: string, head: Uint8Array, packing: string): void {
  const header = readElfHeader(head);
  if (header && isRunnableOn(header, job.architecture)) return;
  const description = `${packing}${describeFile(head)}`;
  throw noLinuxBinary(job, [{ path: name, kind: "file", description, runnable: false }], { single: true });
}

// ---------------------------------------------------------------------------------------------------------
// tar, tar.gz, tar.xz, and single gzip/xz-compressed binaries: one streaming pass

/**
 * Decompresses once and decides on the first decompressed block: a tar is scanned, anything else is a
 * single compressed file that must itself be the binary.
 */
async function extractFromStream(job: Job, format: "tar" | "tar.gz" | "tar.xz" | "gzip"): Promise<ExtractResult> {
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

/** The uncompressed bytes of the download. Iterating to the end, or stopping early, releases everything. */
function decompressed(format: "tar" | "tar.gz" | "tar.xz" | "gzip", path: string): AsyncIterable<Buffer> {
  switch (format) {
    case "tar":
      return createReadStream(path, { highWaterMark: READ_CHUNK });
    case "tar.gz":
    case "gzip":
      return gunzipFile(path);
    case "tar.xz":
      return xzDecompress(path);
  }
}

async function* gunzipFile(path: string): AsyncGenerator<Buffer> {
  const gunzip = createGunzip({ chunkSize: INFLATE_CHUNK });
  const reading = pipeline(createReadStream(path, { highWaterMark: READ_CHUNK }), gunzip);
  // A read error destroys `gunzip` with that error, so it surfaces in the loop below; when the consumer
  // stops early, the "premature close" reported here is expected.
  reading.catch(() => undefined);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
    await reading;
  } finally {
    gunzip.destroy();
  }
}

/**
 * xz: Node has no xz decoder, so this runs the system `xz`, which every Heroku stack image ships (build and
 * run images alike, so BINARY_FETCH=boot works too). A library would mean a native addon to bundle per
 * architecture (@napi-rs/lzma) or a WebAssembly/JS decoder several times slower than xz itself; spawning
 * keeps the slug free of both and streams with the pipe's backpressure.
 */
async function* xzDecompress(path: string): AsyncGenerator<Buffer> {
  const child = spawn("xz", ["--decompress", "--stdout", "--", path], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  // When the consumer stops early this promise is never awaited; its error, if any, is then moot.
  exited.catch(() => undefined);
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr = (stderr + text).slice(0, 1000);
  });
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited;
    if (code !== 0) throw new Error(stderr.trim() || `xz exited with status ${code}`);
  } catch (error) {
    if (isSystemError(error) && error.code === "ENOENT" && error.syscall.startsWith("spawn")) throw xzUnavailable(error);
    throw error;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
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

/** When an archive holds a path twice, the last one wins, as when extracting it. Archive order is kept. */
function lastByPath<T extends { entry: ArchiveEntry }>(items: readonly T[]): Map<string, T> {
  const byPath = new Map<string, T>();
  for (const item of items) {
    byPath.delete(item.entry.path);
    byPath.set(item.entry.path, item);
  }
  return byPath;
}

async function discardAll(tasks: readonly Promise<Scanned | undefined>[]): Promise<void> {
  const settled = await Promise.allSettled(tasks);
  // A committed temp file no longer exists under its temp name; discard() then finds nothing to remove.
  await Promise.all(settled.map((outcome) => (outcome.status === "fulfilled" ? outcome.value?.temp?.discard() : undefined)));
}

// ---------------------------------------------------------------------------------------------------------
// zip: the central directory lists every entry, so classify from each entry's first bytes, then read one

interface ZipScanned {
  entry: ArchiveEntry;
  zipEntry: ZipEntry;
}

async function extractFromZip(job: Job): Promise<ExtractResult> {
  let zip: ZipFile;
  try {
    // decodeStrings: false so that names are checked here and an escaping name gets its own error.
    zip = await yauzl.openPromise(job.archivePath, { autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (error) {
    throw asArchiveError(error, "zip");
  }
  try {
    if (zip.entryCount > job.maxEntries) throw tooManyEntries(job);
    const byPath = lastByPath(await scanZip(zip, job));
    const { chosen, candidates } = chooseBinary([...byPath.values()].map((item) => item.entry), job);
    const zipEntry = byPath.get(chosen.path)?.zipEntry;
    if (!zipEntry) throw new Error(`internal: "${chosen.path}" chosen but not scanned`);
    const installed = await install(job.destination, bounded(job, zipEntryData(zip, zipEntry, chosen.path, job.archivePath)));
    return { entry: chosen.path, ...installed, format: "zip", candidates };
  } catch (error) {
    throw asArchiveError(error, "zip");
  } finally {
    zip.close();
  }
}

async function scanZip(zip: ZipFile, job: Job): Promise<ZipScanned[]> {
  const scanned: ZipScanned[] = [];
  let declaredBytes = 0;
  let count = 0;
  for await (const zipEntry of zip.eachEntry()) {
    count += 1;
    if (count > job.maxEntries) throw tooManyEntries(job);
    const rawName = yauzl.getFileNameLowLevel(
      zipEntry.generalPurposeBitFlag,
      zipEntry.fileNameRaw,
      zipEntry.extraFields,
      false,
    );
    // Zip tools on Windows write "\" separators; read them as separators so "..\" cannot slip through.
    const name = rawName.replaceAll("\\", "/");
    refuseUnsafePath(name);
    declaredBytes += zipEntry.uncompressedSize;
    if (declaredBytes > job.maxTotalBytes) {
      throw tooLarge(job, `the entries declare ${formatBytes(declaredBytes)} uncompressed`);
    }
    const path = normalizeEntryPath(name);
    if (path === "") continue;
    scanned.push({ entry: await classifyZipEntry(zip, zipEntry, name, job), zipEntry });
  }
  return scanned;
}

const S_IFMT = 0o170000;
const UNIX_HOSTS = new Set([3, 19]); // "version made by" hosts whose attributes hold a Unix mode: Unix, OS X

async function classifyZipEntry(zip: ZipFile, zipEntry: ZipEntry, name: string, job: Job): Promise<ArchiveEntry> {
  const path = normalizeEntryPath(name);
  const mode = UNIX_HOSTS.has(zipEntry.versionMadeBy >> 8) ? (zipEntry.externalFileAttributes >>> 16) & S_IFMT : 0;
  const isDirectory = name.endsWith("/") || mode === 0o040000 || (zipEntry.externalFileAttributes & 0x10) !== 0;
  if (isDirectory) return { path, kind: "directory", description: "directory", runnable: false };
  if (mode === 0o120000) {
    const target = (await readZipHead(zip, zipEntry, 1024)).toString("utf8");
    return { path, kind: "symlink", description: `symlink to "${target}"`, runnable: false };
  }
  // A file written on Windows, or by a tool that left the mode out, has no type bits: a regular file.
  if (mode !== 0 && mode !== 0o100000) return { path, kind: "device", description: "device or pipe", runnable: false };
  if (zipEntry.isEncrypted()) return { path, kind: "file", description: "encrypted", runnable: false };
  if (zipEntry.compressionMethod !== 0 && zipEntry.compressionMethod !== 8) {
    const description = `compressed with unsupported method ${zipEntry.compressionMethod}`;
    return { path, kind: "file", description, runnable: false };
  }
  const head = zipEntry.uncompressedSize === 0 ? Buffer.alloc(0) : await readZipHead(zip, zipEntry, ELF_HEADER_BYTES);
  const header = readElfHeader(head);
  const runnable = header !== undefined && isRunnableOn(header, job.architecture);
  return { path, kind: "file", description: describeFile(head), runnable };
}

/**
 * The uncompressed bytes of a zip entry, checked against the size and CRC-32 the central directory declares
 * (yauzl checks neither the CRC nor, through this path, the size). The deflated range is read and inflated
 * here rather than by yauzl's openReadStream, whose 64 KiB reads and 16 KiB inflate chunks cannot be sized.
 */
async function* zipEntryData(zip: ZipFile, zipEntry: ZipEntry, path: string, archivePath: string): AsyncGenerator<Buffer> {
  // Checks the local header's signature and finds where the data starts (the header's own fields are ignored).
  const { fileDataStart } = await zip.readLocalFileHeaderPromise(zipEntry, { minimal: true });
  const expected = zipEntry.uncompressedSize;
  let size = 0;
  let crc = 0;
  const chunks = zipEntry.compressedSize === 0 ? [] : inflatedRange(archivePath, fileDataStart, zipEntry.compressedSize, zipEntry.compressionMethod === 8);
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > expected) throw new Error(`entry '${path}' holds more than the ${expected} bytes the zip declares`);
    crc = crc32(chunk, crc);
    yield chunk;
  }
  if (size !== expected) throw new Error(`entry '${path}' holds ${size} bytes, the zip declares ${expected}`);
  if (crc !== zipEntry.crc32) throw new Error(`entry '${path}' fails its CRC-32 check`);
}

/** `length` bytes of the file from `start`, inflated (raw deflate) when `deflated`; stopping early releases both. */
async function* inflatedRange(path: string, start: number, length: number, deflated: boolean): AsyncGenerator<Buffer> {
  const raw = createReadStream(path, { start, end: start + length - 1, highWaterMark: READ_CHUNK });
  if (!deflated) {
    try {
      for await (const chunk of raw) yield chunk as Buffer;
    } finally {
      raw.destroy();
    }
    return;
  }
  const inflate = createInflateRaw({ chunkSize: INFLATE_CHUNK });
  const reading = pipeline(raw, inflate);
  // As in gunzipFile: errors surface in the loop; a "premature close" after stopping early is expected.
  reading.catch(() => undefined);
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
    await reading;
  } finally {
    inflate.destroy();
  }
}

async function readZipHead(zip: ZipFile, zipEntry: ZipEntry, length: number): Promise<Buffer> {
  const stream = await zip.openReadStreamPromise(zipEntry);
  const { head } = await peek(stream, length);
  stream.destroy(); // only the head is needed; yauzl stops reading and inflating
  return head.subarray(0, length);
}

// ---------------------------------------------------------------------------------------------------------
// Choosing the binary (pure)

export interface Choice {
  chosen: ArchiveEntry;
  /** Every runnable entry (shared libraries aside), in archive order. */
  candidates: string[];
}

/**
 * Picks the binary to install. BINARY_NAME narrows the entries; among runnable candidates, those whose path
 * names Linux and the architecture ("linux", "amd64"...) win. Throws when nothing or several remain.
 */
export function chooseBinary(
  entries: readonly ArchiveEntry[],
  options: { binaryName?: string | undefined; architecture: Architecture },
): Choice {
  const { binaryName, architecture } = options;
  const candidates = entries.filter((entry) => entry.runnable && !isSharedLibrary(entry.path));
  let pool = candidates;
  if (binaryName !== undefined) {
    const matched = selectByBinaryName(entries, binaryName);
    if (matched.length === 0) throw binaryNameNotFound(binaryName, entries, architecture);
    pool = matched.filter((entry) => entry.runnable);
    if (pool.length === 0) throw notRunnableMatch(binaryName, matched, architecture);
  }
  if (pool.length === 0) throw noLinuxBinary(options, entries, { single: false });
  const best = preferred(pool, architecture);
  if (best.length > 1) throw ambiguous(best, options);
  return { chosen: best[0] as ArchiveEntry, candidates: candidates.map((entry) => entry.path) };
}

/** The candidates whose path says the most about being for Linux on this architecture. */
function preferred(pool: readonly ArchiveEntry[], architecture: Architecture): ArchiveEntry[] {
  const score = (entry: ArchiveEntry): number =>
    Number(/(^|[^a-z])linux/i.test(entry.path)) + Number(ARCHITECTURE_NAMES[architecture].test(entry.path));
  const top = Math.max(...pool.map(score));
  return pool.filter((entry) => score(entry) === top);
}

const ARCHITECTURE_NAMES: Record<Architecture, RegExp> = {
  x86_64: /(^|[^a-z0-9])(amd64|x86[_-]64|x64)($|[^a-z0-9])/i,
  aarch64: /(^|[^a-z0-9])(arm64|aarch64)($|[^a-z0-9])/i,
};

/** libfoo.so, libfoo.so.1.2: ELF like a PIE program, never what a release means to run. */
function isSharedLibrary(path: string): boolean {
  return /\.so(\.\d+)*$/.test(path);
}

/** An exact path wins; otherwise a glob, or a plain name compared with each entry's basename. */
function selectByBinaryName(entries: readonly ArchiveEntry[], binaryName: string): ArchiveEntry[] {
  const wanted = normalizeEntryPath(binaryName);
  const exact = entries.filter((entry) => entry.path === wanted);
  if (exact.length > 0) return exact;
  return entries.filter((entry) => entry.kind !== "directory" && matchesBinaryName(entry.path, binaryName));
}

/** BINARY_NAME as exact path, basename, or glob. A glob without "/" may also match just the basename. */
function matchesBinaryName(path: string, binaryName: string): boolean {
  const wanted = normalizeEntryPath(binaryName);
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (!/[*?]/.test(wanted)) return path === wanted || name === wanted;
  const pattern = globToRegExp(wanted);
  return pattern.test(path) || (!wanted.includes("/") && pattern.test(name));
}

/** `**` crosses directories, `*` and `?` stay within one; everything else is literal. */
function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let index = 0; index < glob.length; index++) {
    const char = glob[index] as string;
    if (char === "*" && glob[index + 1] === "*") {
      index += 1;
      if (glob[index + 1] === "/") {
        index += 1;
        source += "(?:.*/)?";
      } else {
        source += ".*";
      }
    } else if (char === "*") {
      source += "[^/]*";
    } else if (char === "?") {
      source += "[^/]";
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`, "s");
}

// ---------------------------------------------------------------------------------------------------------
// Paths and streams

/** Absolute paths and ".." segments: a zip-slip attempt or a broken packer, refused wherever they appear. */
function refuseUnsafePath(path: string): void {
  let reason: string;
  if (path.startsWith("/") || /^[a-z]:/i.test(path)) reason = "an absolute path";
  else if (path.split("/").includes("..")) reason = 'a ".." segment';
  else return;
  const summary = `The archive holds an entry with ${reason}, which could escape its directory`;
  throw new ExecpackError("archive.unsafe-entry", summary, {
    seen: [`entry: "${path}"`],
    hint:
      "execpack refuses archives whose entries point outside their directory (a zip-slip attack or a broken " +
      "release tool). Use the archive the project publishes for Linux, or report it to the project.",
  });
}

function normalizeEntryPath(path: string): string {
  return path
    .split("/")
    .filter((segment) => segment !== "" && segment !== ".")
    .join("/");
}

/**
 * Reads until `length` bytes (or the end). `all` then yields everything, the head included, exactly once;
 * `release` stops the source when `all` is not read to its end (it may then be an xz process to end).
 */
async function peek(
  source: AsyncIterable<Buffer>,
  length: number,
): Promise<{ head: Buffer; all: AsyncIterable<Buffer>; release: () => Promise<unknown> }> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < length) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    size += next.value.length;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    while (!done) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head, all: all(), release: async () => iterator.return?.() };
}

/** Counts uncompressed bytes as they stream: headers can lie, the stream cannot. */
async function* bounded(job: Job, source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > job.maxTotalBytes) throw tooLarge(job, `more than ${formatBytes(job.maxTotalBytes)} uncompressed`);
    yield chunk;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Installing: temp file beside the destination, chmod 0755, rename
//
// No fsync: the rename already keeps a crashed or failed process from leaving a half-written binary, and
// nothing outlives a power cut here. A build that loses its machine is rerun from scratch, the slug is
// packed from the page cache, and a dyno's file system is discarded at every restart. Syncing the binary
// and the archive (download.ts) made the compile wait for the disk: a tenth of the fetch of a 200 MB binary
// on the bench machine's SSD (bench/fetch.ts), more on slower disks, for no protection.

interface Installed {
  size: number;
  sha256: string;
}

async function install(destination: string, chunks: AsyncIterable<Uint8Array>): Promise<Installed> {
  const temp = await TempFile.create(destination);
  try {
    for await (const chunk of chunks) await temp.write(chunk);
    return await temp.commit();
  } catch (error) {
    await temp.discard();
    throw error;
  }
}

class TempFile {
  readonly path: string;
  readonly destination: string;
  #handle: FileHandle | undefined;
  readonly #hash = createHash("sha256");
  #size = 0;
  /** The write in flight: the next chunk is inflated and hashed meanwhile, one write deep. */
  #pending: Promise<void> | undefined;

  private constructor(path: string, destination: string, handle: FileHandle) {
    this.path = path;
    this.destination = destination;
    this.#handle = handle;
  }

  static async create(destination: string): Promise<TempFile> {
    const path = join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      await mkdir(dirname(destination), { recursive: true });
      return new TempFile(path, destination, await open(path, "wx", 0o600));
    } catch (error) {
      throw installFailed(destination, error);
    }
  }

  /** Resolves once the chunk is hashed and the previous one written; a write error surfaces here or in commit(). */
  async write(chunk: Uint8Array): Promise<void> {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    await this.#pending;
    const handle = this.#opened();
    this.#pending = writeAll(handle, chunk).catch((error: unknown) => {
      throw installFailed(this.destination, error);
    });
    // Awaited by the next write(), commit() or discard(); until then a rejection is not unhandled.
    this.#pending.catch(() => undefined);
  }

  /** Makes the binary complete and executable (whatever mode the archive had), then swaps it in. */
  async commit(): Promise<Installed> {
    const handle = this.#opened();
    try {
      await this.#pending;
      await handle.chmod(0o755);
      this.#handle = undefined;
      await handle.close();
      await rename(this.path, this.destination);
    } catch (error) {
      await this.discard();
      throw error instanceof ExecpackError ? error : installFailed(this.destination, error);
    }
    return { size: this.#size, sha256: this.#hash.digest("hex") };
  }

  async discard(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    // Cleanup after a failure that is already being reported: a second error here would only hide it.
    await this.#pending?.catch(() => undefined);
    await handle?.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }

  #opened(): FileHandle {
    if (!this.#handle) throw new Error(`internal: temp file "${this.path}" used after it was closed`);
    return this.#handle;
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Errors

interface SystemError extends Error {
  code: string;
  syscall: string;
}

function isSystemError(error: unknown): error is SystemError {
  return error instanceof Error && typeof (error as Partial<SystemError>).syscall === "string";
}

/**
 * Library errors enter here: yauzl's and node-tar's plain Errors and zlib's Z_* codes mean the archive is
 * damaged. Our own errors pass through; a system error (reading the download failed) is not the archive's
 * fault and reaches the internal-error handler unchanged.
 */
function asArchiveError(error: unknown, format: string): unknown {
  if (error instanceof ExecpackError || isSystemError(error) || !(error instanceof Error)) return error;
  return new ExecpackError("archive.corrupt", `The ${format} archive is damaged and cannot be read`, {
    seen: [`reason: "${error.message}"`],
    hint:
      "The download is probably truncated or not the release asset. " +
      "Check BINARY_URL (and BINARY_SHA256 if set) and build again.",
    cause: error,
  });
}

function architectureLabel(architecture: Architecture): string {
  return architecture === "x86_64" ? "x86_64 (amd64)" : "aarch64 (arm64)";
}

function assetLabel(architecture: Architecture): string {
  return architecture === "x86_64" ? "linux-amd64 / linux-x86_64" : "linux-arm64 / linux-aarch64";
}

/** One line per entry, "path (what it is)", directories left out, at most LISTED_ENTRIES lines. */
function listEntries(entries: readonly ArchiveEntry[]): string[] {
  const files = entries.filter((entry) => entry.kind !== "directory");
  if (files.length === 0) return ["(no files in the archive)"];
  const lines = files.slice(0, LISTED_ENTRIES).map((entry) => `"${entry.path}" (${entry.description})`);
  if (files.length > LISTED_ENTRIES) lines.push(`... and ${files.length - LISTED_ENTRIES} more`);
  return lines;
}

function noLinuxBinary(
  job: { architecture: Architecture },
  entries: readonly ArchiveEntry[],
  { single }: { single: boolean },
): ExecpackError {
  const label = architectureLabel(job.architecture);
  const summary = single ? `The download is not a Linux ${label} binary` : `The archive holds no Linux ${label} binary`;
  return new ExecpackError("archive.no-linux-binary", summary, {
    seen: listEntries(entries),
    hint: `The dyno runs Linux on ${label}. Point BINARY_URL at the project's ${assetLabel(job.architecture)} release asset.`,
  });
}

function notRunnableMatch(binaryName: string, matched: readonly ArchiveEntry[], architecture: Architecture): ExecpackError {
  const label = architectureLabel(architecture);
  const link = matched.find((entry) => entry.kind === "symlink" || entry.kind === "hardlink" || entry.kind === "device");
  if (link) {
    const what = link.kind === "device" ? "device file" : "link";
    return new ExecpackError("archive.unsafe-entry", `BINARY_NAME "${binaryName}" names a ${what}, which execpack does not install`, {
      seen: listEntries(matched),
      hint: "Set BINARY_NAME to the regular file itself (the link's target), not to a link or a device.",
    });
  }
  return new ExecpackError("archive.no-linux-binary", `BINARY_NAME "${binaryName}" matches no Linux ${label} binary`, {
    seen: listEntries(matched),
    hint: `Set BINARY_NAME to the Linux ${label} executable in the archive, or unset it to let execpack find it.`,
  });
}

function binaryNameNotFound(binaryName: string, entries: readonly ArchiveEntry[], architecture: Architecture): ExecpackError {
  return new ExecpackError("archive.binary-name-not-found", `BINARY_NAME "${binaryName}" matches no entry in the archive`, {
    seen: listEntries(entries),
    hint:
      'Set BINARY_NAME to one of the paths above (an exact path, a file name, or a glob such as "*/server"), ' +
      `or unset it to let execpack pick the Linux ${architectureLabel(architecture)} binary.`,
  });
}

function ambiguous(best: readonly ArchiveEntry[], job: { architecture: Architecture }): ExecpackError {
  const example = (best[0] as ArchiveEntry).path;
  const label = architectureLabel(job.architecture);
  const summary = `The archive holds ${best.length} Linux ${label} binaries and none is clearly the one to run`;
  return new ExecpackError("archive.ambiguous", summary, {
    seen: listEntries(best),
    hint: `Set BINARY_NAME to the one to run, for example: heroku config:set BINARY_NAME="${example}"`,
  });
}

function tooLarge(job: Job, what: string): ExecpackError {
  return new ExecpackError("archive.too-large", `The archive is larger than execpack accepts: ${what}`, {
    seen: [`limit: ${formatBytes(job.maxTotalBytes)} uncompressed, ${job.maxEntries} entries`],
    hint:
      "An archive that expands this much is not a single-binary release (or is a decompression bomb). " +
      "Point BINARY_URL at the project's Linux release asset.",
  });
}

function tooManyEntries(job: Job): ExecpackError {
  return tooLarge(job, `more than ${job.maxEntries} entries`);
}

function xzUnavailable(cause: unknown): ExecpackError {
  const summary = 'The release is a tar.xz archive, but the "xz" program is not installed';
  return new ExecpackError("archive.xz-unavailable", summary, {
    hint:
      "Heroku's stack images ship xz. On another image install xz-utils, " +
      "or point BINARY_URL at the release's .tar.gz or .zip asset.",
    cause,
  });
}

function installFailed(destination: string, cause: unknown): ExecpackError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ExecpackError("archive.install-failed", `Could not write the binary to "${destination}"`, {
    seen: [`error: "${reason}"`],
    hint:
      isSystemError(cause) && cause.code === "ENOSPC"
        ? "The disk is full: the release is too large for the build."
        : "Check that the build directory is writable and has free space.",
    cause,
  });
}

function notAnArchive(job: Job, head: Buffer, contentType: string | undefined, size: number): ExecpackError {
  const kind = describeFile(head.subarray(0, ELF_HEADER_BYTES));
  // A macOS or Windows build, or a script, is a wrong asset rather than a wrong page: say so in those words.
  if (/^(macOS|Windows|script|Java)/.test(kind)) {
    const entry: ArchiveEntry = { path: basename(job.archivePath), kind: "file", description: kind, runnable: false };
    return noLinuxBinary(job, [entry], { single: true });
  }
  const seen = [
    `content: ${describeContent(head)}, ${formatBytes(size)}`,
    ...(contentType ? [`content type: "${contentType}"`] : []),
    // An error page may echo a signed or credentialed URL: mask it like any other URL in a message.
    `first bytes: ${JSON.stringify(maskUrl(printable(head.subarray(0, 80))))}`,
  ];
  return new ExecpackError("archive.not-an-archive", "The download is not a release archive or a Linux binary", {
    seen,
    hint:
      "BINARY_URL must point at a zip, tar.gz, tar.xz or a bare Linux binary. An HTML page usually means the URL " +
      "is a release web page, a login wall or an error page: copy the link of the asset itself.",
  });
}

function describeContent(head: Buffer): string {
  const text = head.subarray(0, 512).toString("utf8").replace(/^\uFEFF/, "").trimStart().toLowerCase();
  if (/^<!doctype html|^<html|<head[\s>]|<body[\s>]/.test(text)) return "an HTML page";
  if (text.startsWith("<?xml") || text.startsWith("<error")) return "an XML document";
  if (text.startsWith("{") || text.startsWith("[")) return "JSON";
  if (startsWith(head, [0x42, 0x5a, 0x68])) return "bzip2 data (not supported)";
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) return "zstd data (not supported)";
  if (startsWith(head, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return "a 7-Zip archive (not supported)";
  if (startsWith(head, [0x52, 0x61, 0x72, 0x21])) return "a RAR archive (not supported)";
  const kind = describeFile(head.subarray(0, ELF_HEADER_BYTES));
  return kind === "empty" ? "empty" : kind === "text" ? "text" : "binary data";
}

/** Bytes as one line of readable text: whitespace runs become a space, other control bytes a ".". */
function printable(bytes: Uint8Array): string {
  return Buffer.from(bytes)
    .toString("utf8")
    .replace(/\s+/g, " ")
    .replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, ".");
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, index) => bytes[index] === byte);
}
