/**
 * From a downloaded release to the release on disk: recognise the format by its magic bytes, stream the
 * archive once, write every entry the dyno can use into a staging directory of execpack's own, and pick the
 * Linux binary for the dyno's architecture. A failure at any point removes the staging directory; the
 * installed release is only ever replaced by the caller's rename (install/install.ts).
 *
 * This is the entry point; the work is done by zip.ts and tar.ts (with decompress.ts), which read the
 * entries, release-tree.ts, which writes them (links last, none pointing outside), release.ts and
 * choose-binary.ts, which pick the binary, and safety.ts, which refuses escaping paths and bombs.
 */
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { basename } from "node:path";
import { constants as zlibConstants, gunzipSync } from "node:zlib";
import { bounded } from "./safety.js";
import { formatBytes } from "../common/output.js";
import type { ArchiveEntry, ArchiveFormat, ExtractOptions, ExtractResult, Job } from "./types.js";
import { READ_CHUNK, peek } from "./byte-stream.js";
import { noLinuxBinary } from "./choose-binary.js";
import { ELF_HEADER_BYTES, describeFile, dynoArchitecture } from "./elf.js";
import { ExecpackError } from "../common/errors.js";
import { ReleaseTree } from "./release-tree.js";
import { maskUrl } from "../common/secrets.js";
import { extractFromStream, installSingleFile, isTarHeader } from "./tar.js";
import { extractFromZip } from "./zip.js";

export type { ArchiveEntry, ArchiveFormat, ExtractOptions, ExtractResult } from "./types.js";
export { chooseBinary } from "./choose-binary.js";
export type { Choice } from "./choose-binary.js";

/** How much of the download detectFormat is given. */
export const SNIFF_BYTES = 64 * 1024;
const DEFAULT_MAX_TOTAL_BYTES = 2 * 1024 ** 3;
const DEFAULT_MAX_ENTRIES = 10_000;

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

// ---------------------------------------------------------------------------------------------------------
// Extraction

/**
 * Writes the release under `options.staging` (created here, removed again on any failure) and chooses its
 * binary. The caller moves `result.root` into place.
 */
export async function extractRelease(options: ExtractOptions): Promise<ExtractResult> {
  const job = createJob(options);
  try {
    const head = await readFileHead(job.archivePath, SNIFF_BYTES);
    const format = detectFormat(head);
    if (format === undefined) throw notAnArchive(job, head, options.contentType, (await stat(job.archivePath)).size);
    if (format === "zip") return await extractFromZip(job);
    return await extractInOnePass(job, format, head, createReadStream(job.archivePath, { highWaterMark: READ_CHUNK }));
  } catch (error) {
    await job.tree.discard();
    throw error;
  }
}

/**
 * The same, from the download's bytes as they arrive (`body`, from its first byte), so the release is written
 * while it downloads: for everything read in one pass (tar, tar.gz, tar.xz, a bare or compressed binary).
 * A zip is not: its central directory, which lists its entries, is at its end, so it is read from the
 * downloaded file (extractRelease); so is a download that is no archive, which extractRelease describes.
 * For those this reads only the first bytes, then resolves undefined and writes nothing.
 */
export async function extractReleaseFromStream(options: ExtractOptions, body: AsyncIterable<Buffer>): Promise<ExtractResult | undefined> {
  const job = createJob(options);
  const { head, all, release } = await peek(body, SNIFF_BYTES);
  try {
    const format = detectFormat(head);
    if (format === undefined || format === "zip") {
      await release();
      return undefined;
    }
    return await extractInOnePass(job, format, head, all);
  } catch (error) {
    await job.tree.discard();
    throw error;
  }
}

function createJob(options: ExtractOptions): Job {
  return {
    archivePath: options.archivePath,
    tree: new ReleaseTree(options.staging),
    releaseName: options.releaseName,
    binaryName: options.binaryName?.trim() || undefined,
    architecture: options.architecture ?? dynoArchitecture(),
    maxTotalBytes: options.limits?.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES,
    maxEntries: options.limits?.maxEntries ?? DEFAULT_MAX_ENTRIES,
  };
}

/** Every format but zip: the download read once, from its first byte (`head` is its beginning). */
function extractInOnePass(job: Job, format: Exclude<ArchiveFormat, "zip">, head: Buffer, compressed: AsyncIterable<Buffer>): Promise<ExtractResult> {
  if (format === "elf") return installSingleFile(job, head, bounded(job, compressed), "elf", "");
  return extractFromStream(job, format, compressed);
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

// ---------------------------------------------------------------------------------------------------------
// A download that is no archive at all: say what came instead

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

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, index) => bytes[index] === byte);
}
