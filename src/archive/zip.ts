/**
 * zip: the central directory lists every entry, so each is classified from its first bytes, then every entry
 * that can be used on the dyno is written into the release tree, inflated here and checked against its CRC-32.
 */
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { constants as zlibConstants, crc32, createInflateRaw, inflateRawSync } from "node:zlib";
import yauzl from "yauzl";
import type { Entry as ZipEntry, ZipFile } from "yauzl";
import { asArchiveError, normalizeEntryPath, refuseUnsafePath, tooLarge, tooManyEntries } from "./safety.js";
import type { ArchiveEntry, ExtractResult, Job, Scanned } from "./types.js";
import { INFLATE_CHUNK, READ_CHUNK, SMALL_FILE_BYTES, peek, piped, spent } from "./byte-stream.js";
import { isSharedLibrary } from "./choose-binary.js";
import { ELF_HEADER_BYTES, describeFile, isRunnableOn, readElfHeader } from "./elf.js";
import { finishRelease, installedMode, runsElsewhere } from "./release.js";
import { formatBytes } from "../common/output.js";

interface ZipScanned {
  entry: ArchiveEntry;
  zipEntry: ZipEntry;
  /** Unix permission bits, when the zip was made on a Unix system. */
  mode: number | undefined;
  /** Not installed: a build for another system or architecture, or data execpack cannot read. */
  leftOut: boolean;
}

