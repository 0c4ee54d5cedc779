/**
 * What execpack refuses in any archive, whatever its format: entries whose path escapes their directory
 * (zip-slip), archives that expand past the limits (decompression bombs), and archives too damaged to read.
 * Links and devices are refused where a binary is chosen (choose-binary.ts): listing them is harmless.
 */
import type { Job } from "./types.js";
import { ExecpackError } from "../common/errors.js";
import { escapeControl, formatBytes } from "../common/output.js";

/** Absolute paths and ".." segments: a zip-slip attempt or a broken packer, refused wherever they appear. */
export function refuseUnsafePath(path: string): void {
  let reason: string;
  if (path.startsWith("/") || /^[a-z]:/i.test(path)) reason = "an absolute path";
  else if (path.split("/").includes("..")) reason = 'a ".." segment';
  else return;
  const summary = `The archive holds an entry with ${reason}, which could escape its directory`;
  throw new ExecpackError("archive.unsafe-entry", summary, {
    seen: [`entry: "${escapeControl(path)}"`],
    hint:
      "execpack refuses archives whose entries point outside their directory (a zip-slip attack or a broken " +
      "release tool). Use the archive the project publishes for Linux, or report it to the project.",
  });
}

export function normalizeEntryPath(path: string): string {
  return path
    .split("/")
    .filter((segment) => segment !== "" && segment !== ".")
    .join("/");
}

/** Counts uncompressed bytes as they stream: headers can lie, the stream cannot. */
export async function* bounded(job: Job, source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > job.maxTotalBytes) throw tooLarge(job, `more than ${formatBytes(job.maxTotalBytes)} uncompressed`);
    yield chunk;
  }
}

export function tooLarge(job: Job, what: string): ExecpackError {
  return new ExecpackError("archive.too-large", `The archive is larger than execpack accepts: ${what}`, {
    seen: [`limit: ${formatBytes(job.maxTotalBytes)} uncompressed, ${job.maxEntries} entries`],
    hint:
      "An archive that expands this much is not a single-binary release (or is a decompression bomb). " +
      "Point BINARY_URL at the project's Linux release asset.",
  });
}

export function tooManyEntries(job: Job): ExecpackError {
  return tooLarge(job, `more than ${job.maxEntries} entries`);
}

interface SystemError extends Error {
  code: string;
  syscall: string;
}

export function isSystemError(error: unknown): error is SystemError {
  return error instanceof Error && typeof (error as Partial<SystemError>).syscall === "string";
}

/**
 * Library errors enter here: yauzl's and node-tar's plain Errors and zlib's Z_* codes mean the archive is
 * damaged. Our own errors pass through; a system error (reading the download failed) is not the archive's
 * fault and reaches the internal-error handler unchanged.
 */
export function asArchiveError(error: unknown, format: string): unknown {
  if (error instanceof ExecpackError || isSystemError(error) || !(error instanceof Error)) return error;
  return new ExecpackError("archive.corrupt", `The ${format} archive is damaged and cannot be read`, {
    seen: [`reason: "${escapeControl(error.message)}"`],
    hint:
      "The download is probably truncated or not the release asset. " +
      "Check BINARY_URL (and BINARY_SHA256 if set) and build again.",
    cause: error,
  });
}
