/**
 * Installing the binary: a temp file beside the destination, chmod 0755, rename. Until the rename the
 * destination keeps the previous binary; a failure removes the temp file.
 *
 * No fsync: the rename already keeps a crashed or failed process from leaving a half-written binary, and
 * nothing outlives a power cut here. A build that loses its machine is rerun from scratch, the slug is
 * packed from the page cache, and a dyno's file system is discarded at every restart. Syncing the binary
 * and the archive (fetch/file.ts) made the compile wait for the disk: a tenth of the fetch of a 200 MB
 * binary on the bench machine's SSD (bench/fetch.ts), more on slower disks, for no protection.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { isSystemError } from "./safety.js";
import { ExecpackError } from "../common/errors.js";

interface Installed {
  size: number;
  sha256: string;
}

export async function install(destination: string, chunks: AsyncIterable<Uint8Array>): Promise<Installed> {
  const temp = await TempFile.create(destination);
  try {
    for await (const chunk of chunks) await temp.write(chunk);
    return await temp.commit();
  } catch (error) {
    await temp.discard();
    throw error;
  }
}

export class TempFile {
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