export async function extractFromZip(job: Job): Promise<ExtractResult> {
  // One descriptor for all of it: yauzl reads the central directory through it, small entries are read from it
  // with synchronous calls and large ones streamed from it, so the file cannot change between them.
  let zip: ZipFile;
  let fd: number | undefined;
  try {
    fd = openSync(job.archivePath, "r");
    // decodeStrings: false so that names are checked here and an escaping name gets its own error.
    zip = await yauzl.fromFdPromise(fd, { autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    throw asArchiveError(error, "zip");
  }
  try {
    const archive: Archive = { zip, fd, size: zip.fileSize };
    if (zip.entryCount > job.maxEntries) throw tooManyEntries(job);
    const entries = await scanZip(archive, job);
    await job.tree.create();
    const scanned: Scanned[] = [];
    for (const item of entries) scanned.push(await writeZipEntry(archive, item, job));
    return await finishRelease(job, scanned, "zip");
  } catch (error) {
    throw asArchiveError(error, "zip");
  } finally {
    zip.close(); // and the descriptor with it: yauzl's reader owns it from here
  }
}

/** The open zip: yauzl's reader of its central directory, on the descriptor every entry is read from. */
interface Archive {
  zip: ZipFile;
  fd: number;
  size: number;
}

/** Writes one entry into the release tree, in archive order (the last of one path wins), or leaves it out. */
async function writeZipEntry(archive: Archive, item: ZipScanned, job: Job): Promise<Scanned> {
  const { entry, zipEntry } = item;
  switch (entry.kind) {
    case "directory":
      await job.tree.directory(entry.path);
      return { entry };
    case "symlink":
      job.tree.link("symlink", entry.path, await readZipHead(archive, zipEntry, 4096).then((bytes) => bytes.toString("utf8")));
      return { entry };
    case "file": {
      if (item.leftOut) {
        job.tree.forget(entry.path);
        return { entry, leftOut: true };
      }
      const content = isSmall(zipEntry) ? smallEntryData(archive, zipEntry, entry.path) : zipEntryData(archive, zipEntry, entry.path);
      const hash = entry.runnable && !isSharedLibrary(entry.path);
      return { entry, written: await job.tree.file(entry.path, installedMode(item.mode, entry.runnable), content, { hash, size: zipEntry.uncompressedSize }) };
    }
    default:
      job.tree.forget(entry.path);
      return { entry, leftOut: true };
  }
}

async function scanZip(archive: Archive, job: Job): Promise<ZipScanned[]> {
  const scanned: ZipScanned[] = [];
  let declaredBytes = 0;
  let count = 0;
  for await (const zipEntry of archive.zip.eachEntry()) {
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
    scanned.push(await classifyZipEntry(archive, zipEntry, name, job));
    dropRawFields(zipEntry);
  }
  return scanned;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * An entry's name, comment and extra fields are views of a buffer yauzl allocated from Node's shared pool, and
 * each one kept a pool slab alive: a zip of 1,400 entries held 47 MB of them until the extraction ended (a
 * heap snapshot of bench/fetch.ts's child). Once classified, nothing reads them again (reading and inflating an
 * entry takes its offsets, sizes, method and flags), so they are dropped.
 */
function dropRawFields(zipEntry: ZipEntry): void {
  // Every Buffer field (the raw name, comment and extra field, and, with decodeStrings: false, the name and the
  // comment and its alias, which are the same views), whatever yauzl's version calls them.
  const fields = zipEntry as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) if (Buffer.isBuffer(fields[key])) fields[key] = NO_BYTES;
  zipEntry.extraFields = [];
}

const S_IFMT = 0o170000;
const UNIX_HOSTS = new Set([3, 19]); // "version made by" hosts whose attributes hold a Unix mode: Unix, OS X

async function classifyZipEntry(archive: Archive, zipEntry: ZipEntry, name: string, job: Job): Promise<ZipScanned> {
  const path = normalizeEntryPath(name);
  const unix = UNIX_HOSTS.has(zipEntry.versionMadeBy >> 8);
  const type = unix ? (zipEntry.externalFileAttributes >>> 16) & S_IFMT : 0;
  const mode = unix ? (zipEntry.externalFileAttributes >>> 16) & 0o7777 : undefined;
  const scanned = (entry: ArchiveEntry, leftOut = false): ZipScanned => ({ entry, zipEntry, mode, leftOut });
  const isDirectory = name.endsWith("/") || type === 0o040000 || (zipEntry.externalFileAttributes & 0x10) !== 0;
  if (isDirectory) return scanned({ path, kind: "directory", description: "directory", runnable: false });
  if (type === 0o120000) {
    const target = (await readZipHead(archive, zipEntry, 1024)).toString("utf8");
    return scanned({ path, kind: "symlink", description: `symlink to "${target}"`, runnable: false });
  }
  // A file written on Windows, or by a tool that left the mode out, has no type bits: a regular file.
  if (type !== 0 && type !== 0o100000) return scanned({ path, kind: "device", description: "device or pipe", runnable: false }, true);
  if (zipEntry.isEncrypted()) return scanned({ path, kind: "file", description: "encrypted", runnable: false }, true);
  if (zipEntry.compressionMethod !== 0 && zipEntry.compressionMethod !== 8) {
    const description = `compressed with unsupported method ${zipEntry.compressionMethod}`;
    return scanned({ path, kind: "file", description, runnable: false }, true);
  }
  const head = zipEntry.uncompressedSize === 0 ? Buffer.alloc(0) : await readZipHead(archive, zipEntry, ELF_HEADER_BYTES);
  const header = readElfHeader(head);
  const runnable = header !== undefined && isRunnableOn(header, job.architecture);
  const description = describeFile(head);
  return scanned({ path, kind: "file", description, runnable }, runsElsewhere(header, description, job));
}

/**
 * The uncompressed bytes of a zip entry, checked against the size and CRC-32 the central directory declares
 * (yauzl checks neither the CRC nor, through this path, the size). The deflated range is read and inflated
 * here rather than by yauzl's openReadStream, whose 64 KiB reads and 16 KiB inflate chunks cannot be sized.
 */
async function* zipEntryData(archive: Archive, zipEntry: ZipEntry, path: string): AsyncGenerator<Buffer> {
  const start = dataStart(archive, zipEntry);
  let size = 0;
  let crc = 0;
  const chunks = zipEntry.compressedSize === 0 ? [] : inflatedRange(archive.fd, start, zipEntry.compressedSize, zipEntry.compressionMethod === 8);
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > zipEntry.uncompressedSize) throw moreThanDeclared(zipEntry, path);
    crc = crc32(chunk, crc);
    yield chunk;
  }
  checkWhole(zipEntry, path, size, crc);
}

function moreThanDeclared(zipEntry: ZipEntry, path: string): Error {
  return new Error(`entry '${path}' holds more than the ${zipEntry.uncompressedSize} bytes the zip declares`);
}

/** An entry's bytes, all read (`size` of them, with their CRC-32), against what the central directory declares. */
function checkWhole(zipEntry: ZipEntry, path: string, size: number, crc: number): void {
  if (size !== zipEntry.uncompressedSize) throw new Error(`entry '${path}' holds ${size} bytes, the zip declares ${zipEntry.uncompressedSize}`);
  if (crc !== zipEntry.crc32) throw new Error(`entry '${path}' fails its CRC-32 check`);
}

/**
 * Where an entry's data starts, after its local header, whose signature and bounds are checked as yauzl checks
 * them (the header's own sizes are ignored: the central directory's are the ones used).
 */
function dataStart(archive: Archive, zipEntry: ZipEntry): number {
  const header = readAt(archive, zipEntry.relativeOffsetOfLocalHeader, 30);
  const signature = header.readUInt32LE(0);
  if (signature !== 0x04034b50) throw new Error(`invalid local file header signature: 0x${signature.toString(16)}`);
  const start = zipEntry.relativeOffsetOfLocalHeader + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  if (start + zipEntry.compressedSize > archive.size) {
    throw new Error(`file data overflows file bounds: ${start} + ${zipEntry.compressedSize} > ${archive.size}`);
  }
  return start;
}

