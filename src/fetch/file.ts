/**
 * Writing a download to disk: streamed into a temp file beside the destination, hashed on the way, and
 * renamed over the destination only once accepted. A failure leaves the previous file as it was.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Transform } from "node:stream";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { errorCode } from "./failures.js";
import { BodyReaderFailure, Tee } from "./tee.js";
import type { BodyReader } from "./tee.js";
import { quote } from "./url-policy.js";
import { diskFailure } from "../common/disk.js";
import { ExecpackError } from "../common/errors.js";

/**
 * Streams `source` into a temp file beside `destination` (same file system, so the rename is atomic),
 * hashing on the way; `accept` sees the digest before the rename and throws to abandon the file. `needed`
 * (the expected size, when known) goes into the message of a disk error. `reader`, when given, reads the same
 * chunks as they pass (tee.ts) and must have finished before the file is renamed into place.
 */
export async function writeAtomically(
  destination: string, source: Readable, signal: AbortSignal | undefined,
  onChunk: (chunk: Buffer) => void, accept: (sha256: string, size: number) => void, needed?: number, reader?: BodyReader,
): Promise<{ size: number; sha256: string }> {
  const temp = join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString("hex")}.partial`);
  const hash = createHash("sha256");
  const tee = reader ? new Tee(reader) : undefined;
  let size = 0;
  try {
    // A Transform, not an async generator: iterating a stream joins whatever it has buffered into a new
    // Buffer, a copy of most of the download that added some 25 MiB to the peak RSS (bench/fetch.ts).
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        try {
          hash.update(chunk);
          size += chunk.length;
          onChunk(chunk);
          if (!tee) return callback(null, chunk);
          tee.push(chunk).then(() => callback(null, chunk), (error: unknown) => callback(error as Error));
        } catch (error) {
          callback(error as Error);
        }
      },
    });
    // No fsync: the rename is what keeps a half-written file out of sight (see install-file.ts).
    await pipeline(source, tap, createWriteStream(temp, { flags: "wx" }), { signal });
    const sha256 = hash.digest("hex");
    accept(sha256, size);
    await tee?.finish();
    await rename(temp, destination);
    return { size, sha256 };
  } catch (error) {
    await tee?.abandon(error);
    await rm(temp, { force: true });
    if (error instanceof BodyReaderFailure) throw error; // the reader's own error, for the caller to unwrap
    // A write's ENOSPC carries no path, so disk errors are told by their code, wherever they came from.
    const disk = diskFailure(error, { directory: dirname(destination), what: "the download", needed });
    if (disk) throw disk;
    const path = (error as { path?: unknown }).path;
    if (path !== temp && path !== destination) throw error;
    throw new ExecpackError("download.write-failed", `Could not write ${quote(destination)}`, {
      seen: [`error: ${errorCode(error) ?? ""} ${(error as Error).message}`.trim()],
      hint: "Check free disk space (a slug may be at most 500 MB) and that the directory is writable.", cause: error,
    });
  }
}
