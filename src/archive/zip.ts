/**
 * zip: the central directory lists every entry, so each is classified from its first bytes, then every entry
 * that can be used on the dyno is written into the release tree, inflated here and checked against its CRC-32.
 */
import { createReadStream } from "node:fs";
import { crc32, createInflateRaw } from "node:zlib";
import yauzl from "yauzl";
import type { Entry as ZipEntry, ZipFile } from "yauzl";
import { asArchiveError, normalizeEntryPath, refuseUnsafePath, tooLarge, tooManyEntries } from "./safety.js";
import type { ArchiveEntry, ExtractResult, Job, Scanned } from "./types.js";
import { INFLATE_CHUNK, READ_CHUNK, peek, piped } from "./byte-stream.js";
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
  let zip: ZipFile;
  try {
    // decodeStrings: false so that names are checked here and an escaping name gets its own error.
    zip = await yauzl.openPromise(job.archivePath, { autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (error) {
    throw asArchiveError(error, "zip");
  }
  try {
    if (zip.entryCount > job.maxEntries) throw tooManyEntries(job);
    const entries = await scanZip(zip, job);
    await job.tree.create();
    const scanned: Scanned[] = [];
    for (const item of entries) scanned.push(await writeZipEntry(zip, item, job));
    return await finishRelease(job, scanned, "zip");
  } catch (error) {
    throw asArchiveError(error, "zip");
  } finally {
    zip.close();
  }
}

/** Writes one entry into the release tree, in archive order (the last of one path wins), or leaves it out. */
async function writeZipEntry(zip: ZipFile, item: ZipScanned, job: Job): Promise<Scanned> {
  const { entry, zipEntry } = item;
  switch (entry.kind) {
    case "directory":
      await job.tree.directory(entry.path);
      return { entry };
    case "symlink":
      job.tree.link("symlink", entry.path, await readZipHead(zip, zipEntry, 4096).then((bytes) => bytes.toString("utf8")));
      return { entry };
    case "file": {
      if (item.leftOut) {
        job.tree.forget(entry.path);
        return { entry, leftOut: true };
      }
      const chunks = zipEntryData(zip, zipEntry, entry.path, job.archivePath);
      const hash = entry.runnable && !isSharedLibrary(entry.path);
      return { entry, written: await job.tree.file(entry.path, installedMode(item.mode, entry.runnable), chunks, { hash, size: zipEntry.uncompressedSize }) };
    }
    default:
      job.tree.forget(entry.path);
      return { entry, leftOut: true };
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
    scanned.push(await classifyZipEntry(zip, zipEntry, name, job));
  }
  return scanned;
}

const S_IFMT = 0o170000;
const UNIX_HOSTS = new Set([3, 19]); // "version made by" hosts whose attributes hold a Unix mode: Unix, OS X

async function classifyZipEntry(zip: ZipFile, zipEntry: ZipEntry, name: string, job: Job): Promise<ZipScanned> {
  const path = normalizeEntryPath(name);
  const unix = UNIX_HOSTS.has(zipEntry.versionMadeBy >> 8);
  const type = unix ? (zipEntry.externalFileAttributes >>> 16) & S_IFMT : 0;
  const mode = unix ? (zipEntry.externalFileAttributes >>> 16) & 0o7777 : undefined;
  const scanned = (entry: ArchiveEntry, leftOut = false): ZipScanned => ({ entry, zipEntry, mode, leftOut });
  const isDirectory = name.endsWith("/") || type === 0o040000 || (zipEntry.externalFileAttributes & 0x10) !== 0;
  if (isDirectory) return scanned({ path, kind: "directory", description: "directory", runnable: false });
  if (type === 0o120000) {
    const target = (await readZipHead(zip, zipEntry, 1024)).toString("utf8");
    return scanned({ path, kind: "symlink", description: `symlink to "${target}"`, runnable: false });
  }
  // A file written on Windows, or by a tool that left the mode out, has no type bits: a regular file.
  if (type !== 0 && type !== 0o100000) return scanned({ path, kind: "device", description: "device or pipe", runnable: false }, true);
  if (zipEntry.isEncrypted()) return scanned({ path, kind: "file", description: "encrypted", runnable: false }, true);
  if (zipEntry.compressionMethod !== 0 && zipEntry.compressionMethod !== 8) {
    const description = `compressed with unsupported method ${zipEntry.compressionMethod}`;
    return scanned({ path, kind: "file", description, runnable: false }, true);
  }
  const head = zipEntry.uncompressedSize === 0 ? Buffer.alloc(0) : await readZipHead(zip, zipEntry, ELF_HEADER_BYTES);
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

/**
 * `length` bytes of the file from `start`, inflated (raw deflate) when `deflated`; stopping early releases both
 * (a file stream destroys itself when a loop over it stops).
 */
function inflatedRange(path: string, start: number, length: number, deflated: boolean): AsyncIterable<Buffer> {
  const raw = createReadStream(path, { start, end: start + length - 1, highWaterMark: READ_CHUNK });
  return deflated ? piped(raw, createInflateRaw({ chunkSize: INFLATE_CHUNK })) : raw;
}

async function readZipHead(zip: ZipFile, zipEntry: ZipEntry, length: number): Promise<Buffer> {
  const stream = await zip.openReadStreamPromise(zipEntry);
  const { head } = await peek(stream, length);
  stream.destroy(); // only the head is needed; yauzl stops reading and inflating
  return head.subarray(0, length);
}