/**
 * `length` bytes of the archive from `start` (read by position, so streams share the descriptor, which stays
 * open), inflated (raw deflate) when `deflated`; stopping early releases both.
 */
function inflatedRange(fd: number, start: number, length: number, deflated: boolean): AsyncIterable<Buffer> {
  const raw = createReadStream("", { fd, autoClose: false, start, end: start + length - 1, highWaterMark: READ_CHUNK });
  return deflated ? piped(raw, createInflateRaw({ chunkSize: INFLATE_CHUNK })) : raw;
}

/**
 * An entry of at most SMALL_FILE_BYTES, compressed and not, whole: read and inflated with synchronous calls, and
 * checked like zipEntryData's. Inflating stops at the declared size, so a bomb costs nothing.
 */
function smallEntryData(archive: Archive, zipEntry: ZipEntry, path: string): Buffer {
  const data = inflateEntry(archive, zipEntry);
  if (data === undefined) throw moreThanDeclared(zipEntry, path);
  checkWhole(zipEntry, path, data.length, crc32(data));
  return data;
}

function isSmall(zipEntry: ZipEntry): boolean {
  return zipEntry.compressedSize <= SMALL_FILE_BYTES && zipEntry.uncompressedSize <= SMALL_FILE_BYTES;
}

/**
 * An entry's bytes, unchecked, or (`prefix`) what its first `prefix` compressed bytes inflate to, read and
 * inflated with synchronous calls; undefined when they inflate to more than the entry declares, or than `limit`.
 */
function inflateEntry(archive: Archive, zipEntry: ZipEntry, prefix = zipEntry.compressedSize, limit = zipEntry.uncompressedSize): Buffer | undefined {
  const raw = readAt(archive, dataStart(archive, zipEntry), Math.min(prefix, zipEntry.compressedSize));
  if (zipEntry.compressionMethod !== 8 || raw.length === 0) return raw; // no data inflates to none
  try {
    // A prefix ends mid-stream: a sync flush gives what it holds instead of an "unexpected end of file".
    const finishFlush = raw.length < zipEntry.compressedSize ? zlibConstants.Z_SYNC_FLUSH : zlibConstants.Z_FINISH;
    return inflateRawSync(raw, { maxOutputLength: Math.max(1, Math.min(zipEntry.uncompressedSize, limit)), finishFlush });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") return undefined;
    throw error;
  }
}

function readAt(archive: Archive, position: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let offset = 0; offset < length; ) {
    const read = readSync(archive.fd, bytes, offset, length - offset, position + offset);
    if (read === 0) throw new Error("unexpected EOF");
    offset += read;
  }
  return bytes;
}

/**
 * An entry's head is inflated from its first 4 KiB of compressed bytes (enough for the 4 KiB a symlink's target
 * may take), into at most 64 KiB: a file of zeros would otherwise inflate to megabytes for 64 bytes of header.
 */
const HEAD_PREFIX_BYTES = 4 * 1024;
const HEAD_LIMIT_BYTES = 64 * 1024;

/**
 * The first `length` bytes of an entry, unchecked (it may be left out), from its first few compressed bytes,
 * read and inflated with synchronous calls. Through yauzl's stream, stopped as soon as they are there, when
 * those bytes do not hold `length` (or inflate past the limit), and for an entry execpack cannot read (encrypted,
 * another method), so yauzl refuses it as it always did.
 */
async function readZipHead(archive: Archive, zipEntry: ZipEntry, length: number): Promise<Buffer> {
  const readable = !zipEntry.isEncrypted() && (zipEntry.compressionMethod === 0 || zipEntry.compressionMethod === 8);
  const prefix = readable ? inflateEntry(archive, zipEntry, HEAD_PREFIX_BYTES, HEAD_LIMIT_BYTES) : undefined;
  // Counted like written chunks (the entry's own file counts when it is written), so the heads of thousands of
  // entries, read before anything is written, are freed as they go instead of some 55 MB of them waiting for V8
  // to notice (byte-stream.ts).
  if (readable) spent(Math.min(HEAD_PREFIX_BYTES, zipEntry.compressedSize));
  if (prefix !== undefined && (prefix.length >= length || zipEntry.compressedSize <= HEAD_PREFIX_BYTES)) return prefix.subarray(0, length);
  const stream = await archive.zip.openReadStreamPromise(zipEntry);
  const { head } = await peek(stream, length);
  stream.destroy(); // only the head is needed; yauzl stops reading and inflating
  return head.subarray(0, length);
}
