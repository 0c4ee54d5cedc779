/**
 * A second reader of a download's bytes while they stream to disk: the install step extracts a tar.gz as it
 * arrives, so the release is on disk when its last byte is (install/install.ts). The reader gets the very
 * chunks that are hashed and written, no copies, and the download waits for it: a slow extraction slows the
 * download down instead of buffering the archive in memory, as `curl | tar xz` does.
 *
 * The reader only ever sees a body's end once the download is complete and accepted (its size, BINARY_SHA256):
 * a body that fails on the way (a reset, a stall, a mismatch) ends the reader with that failure instead, and
 * the download waits until the reader has given up (and removed what it wrote) before it retries or fails.
 */
import { once } from "node:events";
import { PassThrough } from "node:stream";

/**
 * Reads a download's body as it arrives, once per attempt. It may stop early and resolve (it does not want the
 * rest, as for a zip, which is extracted from the file afterwards); a rejection fails the download with it.
 */
export type BodyReader = (body: AsyncIterable<Buffer>) => Promise<unknown>;

/** The reader failed: its own error, which is never a download failure to convert or retry. */
export class BodyReaderFailure extends Error {
  readonly failure: unknown;
  constructor(failure: unknown) {
    super("the body's reader failed");
    this.failure = failure;
  }
}

/**
 * Chunks queued for the reader before the download waits. An object-mode stream, so the reader gets each chunk
 * as it came (a byte stream's iterator would join what is queued into a new Buffer: a copy).
 */
const QUEUED_CHUNKS = 4;

export class Tee {
  readonly #feed = new PassThrough({ objectMode: true, highWaterMark: QUEUED_CHUNKS });
  readonly #reading: Promise<unknown>;
  #settled = false;
  #failed = false;
  #failure: unknown;

  constructor(reader: BodyReader) {
    // A destroyed feed's error reaches the reader through its iteration; unheard here, it would be thrown.
    this.#feed.on("error", () => {});
    // Started at once, so an error the reader throws synchronously settles it like any other.
    this.#reading = Promise.resolve()
      .then(() => reader(this.#feed))
      .then(
        () => {
          this.#settled = true;
          this.#feed.destroy(); // it wants no more: what is queued is dropped, later chunks are not queued
        },
        (error: unknown) => {
          this.#settled = true;
          this.#failed = true;
          this.#failure = error;
          this.#feed.destroy();
        },
      );
  }

  /** Hands one chunk over; resolves when there is room for the next, throws when the reader failed. */
  async push(chunk: Buffer): Promise<void> {
    this.#throwIfFailed();
    if (this.#settled) return;
    if (this.#feed.write(chunk)) return;
    await Promise.race([once(this.#feed, "drain").catch(() => undefined), this.#reading]);
    this.#throwIfFailed();
  }

  /** The body is complete and accepted: ends it for the reader and waits for the reader to finish. */
  async finish(): Promise<void> {
    if (!this.#settled) this.#feed.end();
    await this.#reading;
    this.#throwIfFailed();
  }

  /** The body failed: the reader sees `reason` instead of an end; resolves once the reader has settled. */
  async abandon(reason: unknown): Promise<void> {
    if (!this.#settled) this.#feed.destroy(reason instanceof Error ? reason : new Error(String(reason)));
    await this.#reading;
  }

  #throwIfFailed(): void {
    if (this.#failed) throw new BodyReaderFailure(this.#failure);
  }
}
