/**
 * zip: the central directory lists every entry, so each is classified from its first bytes, the binary is
 * chosen, and only that entry is read in full, inflated here and checked against its CRC-32.
 */
import { createReadStream } from "node:fs";
import { crc32, createInflateRaw } from "node:zlib";
import yauzl from "yauzl";
import type { Entry as ZipEntry, ZipFile } from "yauzl";
import { asArchiveError, bounded, formatBytes, normalizeEntryPath, refuseUnsafePath, tooLarge, tooManyEntries } from "./safety.js";
import type { ArchiveEntry, ExtractResult, Job } from "./types.js";
import { INFLATE_CHUNK, READ_CHUNK, peek, piped } from "./byte-stream.js";
import { chooseBinary, lastByPath } from "./choose-binary.js";
import { ELF_HEADER_BYTES, describeFile, isRunnableOn, readElfHeader } from "./elf.js";
import { install } from "./install-file.js";

interface ZipScanned {
  entry: ArchiveEntry;
  zipEntry: ZipEntry;
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
